package sender

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/sender/sendertest"
)

// claimLog is a MemoryStore that records the Limit and the result size of every Claim that
// returned something.
type claimLog struct {
	*MemoryStore

	mu     sync.Mutex
	limits []int
	sizes  []int
}

func (c *claimLog) Claim(ctx context.Context, req ClaimRequest) ([]Claimed, error) {
	got, err := c.MemoryStore.Claim(ctx, req)
	if len(got) > 0 {
		c.mu.Lock()
		c.limits = append(c.limits, req.Limit)
		c.sizes = append(c.sizes, len(got))
		c.mu.Unlock()
	}
	return got, err
}

func (c *claimLog) claims() (limits, sizes []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.limits...), append([]int(nil), c.sizes...)
}

// newBatching returns a Sender with workers and batch on a claimLog and a fake clock, with an
// endpoint answering with steps, a function that starts Run, and one that shuts the Sender
// down with a deadline of wait.
func newBatching(t *testing.T, workers, batch int, steps ...sendertest.Step) (s *Sender, store *claimLog, run func(), shutdown func(wait time.Duration) error) {
	t.Helper()
	store = &claimLog{MemoryStore: NewMemoryStore(MemoryStoreConfig{})}
	fake := clock.NewFake(t0)
	s, err := New(Config{
		Store: store, Policy: testSchedule, AllowPrivateNetworks: true, Workers: workers, BatchSize: batch,
		Logger: slog.New(slog.DiscardHandler), clock: fake,
	})
	require.NoError(t, err)
	srv := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}, Now: fake.Now}, steps...)
	_, err = s.CreateEndpoint(t.Context(), Endpoint{
		ID: "ep_1", URL: srv.URL + "/hook", Keys: []EndpointKey{{Secret: testSecret}}, MaxConcurrency: 1000, Timeout: time.Minute,
	})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	var started, once sync.Once
	run = func() { started.Do(func() { go func() { runErr <- s.Run(context.Background()) }() }) }
	shutdown = func(wait time.Duration) error {
		run()
		var err error
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err = s.Shutdown(ctx)
			require.NoError(t, <-runErr)
		})
		return err
	}
	t.Cleanup(func() { _ = shutdown(5 * time.Second) })
	return s, store, run, shutdown
}

func TestABacklogIsClaimedInWholeBatches(t *testing.T) {
	t.Parallel()
	const (
		workers = 4
		batch   = 8
		events  = 203
	)
	s, store, run, _ := newBatching(t, workers, batch)
	ids := make([]DeliveryID, 0, events)
	for i := range events {
		ids = append(ids, publishOne(t, &testBundle{s: s}, newEvent(t, "invoice.paid", i)))
	}
	run()
	for _, id := range ids {
		require.Eventually(t, func() bool {
			d, err := store.GetDelivery(t.Context(), id)
			require.NoError(t, err)
			return d.State == StateDelivered
		}, 10*time.Second, time.Millisecond)
	}

	limits, sizes := store.claims()
	full := 0
	total := 0
	for i, n := range sizes {
		require.LessOrEqual(t, limits[i], batch, "claim %d asked for more than BatchSize", i)
		total += n
		if n == batch {
			full++
		}
	}
	require.Equal(t, events, total, "every delivery was claimed once")
	// Not one claim per finished attempt (at most Workers at a time): whole batches, and the
	// rest at the end.
	require.Equal(t, events/batch, full, "claim sizes %v", sizes)
	require.Len(t, sizes, events/batch+1, "claim sizes %v", sizes)
}

func TestShutdownReturnsTheLeasesOfBufferedDeliveries(t *testing.T) {
	t.Parallel()
	const (
		workers = 4
		batch   = 8
		events  = 40
	)
	s, store, run, shutdown := newBatching(t, workers, batch, sendertest.Step{Hang: true, Times: -1})
	for i := range events {
		publishOne(t, &testBundle{s: s}, newEvent(t, "invoice.paid", i))
	}
	run()
	// Every worker hangs in an attempt; the buffer holds the claimed rest.
	inFlight := func() int {
		ds, err := store.ListDeliveries(t.Context(), DeliveryFilter{State: StateInFlight, Limit: events})
		require.NoError(t, err)
		return len(ds)
	}
	require.Eventually(t, func() bool {
		_, sizes := store.claims()
		n := 0
		for _, x := range sizes {
			n += x
		}
		return n >= workers+batch && inFlight() == n
	}, 10*time.Second, time.Millisecond, "the buffer was never filled")
	_, sizes := store.claims()
	claimed := 0
	for _, x := range sizes {
		claimed += x
	}
	require.LessOrEqual(t, claimed, workers+batch+batch/2, "the buffer holds at most a batch and a half beyond the workers")

	// The hanging attempts are cut short; the buffered deliveries were never attempted.
	require.ErrorIs(t, shutdown(50*time.Millisecond), context.DeadlineExceeded)
	ds, err := store.ListDeliveries(t.Context(), DeliveryFilter{Limit: events})
	require.NoError(t, err)
	require.Len(t, ds, events)
	for _, d := range ds {
		require.Equal(t, StatePending, d.State, "delivery %d keeps no lease after Shutdown", d.ID)
		require.Zero(t, d.Attempts, "delivery %d: no attempt was used up", d.ID)
		require.Empty(t, d.LeaseOwner)
	}
}
