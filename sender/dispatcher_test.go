package sender

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender/sendertest"
)

func TestHeartbeatRenewsTheLeaseOfALongAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Lease = 3 * time.Second })
	srv, _ := b.endpoint(t, Endpoint{Timeout: time.Minute}, sendertest.Hang())

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	srv.WaitForRequests(t, 1)
	d := b.delivery(t, id, isState(StateInFlight))
	require.Equal(t, t0.Add(3*time.Second), d.LeaseExpiresAt)

	for i := 1; i <= 3; i++ {
		b.clock.Advance(time.Second)
		want := t0.Add(time.Duration(i)*time.Second + 3*time.Second)
		b.delivery(t, id, func(d Delivery) bool { return d.State == StateInFlight && d.LeaseExpiresAt.Equal(want) })
	}
	require.Equal(t, 1, srv.Count(), "the delivery was never claimed twice")
}

// panickyStore panics in the first Settle that records an attempt.
type panickyStore struct {
	*MemoryStore
	panicked atomic.Bool
}

func (p *panickyStore) Settle(ctx context.Context, req SettleRequest) error {
	for _, st := range req.Settlements {
		if st.Attempt != nil && p.panicked.CompareAndSwap(false, true) {
			panic("store bug")
		}
	}
	return p.MemoryStore.Settle(ctx, req)
}

func TestAPanicInAWorkerReturnsTheLease(t *testing.T) {
	t.Parallel()
	store := &panickyStore{MemoryStore: NewMemoryStore(MemoryStoreConfig{})}
	b := setup(t, func(c *Config) { c.Store = store })
	b.store = store.MemoryStore
	srv, _ := b.endpoint(t, Endpoint{})

	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, 1, d.Attempts, "the attempt lost to the panic is not counted")
	require.Equal(t, 2, srv.Count(), "the released delivery was attempted again")
	require.Contains(t, b.logs.String(), "panic in delivery worker")
}

// pollingStore hides the memory store's Notifier.
type pollingStore struct{ Store }

func TestAStoreWithoutNotifierIsPolled(t *testing.T) {
	t.Parallel()
	b := &testBundle{store: NewMemoryStore(MemoryStoreConfig{}), clock: nil, obs: &recorder{}, logs: &syncBuffer{}}
	s, err := New(Config{
		Store: pollingStore{b.store}, AllowPrivateNetworks: true, PollInterval: 10 * time.Millisecond,
		Policy: testSchedule, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	_, isNotifier := s.store.(Notifier)
	require.False(t, isNotifier)
	srv := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{testSecret}})
	_, err = s.CreateEndpoint(t.Context(), Endpoint{ID: "ep_1", URL: srv.URL, Keys: []EndpointKey{{Secret: testSecret}}})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	for i := range 3 {
		res, err := s.Publish(t.Context(), newEvent(t, "invoice.paid", i))
		require.NoError(t, err)
		b.delivery(t, res.Deliveries[0].ID, isState(StateDelivered))
	}
	srv.RequireVerified(t)

	cancel()
	require.ErrorIs(t, <-runErr, context.Canceled, "Run returns when its context ends")
}

func TestAllowedNetworksOpenOnlyTheListedRange(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.AllowPrivateNetworks = false
		c.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	srv, _ := b.endpoint(t, Endpoint{})
	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	b.delivery(t, id, isState(StateDelivered))
	require.Equal(t, 1, srv.Count())
}

func TestRunTwiceFails(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	require.Eventually(t, func() bool {
		b.s.mu.Lock()
		defer b.s.mu.Unlock()
		return b.s.started
	}, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, b.s.Run(t.Context()), ErrAlreadyRunning)
}

func TestACustomHTTPClientKeepsTheGuardWithConfigDialContext(t *testing.T) {
	t.Parallel()

	var cfg Config // private networks refused
	dial, err := cfg.DialContext()
	require.NoError(t, err)
	tr := &http.Transport{DialContext: dial}
	t.Cleanup(tr.CloseIdleConnections)
	target := sendertest.NewEndpoint(t, sendertest.Config{})
	b := setup(t, func(c *Config) {
		c.AllowPrivateNetworks = false
		c.HTTPClient = &http.Client{Transport: tr} // follows redirects by default: the sender turns that off
	})
	blocked, _ := b.endpoint(t, Endpoint{ID: "ep_blocked"})
	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, isState(StateDead))
	require.Contains(t, d.LastError, "SSRF guard")
	require.Zero(t, blocked.Count())
	require.Zero(t, target.Count())

	_, err = Config{AllowedHosts: []string{"bad host/"}}.DialContext()
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestACustomHTTPClientNeverFollowsRedirects(t *testing.T) {
	t.Parallel()

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	target := sendertest.NewEndpoint(t, sendertest.Config{})
	b := setup(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr} })
	srv, _ := b.endpoint(t, Endpoint{}, sendertest.Redirect(target.URL))
	id := publishOne(t, b, newEvent(t, "invoice.paid", 1))
	d := b.delivery(t, id, pendingAfter(1))
	require.Equal(t, http.StatusMovedPermanently, d.LastStatusCode)
	require.Equal(t, 1, srv.Count())
	require.Zero(t, target.Count())
}
