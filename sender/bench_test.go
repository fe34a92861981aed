package sender_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/signature"
)

// The benchmarks below are described, with figures, in /work/plan/bench-sender.md (and the
// repository's BENCHMARKS.md). They are short enough for CI but not run there.

const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// benchEvent returns an invoice.paid event whose JSON envelope is size bytes.
func benchEvent(tb testing.TB, size int) event.Event {
	tb.Helper()
	e, err := event.New("invoice.paid", map[string]string{"blob": ""})
	if err != nil {
		tb.Fatal(err)
	}
	// The timestamp's length varies by a few bytes; pad the data to the exact size.
	pad := size - e.Size()
	e.Data = []byte(`{"blob":"` + strings.Repeat("x", pad) + `"}`)
	if e.Size() != size {
		tb.Fatalf("event is %d bytes, want %d", e.Size(), size)
	}
	return e
}

// okServer answers 200 after reading the body.
func okServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
}

// countingObserver closes done after target deliveries.
type countingObserver struct {
	sender.NopObserver
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func (c *countingObserver) Delivered(context.Context, sender.AttemptReport) {
	if c.n.Add(1) == c.target {
		close(c.done)
	}
}

// BenchmarkThroughput compares deliveries/s through a Sender (memory store, 32 workers, one
// loopback endpoint with a concurrency cap of 32, 1 KiB events) with a bare http.Client loop of
// 32 goroutines sending the same signed POSTs to the same server, in the same run.
func BenchmarkThroughput(b *testing.B) {
	const workers = 32
	srv := okServer()
	defer srv.Close()
	e := benchEvent(b, 1024)

	// sender: the dispatcher drains a backlog of b.N published deliveries (publishing is not
	// timed): the delivery rate itself.
	b.Run("sender", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		report(b, b.N, runSender(b, srv.URL, e, workers, b.N, false))
	})
	// sender-publishing: the same, with the events published while the dispatcher runs (one
	// publisher goroutine, timed): publish (validation, encoding, store) plus delivery.
	b.Run("sender-publishing", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		report(b, b.N, runSender(b, srv.URL, e, workers, b.N, true))
	})
	b.Run("bare-client", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		report(b, b.N, runBare(b, srv.URL, e, workers, b.N))
	})
}

// BenchmarkThroughputInterleaved runs the sender (backlog) and the bare client loop in
// alternating rounds of 2,000 deliveries, b.N rounds each, so both see the same machine load,
// and reports both rates and their ratio. Use it on a shared, noisy machine:
// -benchtime=10x.
func BenchmarkThroughputInterleaved(b *testing.B) {
	const workers, round = 32, 2000
	srv := okServer()
	defer srv.Close()
	e := benchEvent(b, 1024)
	b.ReportAllocs()
	var tSender, tBare time.Duration
	b.ResetTimer()
	for range b.N {
		tSender += runSender(b, srv.URL, e, workers, round, false)
		tBare += runBare(b, srv.URL, e, workers, round)
	}
	b.StopTimer()
	n := float64(b.N * round)
	b.ReportMetric(n/tSender.Seconds(), "sender-deliveries/s")
	b.ReportMetric(n/tBare.Seconds(), "bare-deliveries/s")
	b.ReportMetric(tBare.Seconds()/tSender.Seconds(), "sender/bare")
}

func report(b *testing.B, n int, elapsed time.Duration) {
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
}

