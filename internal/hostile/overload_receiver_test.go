package hostile_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

// floodBundle is a receiver at saturation: a queue of 8, 2 workers blocked
// until release is closed, served over loopback HTTP.
type floodBundle struct {
	h       *receiver.Handler
	srv     *httptest.Server
	client  *http.Client
	signer  *signature.Signer
	release chan struct{}

	mu        sync.Mutex
	processed map[string]int
	done      chan struct{} // signalled on every processed event
	rejected  atomic.Int64  // Observer.Rejected with 503
}

const (
	floodQueue   = 8
	floodWorkers = 2
)

func setupFlood(t *testing.T) *floodBundle {
	t.Helper()
	secret, err := signature.GenerateSecret()
	require.NoError(t, err)
	kr := signature.MustKeyring(secret)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
	require.NoError(t, err)
	b := &floodBundle{
		signer:    signer,
		release:   make(chan struct{}),
		processed: map[string]int{},
		done:      make(chan struct{}, 1<<16),
	}
	b.h, err = receiver.New(receiver.Config{
		Keys:      kr,
		QueueSize: floodQueue,
		Workers:   floodWorkers,
		Logger:    discard(),
		Observer: receiver.Observer{Rejected: func(_ context.Context, r receiver.Rejection) {
			if r.Status == http.StatusServiceUnavailable {
				b.rejected.Add(1)
			}
		}},
		Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
			select {
			case <-b.release:
			case <-ctx.Done():
				return ctx.Err()
			}
			b.mu.Lock()
			b.processed[ev.ID]++
			b.mu.Unlock()
			b.done <- struct{}{}
			return nil
		}),
	})
	require.NoError(t, err)
	b.srv = httptest.NewServer(b.h)
	b.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	return b
}

