package pgstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
)

// recorder is a loopback webhook endpoint recording every request: webhook-id,
// which sender instance sent it, and when it started and ended.
type recorder struct {
	mu       sync.Mutex
	reqs     []recorded
	ids      map[string]int
	slowFrom string // requests from this instance are slowed down
	srv      *httptest.Server
	allSeen  chan struct{}
	want     int
	seenOnce sync.Once
}

type recorded struct {
	id, instance string
	start, end   time.Time
}

func newRecorder(t *testing.T, want int, slowFrom string) *recorder {
	r := &recorder{ids: map[string]int{}, slowFrom: slowFrom, allSeen: make(chan struct{}), want: want}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		_, _ = io.Copy(io.Discard, req.Body)
		inst := req.Header.Get("X-Test-Instance")
		if r.slowFrom != "" && inst == r.slowFrom {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-req.Context().Done():
			}
		}
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{id: id, instance: inst, start: start, end: time.Now()})
		r.ids[id]++
		n := len(r.ids)
		r.mu.Unlock()
		if n >= r.want {
			r.seenOnce.Do(func() { close(r.allSeen) })
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) snapshotIDs() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.ids)
}

// instanceTransport tags requests with the sending instance.
type instanceTransport struct {
	name string
	base *http.Transport
}

func (it instanceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Test-Instance", it.name)
	return it.base.RoundTrip(req)
}

// crashStore simulates a process that dies mid-batch: from its first Settle on,
// nothing it does reaches the database any more.
type crashStore struct {
	*pgstore.Store
	crashed atomic.Bool
	onCrash func()

	mu      sync.Mutex
	claimed map[sender.DeliveryID]time.Time // lease expiry
}

var errCrashed = errors.New("test: instance crashed")

func (c *crashStore) Claim(ctx context.Context, req sender.ClaimRequest) ([]sender.Claimed, error) {
	if c.crashed.Load() {
		return nil, errCrashed
	}
	cs, err := c.Store.Claim(ctx, req)
	c.mu.Lock()
	for _, cl := range cs {
		c.claimed[cl.Delivery.ID] = cl.Delivery.LeaseExpiresAt
	}
	c.mu.Unlock()
	return cs, err
}

func (c *crashStore) Settle(ctx context.Context, req sender.SettleRequest) error {
	if !c.crashed.Swap(true) {
		c.onCrash()
	}
	return errCrashed
}

func (c *crashStore) ExtendLeases(ctx context.Context, req sender.ExtendRequest) error {
	if c.crashed.Load() {
		return errCrashed
	}
	return c.Store.ExtendLeases(ctx, req)
}