// runBare sends n signed POSTs with workers goroutines on a fresh client and returns the time
// taken.
func runBare(b *testing.B, url string, e event.Event, workers, n int) time.Duration {
	body, err := e.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(benchSecret)})
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64, MaxIdleConns: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "hookkit/"+sender.Version)
				if err := signer.SignHeader(req.Header, e.ID, time.Now(), body); err != nil {
					b.Error(err)
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// runSender delivers n events through a new Sender and returns the time from Run to the last
// delivery; publishing is timed only when publishTimed.
func runSender(b *testing.B, url string, e event.Event, workers, n int, publishTimed bool) time.Duration {
	obs := &countingObserver{target: int64(n), done: make(chan struct{})}
	s, err := sender.New(sender.Config{
		AllowPrivateNetworks: true, Workers: workers, Observer: obs, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_bench", URL: url, Keys: []sender.EndpointKey{{Secret: benchSecret}}, MaxConcurrency: workers}); err != nil {
		b.Fatal(err)
	}
	publish := func() {
		for i := range n {
			ev := e
			ev.ID = "evt_bench_" + strconv.Itoa(i)
			if _, err := s.Publish(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	}
	if !publishTimed {
		publish()
	}
	runDone := make(chan error, 1)
	start := time.Now()
	go func() { runDone <- s.Run(ctx) }()
	if publishTimed {
		publish()
	}
	<-obs.done
	elapsed := time.Since(start)
	if err := s.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// BenchmarkNoisyNeighbour measures the latency (publish to arrival) of deliveries to 100
// healthy endpoints, with and without one more endpoint that hangs until its timeout (2 s).
// Default Config otherwise. Each of the b.N rounds runs both variants, one after the other,
// each on a new Sender publishing 50 events, one every 20 ms, to every endpoint (5,000 healthy
// deliveries/s, below what a shared 2-core machine carries, so the comparison shows isolation
// rather than saturation); interleaving gives both variants the same machine load. It reports
// p50 and p99 of both and the ratio of the p99s. Run it with e.g. -benchtime=6x.
func BenchmarkNoisyNeighbour(b *testing.B) {
	const perRound = 50
	nn := newNoisyBench()
	defer nn.close()
	b.ReportAllocs()
	var healthy, noisy []time.Duration
	b.ResetTimer()
	for i := range b.N {
		healthy = append(healthy, nn.round(b, fmt.Sprintf("h%d", i), false, perRound)...)
		noisy = append(noisy, nn.round(b, fmt.Sprintf("n%d", i), true, perRound)...)
	}
	b.StopTimer()
	slices.Sort(healthy)
	slices.Sort(noisy)
	pct := func(lat []time.Duration, p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(healthy, 0.50), "p50-ms")
	b.ReportMetric(pct(healthy, 0.99), "p99-ms")
	b.ReportMetric(pct(noisy, 0.50), "noisy-p50-ms")
	b.ReportMetric(pct(noisy, 0.99), "noisy-p99-ms")
	b.ReportMetric(pct(noisy, 0.99)/pct(healthy, 0.99), "p99-ratio")
}

const noisyHealthy = 100

// noisyBench holds the servers of BenchmarkNoisyNeighbour: one for the healthy endpoints
// (recording latencies) and one that hangs.
type noisyBench struct {
	good, hanging *httptest.Server
	stop          chan struct{}

	mu        sync.Mutex
	published map[string]time.Time
	latencies []time.Duration
	want      int
	done      chan struct{}
}

func newNoisyBench() *noisyBench {
	nn := &noisyBench{stop: make(chan struct{}), published: map[string]time.Time{}}
	nn.good = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now()
		w.WriteHeader(http.StatusOK)
		nn.mu.Lock()
		defer nn.mu.Unlock()
		nn.latencies = append(nn.latencies, now.Sub(nn.published[r.Header.Get(signature.HeaderID)]))
		if len(nn.latencies) == nn.want {
			close(nn.done)
		}
	}))
	nn.hanging = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-nn.stop:
		}
	}))
	return nn
}

func (nn *noisyBench) close() {
	close(nn.stop)
	nn.hanging.Close()
	nn.good.Close()
}

// round publishes events through a new Sender and returns the healthy deliveries' latencies.
func (nn *noisyBench) round(b *testing.B, prefix string, withBad bool, events int) []time.Duration {
	nn.mu.Lock()
	nn.latencies = nn.latencies[:0]
	nn.want = events * noisyHealthy
	nn.done = make(chan struct{})
	done := nn.done
	nn.mu.Unlock()

	s, err := sender.New(sender.Config{AllowPrivateNetworks: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	keys := []sender.EndpointKey{{Secret: benchSecret}}
	for i := range noisyHealthy {
		if _, err := s.CreateEndpoint(ctx, sender.Endpoint{ID: fmt.Sprintf("ep_%03d", i), URL: fmt.Sprintf("%s/%d", nn.good.URL, i), Keys: keys}); err != nil {
			b.Fatal(err)
		}
	}
	if withBad {
		if _, err := s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_bad", URL: nn.hanging.URL, Keys: keys, Timeout: 2 * time.Second}); err != nil {
			b.Fatal(err)
		}
	}
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	e := benchEvent(b, 1024)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range events {
		ev := e
		ev.ID = "evt_nn_" + prefix + "_" + strconv.Itoa(i)
		nn.mu.Lock()
		nn.published[ev.ID] = time.Now()
		nn.mu.Unlock()
		if _, err := s.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		<-tick.C
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("deliveries to healthy endpoints did not finish within a minute")
	}
	shutdownCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = s.Shutdown(shutdownCtx) // cuts the hanging attempts short and returns their leases
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	return slices.Clone(nn.latencies)
}
