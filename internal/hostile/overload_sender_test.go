package hostile_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/signature"
)

// healthyServer records when each webhook-id arrives.
type healthyServer struct {
	*httptest.Server
	arrived chan arrival
}

type arrival struct {
	id string
	at time.Time
}

func newHealthyServer() *healthyServer {
	hs := &healthyServer{arrived: make(chan arrival, 1024)}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
		hs.arrived <- arrival{id: r.Header.Get(signature.HeaderID), at: time.Now()}
	}))
	return hs
}

// deadServer is an endpoint that hangs until the sender gives up (or stop is closed), or a
// closed port that refuses connections.
type deadServer struct {
	url      string
	requests atomic.Int64
	close    func()
}

func newDeadServer(t *testing.T, hangs bool) *deadServer {
	t.Helper()
	d := &deadServer{}
	if !hangs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		d.url = "http://" + ln.Addr().String() + "/dead"
		require.NoError(t, ln.Close()) // connection refused from now on
		d.close = func() {}
		return d
	}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.requests.Add(1)
		select {
		case <-r.Context().Done():
		case <-stop:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	d.url = srv.URL + "/dead"
	d.close = func() {
		close(stop)
		srv.Close()
	}
	return d
}

// measureHealthy sends n events one after the other, one per interval, to the healthy
// endpoint and returns the latencies from the call to Send to the arrival, sorted.
func measureHealthy(t *testing.T, s *sender.Sender, hs *healthyServer, prefix string, n int, interval time.Duration) []time.Duration {
	t.Helper()
	ctx := context.Background()
	lat := make([]time.Duration, 0, n)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		ev, err := event.New("invoice.paid", map[string]int{"n": i})
		require.NoError(t, err)
		ev.ID = fmt.Sprintf("evt_%s_%04d", prefix, i)
		start := time.Now()
		_, err = s.Send(ctx, "ep_healthy", ev)
		require.NoError(t, err)
		select {
		case a := <-hs.arrived:
			require.Equal(t, ev.ID, a.id)
			lat = append(lat, a.at.Sub(start))
		case <-time.After(30 * time.Second):
			t.Fatalf("healthy delivery %s did not arrive", ev.ID)
		}
	}
	slices.Sort(lat)
	return lat
}

func pct(lat []time.Duration, p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }

// TestSenderBacklogOnDeadEndpoint holds 100,000 pending deliveries to a dead endpoint (one
// that hangs until its 2 s timeout, or one that refuses connections) in a memory store, and
// measures in the same test the latency of a healthy endpoint's deliveries (one every 30 ms
// for 6 s) without and then with that backlog. The backlog costs a bounded number of bytes per
// pending delivery; the healthy endpoint's p50 and p99 stay within 3x of the baseline (plus
// 20 ms and 100 ms for scheduling noise on a shared machine); and the backlog is held back by
// the endpoint's gate about once, not claimed and rescheduled over and over (bug 3 of
// /work/plan/rel-bugs.md: before the fix, re-claim waves raised the p99 2-17x; figures in
// RELIABILITY.md).
//
// Not parallel: it measures the heap and latencies.
//
//	go test -race -run TestSenderBacklogOnDeadEndpoint -v ./internal/hostile/
func TestSenderBacklogOnDeadEndpoint(t *testing.T) {
	const (
		backlog = 100_000
		// 200 samples 30 ms apart span 6 s: more than the longest wait (5 s plus up to 50 %
		// jitter) before deliveries held back by the hanging endpoint's full concurrency cap
		// are claimed again, so the "with" phase sees the backlog churn through the dispatcher.
		samples  = 200
		interval = 30 * time.Millisecond
	)
	for _, tt := range []struct {
		name  string
		hangs bool
	}{
		{name: "an endpoint that hangs until its timeout", hangs: true},
		{name: "an endpoint that refuses connections", hangs: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			hs := newHealthyServer()
			dead := newDeadServer(t, tt.hangs)
			secret, err := signature.GenerateSecret()
			require.NoError(t, err)
			store := sender.NewMemoryStore(sender.MemoryStoreConfig{})
			var deadAttempts atomic.Int64
			logs := &countingHandler{n: map[string]int{}}
			s, err := sender.New(sender.Config{
				Store:           store,
				AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				Logger:          slog.New(logs),
				Observer:        &backlogObserver{deadAttempts: &deadAttempts},
			})
			require.NoError(t, err)
			ctx := context.Background()
			keys := []sender.EndpointKey{{Secret: secret}}
			_, err = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_healthy", URL: hs.URL + "/ok", Keys: keys, EventTypes: []string{"invoice.*"}})
			require.NoError(t, err)
			_, err = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_dead", URL: dead.url, Keys: keys, EventTypes: []string{"user.*"}, Timeout: 2 * time.Second})
			require.NoError(t, err)
			runDone := make(chan error, 1)
			go func() { runDone <- s.Run(ctx) }()

			measureHealthy(t, s, hs, "warm", 20, time.Millisecond)
			without := measureHealthy(t, s, hs, "base", samples, interval)

			heapBefore := heapInuse()
			payload := []byte(`{"user_id":"usr_0000000000","plan":"pro","seats":10}`)
			start := time.Now()
			for i := range backlog {
				ev := event.Event{ID: fmt.Sprintf("evt_dead_%06d", i), Type: "user.updated", Timestamp: start, Data: payload}
				_, err := s.Publish(ctx, ev)
				if err != nil {
					require.NoError(t, err)
				}
			}
			publishTime := time.Since(start)
			heapAfter := heapInuse()
			perDelivery := (int64(heapAfter) - int64(heapBefore)) / backlog

			with := measureHealthy(t, s, hs, "backlog", samples, interval)

			pending, err := store.ListDeliveries(ctx, sender.DeliveryFilter{EndpointID: "ep_dead", State: sender.StateDelivered, Limit: 1})
			require.NoError(t, err)
			require.Empty(t, pending, "nothing reached the dead endpoint")

			dead.close()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, s.Shutdown(sctx))
			require.NoError(t, <-runDone)
			hs.Close()

			t.Logf("sender backlog (%s): %d pending deliveries published in %v; HeapInuse %.1f MiB -> %.1f MiB: %d B per pending delivery (each with its own %d-byte event); dead endpoint attempts %d, gate hold-backs %d",
				tt.name, backlog, publishTime.Round(time.Millisecond), float64(heapBefore)/mib, float64(heapAfter)/mib, perDelivery, len(payload), deadAttempts.Load(), logs.count(heldBack))
			t.Logf("gate hold-backs by reason: concurrency limit %d, circuit open %d",
				logs.count(heldBack+": "+sender.ErrConcurrencyLimit.Error()), logs.count(heldBack+": "+sender.ErrCircuitOpen.Error()))
			t.Logf("healthy endpoint latency over %d deliveries: without backlog p50 %v p99 %v max %v; with backlog p50 %v p99 %v max %v (ratio p50 %.2f, p99 %.2f)",
				samples, pct(without, .5), pct(without, .99), without[len(without)-1], pct(with, .5), pct(with, .99), with[len(with)-1],
				float64(pct(with, .5))/float64(pct(without, .5)), float64(pct(with, .99))/float64(pct(without, .99)))

			require.Less(t, perDelivery, int64(2048), "bytes per pending delivery")
			// Bug 3's regression bound: the backlog is held back about once, not cycled through the
			// store over and over (before the fix: 190k–418k hold-backs).
			require.LessOrEqual(t, logs.count(heldBack), 3*backlog, "gate hold-backs of the dead endpoint's backlog")
			// Generous bounds: 3x, plus a floor for scheduling noise on a shared 2-core CI machine
			// (the p99 of 200 samples is the second-worst one). Head-of-line blocking behind the
			// backlog would cost seconds.
			require.LessOrEqual(t, pct(with, .5), 3*pct(without, .5)+20*time.Millisecond, "healthy p50 with the backlog")
			require.LessOrEqual(t, pct(with, .99), 3*pct(without, .99)+100*time.Millisecond, "healthy p99 with the backlog")
			goleak.VerifyNone(t, ignore)
		})
	}
}