func TestThreeInstancesDeliverEverythingOnceAtATime(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("multi-instance test delivers 10k events; run without -short")
	}
	const (
		events = 10_000
		lease  = 2 * time.Second
	)
	b := setup(t, setupOpts{maxConns: 8})
	ctx := t.Context()
	rec := newRecorder(t, events, "c")

	// The endpoint and the events, published in batches.
	adm, err := sender.New(sender.Config{Store: b.store, Logger: discard, AllowPrivateNetworks: true})
	require.NoError(t, err)
	_, err = adm.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_rec", URL: rec.srv.URL + "/hook", MaxConcurrency: 64})
	require.NoError(t, err)
	published := time.Now()
	for start := 0; start < events; start += 1000 {
		reqs := make([]sender.PublishRequest, 0, 1000)
		for i := start; i < start+1000 && i < events; i++ {
			ev, err := event.New("invoice.paid", map[string]int{"n": i})
			require.NoError(t, err)
			payload, err := ev.MarshalJSON()
			require.NoError(t, err)
			now := time.Now()
			reqs = append(reqs, sender.PublishRequest{
				Event:       sender.StoredEvent{ID: ev.ID, Type: ev.Type, Payload: payload, CreatedAt: now},
				EndpointIDs: []string{"ep_rec"}, Now: now,
			})
		}
		_, err := b.store.PublishBatch(ctx, reqs)
		require.NoError(t, err)
	}
	t.Logf("published %d events in %v", events, time.Since(published))

	// Three instances, each with its own pool and store, as separate processes would be.
	type instance struct {
		name   string
		sender *sender.Sender
		cancel context.CancelFunc
		done   chan error
	}
	var crash *crashStore
	instances := make([]*instance, 0, 3)
	for _, name := range []string{"a", "b", "c"} {
		pool := newPool(t, b.dsn, 8)
		t.Cleanup(pool.Close)
		st, err := pgstore.New(pgstore.Config{Pool: pool, Schema: b.schema, Logger: discard})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.MaxIdleConnsPerHost = 64
		t.Cleanup(base.CloseIdleConnections)
		runCtx, cancel := context.WithCancel(context.Background())
		inst := &instance{name: name, cancel: cancel, done: make(chan error, 1)}
		var store sender.Store = st
		if name == "c" {
			crash = &crashStore{Store: st, claimed: map[sender.DeliveryID]time.Time{}, onCrash: cancel}
			store = crash
		}
		inst.sender, err = sender.New(sender.Config{
			Store:                store,
			Logger:               discard,
			ID:                   "instance-" + name,
			Lease:                lease,
			Workers:              32,
			AllowPrivateNetworks: true,
			HTTPClient:           &http.Client{Transport: instanceTransport{name: name, base: base}},
		})
		require.NoError(t, err)
		instances = append(instances, inst)
		go func() { inst.done <- inst.sender.Run(runCtx) }()
	}
	started := time.Now()
	select {
	case <-rec.allSeen:
	case <-time.After(60 * time.Second):
		t.Fatalf("not every event reached the endpoint within 60 s")
	}
	// Wait until every delivery is settled, then stop the survivors.
	deliveries := b.schema
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM "`+deliveries+`".deliveries WHERE state = 3`).Scan(&n))
		return n == events
	}, 30*time.Second, 20*time.Millisecond, "every delivery ends Delivered")
	elapsed := time.Since(started)
	for _, inst := range instances {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, inst.sender.Shutdown(sctx))
		cancel()
		inst.cancel()
		<-inst.done
	}
	t.Logf("3 instances delivered %d events in %v (%.0f/s)", events, elapsed, float64(events)/elapsed.Seconds())

	// The crashed instance held work that the others picked up after its lease expired.
	require.True(t, crash.crashed.Load(), "instance c crashed")
	crash.mu.Lock()
	orphaned := crash.claimed
	crash.mu.Unlock()
	require.NotEmpty(t, orphaned, "instance c claimed deliveries before crashing")

	// The attempt log: exactly one attempt per delivery (nothing attempted twice by the
	// survivors), and the crashed instance's deliveries attempted only after its lease ended.
	rows, err := b.pool.Query(ctx, `SELECT delivery_id, count(*), min(started_at) FROM "`+deliveries+`".attempts GROUP BY delivery_id`)
	require.NoError(t, err)
	attempts := 0
	for rows.Next() {
		var id int64
		var n int
		var first time.Time
		require.NoError(t, rows.Scan(&id, &n, &first))
		require.Equal(t, 1, n, "delivery %d attempted once", id)
		if exp, ok := orphaned[sender.DeliveryID(id)]; ok {
			require.False(t, first.Before(exp), "delivery %d of the crashed instance re-attempted only after its lease expired", id)
		}
		attempts++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, events, attempts, "every delivery has its attempt in the log")

	// The endpoint's record: every event arrived, and the requests for one webhook-id never
	// overlap in time (no two instances held it at once).
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.ids, events)
	byID := map[string][]recorded{}
	for _, r := range rec.reqs {
		byID[r.id] = append(byID[r.id], r)
	}
	dups, fromC := 0, 0
	for id, rs := range byID {
		sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
		for i := 1; i < len(rs); i++ {
			require.False(t, rs[i].start.Before(rs[i-1].end), "requests for %s overlap: %+v", id, rs)
			dups++
			require.Equal(t, "c", rs[i-1].instance, "only the crashed instance's unsettled requests are repeated")
		}
		for _, r := range rs {
			if r.instance == "c" {
				fromC++
			}
		}
	}
	t.Logf("crashed instance: %d deliveries claimed, %d requests sent before dying; %d webhook-ids repeated by the survivors",
		len(orphaned), fromC, dups)
	require.Equal(t, events+fromC, len(rec.reqs), "requests = events + the crashed instance's unsettled ones")
}

// countingHandler counts log records at Warn and above.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func TestSenderSurvivesTerminatedBackends(t *testing.T) {
	t.Parallel()
	const events = 2000
	app := "hookkit_fault_" + strings.TrimPrefix(randomSchema(), "hookkit_test_")
	dsn := testDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	var warnings atomic.Int64
	logger := slog.New(countingHandler{n: &warnings})
	b := setupWithDSN(t, dsn+sep+"application_name="+app, setupOpts{maxConns: 6})
	st, err := pgstore.New(pgstore.Config{Pool: b.pool, Schema: b.schema, Logger: logger, PollInterval: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ctx := t.Context()
	rec := newRecorder(t, events, "")
	s, err := sender.New(sender.Config{Store: st, Logger: logger, Lease: time.Second, Workers: 8, AllowPrivateNetworks: true})
	require.NoError(t, err)
	_, err = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_rec", URL: rec.srv.URL + "/hook", MaxConcurrency: 16})
	require.NoError(t, err)
	for start := 0; start < events; start += 500 {
		reqs := make([]sender.PublishRequest, 0, 500)
		for i := start; i < start+500; i++ {
			ev, err := event.New("invoice.paid", map[string]int{"n": i})
			require.NoError(t, err)
			payload, err := ev.MarshalJSON()
			require.NoError(t, err)
			now := time.Now()
			reqs = append(reqs, sender.PublishRequest{Event: sender.StoredEvent{ID: ev.ID, Type: ev.Type, Payload: payload, CreatedAt: now}, EndpointIDs: []string{"ep_rec"}, Now: now})
		}
		_, err := st.PublishBatch(ctx, reqs)
		require.NoError(t, err)
	}

	killer := newPool(t, dsn, 1)
	t.Cleanup(killer.Close)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- s.Run(runCtx) }()
	// Terminate every backend of the sender's pool three times while it delivers.
	killed := 0
	for range 3 {
		deadline := time.Now().Add(10 * time.Second)
		before := len(rec.snapshotIDs())
		for len(rec.snapshotIDs()) < before+events/8 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		var n int
		require.NoError(t, killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n))
		killed += n
		t.Logf("%v: terminated %d backends with %d events delivered", time.Since(started).Round(time.Millisecond), n, len(rec.snapshotIDs()))
	}
	select {
	case <-rec.allSeen:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d events delivered after the faults", len(rec.snapshotIDs()), events)
	}
	t.Logf("%v: every event delivered", time.Since(started).Round(time.Millisecond))
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, killer.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{b.schema}.Sanitize()+`.deliveries WHERE state = 3`).Scan(&n))
		return n == events
	}, 30*time.Second, 20*time.Millisecond, "every delivery ends Delivered")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	require.NoError(t, s.Shutdown(sctx))
	cancel()
	<-done
	require.Positive(t, killed)
	require.Positive(t, warnings.Load(), "the failures were logged")
	t.Logf("terminated %d backends in 3 rounds; %d warnings/errors logged; %d requests for %d events",
		killed, warnings.Load(), len(rec.reqs), events)
}