// post sends the signed event id and returns the status and response headers.
func (b *floodBundle) post(t *testing.T, id string) (int, http.Header) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"event_id":%q,"event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"n":1}}`, id))
	req, err := http.NewRequest(http.MethodPost, b.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	if err := b.signer.SignHeader(req.Header, id, time.Now(), body); err != nil {
		t.Error(err)
		return 0, nil
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func (b *floodBundle) count(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.processed[id]
}

// TestReceiverFloodAtSaturation floods a receiver whose 2 workers are blocked
// and whose queue holds 8 with 5,000 signed events from 32 goroutines. The
// overflow is answered 503 with Retry-After and its claims are released; every
// event answered 202 is processed exactly once once the workers are released;
// every 503'd event is accepted and processed when redelivered; memory stays
// bounded and no goroutine is left behind.
//
// Not parallel: it measures the heap and the goroutines.
//
//	go test -race -run TestReceiverFloodAtSaturation -v ./internal/hostile/
func TestReceiverFloodAtSaturation(t *testing.T) {
	const (
		requests = 5000
		senders  = 32
	)
	ignore := goleak.IgnoreCurrent()
	goroutinesBefore := runtime.NumGoroutine()
	b := setupFlood(t)
	heapBefore := heapInuse()

	// Sample the heap during the flood.
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()

	var (
		next          atomic.Int64
		mu            sync.Mutex
		accepted      []string
		overflow      []string
		badRetryAfter int
		other         = map[int]int{}
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > requests {
					return
				}
				id := fmt.Sprintf("evt_flood_%05d", i)
				code, h := b.post(t, id)
				mu.Lock()
				switch code {
				case http.StatusAccepted:
					accepted = append(accepted, id)
				case http.StatusServiceUnavailable:
					overflow = append(overflow, id)
					if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
						badRetryAfter++
					}
				default:
					other[code]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	floodTime := time.Since(start)
	close(stopSampling)
	<-sampled

	require.Empty(t, other, "only 202 and 503 are expected")
	require.Zero(t, badRetryAfter, "every 503 carries Retry-After in whole seconds >= 1")
	require.Len(t, append(accepted, overflow...), requests)
	require.GreaterOrEqual(t, len(accepted), floodQueue, "the queue fills")
	require.LessOrEqual(t, len(accepted), floodQueue+floodWorkers, "no more is accepted than the workers hold plus the queue")
	require.EqualValues(t, len(overflow), b.rejected.Load(), "every 503 is reported to the Observer")

	// While the workers are blocked: an accepted event is in progress (a
	// duplicate, not processed again), a 503'd one was released and is not
	// marked done.
	// A held claim is answered 409 with Retry-After, never a 2xx (the claim may be orphaned).
	code, h := b.post(t, accepted[0])
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "true", h.Get(receiver.HeaderDuplicate), "an accepted event in progress is a duplicate")
	require.NotEmpty(t, h.Get("Retry-After"))

	// Release the workers: every accepted event is processed.
	close(b.release)
	for range accepted {
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			t.Fatal("accepted events were not processed")
		}
	}

	// Redeliver every 503'd event, as the sender would after Retry-After (without waiting):
	// each is eventually accepted and processed.
	var redeliver503 atomic.Int64
	var rwg sync.WaitGroup
	var rnext atomic.Int64
	for range 4 {
		rwg.Go(func() {
			for {
				i := int(rnext.Add(1)) - 1
				if i >= len(overflow) {
					return
				}
				for try := 0; ; try++ {
					code, h := b.post(t, overflow[i])
					if code == http.StatusAccepted && h.Get(receiver.HeaderDuplicate) == "" {
						break
					}
					if code != http.StatusServiceUnavailable || try > 1000 {
						t.Errorf("redelivery of %s: status %d (duplicate %q) after %d tries", overflow[i], code, h.Get(receiver.HeaderDuplicate), try)
						return
					}
					redeliver503.Add(1)
					runtime.Gosched()
				}
			}
		})
	}
	rwg.Wait()
	for range overflow {
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			t.Fatal("redelivered events were not processed")
		}
	}

	// Exactly once: every event processed once, none lost, none twice.
	lost, twice := 0, 0
	for i := 1; i <= requests; i++ {
		switch n := b.count(fmt.Sprintf("evt_flood_%05d", i)); {
		case n == 0:
			lost++
		case n > 1:
			twice++
		}
	}
	require.Zero(t, lost, "accepted-then-lost events")
	require.Zero(t, twice, "events processed twice")

	// A redelivery of a processed event is a duplicate and is not processed again.
	for _, id := range []string{accepted[0], overflow[0], overflow[len(overflow)-1]} {
		code, h := b.post(t, id)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "true", h.Get(receiver.HeaderDuplicate))
		require.Equal(t, 1, b.count(id))
	}

	heapAfter := heapInuse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.h.Shutdown(ctx))
	b.srv.Close()
	b.client.CloseIdleConnections()
	heapShutdown := heapInuse()

	growth := int64(heapAfter) - int64(heapBefore)
	t.Logf("receiver flood: %d requests from %d goroutines in %v; accepted %d, 503 %d (all with Retry-After), "+
		"redelivered 503s: %d (+%d further 503s while redelivering), processed %d, lost %d, processed twice %d",
		requests, senders, floodTime.Round(time.Millisecond), len(accepted), len(overflow),
		len(overflow), redeliver503.Load(), requests-lost, lost, twice)
	t.Logf("receiver flood memory: HeapInuse before %.1f MiB, peak during flood %.1f MiB, after processing %.1f MiB (growth %.2f MiB, %d B per event recorded as done), after Shutdown %.1f MiB; goroutines before %d, after Shutdown %d",
		float64(heapBefore)/mib, float64(peak.Load())/mib, float64(heapAfter)/mib, float64(growth)/mib, growth/requests,
		float64(heapShutdown)/mib, goroutinesBefore, runtime.NumGoroutine())
	// The idempotency store remembers 5,000 processed ids for its retention; nothing else may
	// grow with the flood.
	require.Less(t, growth, int64(16*mib), "heap growth after a 5,000-request flood")
	require.Less(t, peak.Load(), heapBefore+64*mib, "peak heap during the flood")
	goleak.VerifyNone(t, ignore)
}