const heldBack = "sender: delivery held back by the endpoint's gate"

// backlogObserver counts attempts to the dead endpoint.
type backlogObserver struct {
	sender.NopObserver
	deadAttempts *atomic.Int64
}

func (o *backlogObserver) AttemptFinished(_ context.Context, r sender.AttemptReport) {
	if r.EndpointID == "ep_dead" {
		o.deadAttempts.Add(1)
	}
}

// countingHandler is a slog.Handler that counts records by message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			h.n[r.Message+": "+a.Value.String()]++
		}
		return true
	})
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// TestSaturatedEndpointBacklogIsNotChurned: an endpoint that is slow but healthy (200 ms per
// answer, concurrency cap 10, so 50 deliveries/s) with 5,000 pending deliveries. Deliveries the
// full cap turns away should wait until a slot can free, not be claimed and rescheduled again
// and again: over 2 s it expects at most two hold-backs per pending delivery. Regression test
// for bug 3 of /work/plan/rel-bugs.md: before the per-endpoint pacing, a refused delivery came
// back after about 100 ms and the backlog cycled through Claim and Settle 12–13 times in 2 s
// (~33,500 claims and reschedules per second); after it, 1.3 times.
//
//	go test -race -run TestSaturatedEndpointBacklogIsNotChurned -v ./internal/hostile/
func TestSaturatedEndpointBacklogIsNotChurned(t *testing.T) {
	t.Parallel()
	const (
		backlog = 5000
		window  = 2 * time.Second
	)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(200 * time.Millisecond): // a slow endpoint
		case <-r.Context().Done():
		}
		served.Add(1)
	}))
	defer srv.Close()
	logs := &countingHandler{n: map[string]int{}}
	s, err := sender.New(sender.Config{Logger: slog.New(logs), AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_slow", URL: srv.URL, Keys: []sender.EndpointKey{{Secret: mustSecret(t)}}})
	require.NoError(t, err)
	now := time.Now()
	for i := range backlog {
		_, err := s.Publish(ctx, event.Event{ID: fmt.Sprintf("evt_slow_%05d", i), Type: "user.updated", Timestamp: now, Data: []byte(`{}`)})
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-time.After(window) // the measurement window
	held, delivered := logs.count(heldBack), served.Load()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(sctx))
	require.NoError(t, <-done)
	t.Logf("slow saturated endpoint, %d pending: in %v, %d delivered, %d gate hold-backs (%.1f per pending delivery, %.0f claims+reschedules/s)",
		backlog, window, delivered, held, float64(held)/backlog, float64(held)/window.Seconds())
	require.LessOrEqual(t, held, 2*backlog, "gate hold-backs: the backlog is not re-claimed over and over")
}
