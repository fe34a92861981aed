package reliability_test

import (
	"context"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/sender"
)

// fault is what the flaky endpoint does with one request.
type fault int

const (
	answerOK    fault = iota // 204
	answer500                // 500
	answerHang               // no answer until the sender's per-endpoint timeout
	answerReset              // connection reset (hijacked, SO_LINGER 0, closed)
	answer429                // 429 with Retry-After: 1
	faultKinds
)

var faultNames = [faultKinds]string{"ok", "500", "timeout", "reset", "429"}

type arrival struct {
	at   time.Time
	kind fault
}

// flakyEndpoint fails half of the requests at random (seeded) with an even mix of 500s,
// hangs, resets and 429 + Retry-After, and records every arrival per webhook-id.
type flakyEndpoint struct {
	srv *httptest.Server

	mu       sync.Mutex
	rng      *mrand.Rand
	arrivals map[string][]arrival
	injected [faultKinds]int
}

const flakyRetryAfter = time.Second

func newFlakyEndpoint(t testing.TB, rng *mrand.Rand) *flakyEndpoint {
	e := &flakyEndpoint{rng: rng, arrivals: map[string][]arrival{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		id := r.Header.Get("webhook-id")
		// Read the body, so the server watches the connection and cancels r.Context() when
		// the sender hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		e.mu.Lock()
		kind := answerOK
		if e.rng.IntN(2) == 1 {
			kind = answer500 + fault(e.rng.IntN(int(faultKinds-answer500)))
		}
		e.arrivals[id] = append(e.arrivals[id], arrival{at: at, kind: kind})
		e.injected[kind]++
		e.mu.Unlock()
		switch kind {
		case answerOK:
			w.WriteHeader(http.StatusNoContent)
		case answer500:
			w.WriteHeader(http.StatusInternalServerError)
		case answerHang:
			select {
			case <-r.Context().Done(): // the sender gives up after its timeout and closes the connection
			case <-time.After(10 * time.Second):
			}
		case answerReset:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
		case answer429:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// deliveredObserver counts deliveries and failed attempts.
type deliveredObserver struct {
	sender.NopObserver
	delivered, failed atomic.Int64
}

func (o *deliveredObserver) Delivered(context.Context, sender.AttemptReport) { o.delivered.Add(1) }
func (o *deliveredObserver) AttemptFinished(_ context.Context, r sender.AttemptReport) {
	if r.Err != nil {
		o.failed.Add(1)
	}
}

func TestFlakyEndpointGetsEverythingAndRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	events := 300
	if testing.Short() {
		events = 100
	}
	_, rng := seed(t)
	ep := newFlakyEndpoint(t, rng)
	obs := &deliveredObserver{}
	s, err := sender.New(sender.Config{
		Workers:              64,
		Policy:               compressedSchedule(20*time.Millisecond, 40), // 0, 20 ms, 40 ms, … 200 ms; 40 attempts
		Breaker:              sender.BreakerConfig{OpenFor: 200 * time.Millisecond},
		AllowPrivateNetworks: true,
		Observer:             obs,
		Logger:               discard,
	})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = s.CreateEndpoint(ctx, sender.Endpoint{
		ID: "ep_flaky", URL: ep.srv.URL + "/hook", Keys: []sender.EndpointKey{{Secret: receivertest.Secret}},
		MaxConcurrency: 64, Timeout: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
		<-runDone
	})

	started := time.Now()
	ids := make([]string, events)
	for i := range events {
		ev, err := event.New("order.created", map[string]int{"n": i})
		require.NoError(t, err)
		ids[i] = ev.ID
		_, err = s.Publish(ctx, ev)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return obs.delivered.Load() == int64(events) }, 2*time.Minute, 10*time.Millisecond,
		"every event delivered despite the faults")
	elapsed := time.Since(started)
	dead, err := s.ListDeadLetters(ctx, sender.DeadLetterFilter{})
	require.NoError(t, err)
	require.Empty(t, dead, "nothing dead-lettered")

	ep.mu.Lock()
	defer ep.mu.Unlock()
	attempts, throttled, minGap := 0, 0, time.Duration(1<<62)
	for _, id := range ids {
		as := ep.arrivals[id]
		require.NotEmpty(t, as, "event %s reached the endpoint", id)
		require.Equal(t, answerOK, as[len(as)-1].kind, "event %s: its last attempt was the accepted one", id)
		for i, a := range as {
			attempts++
			if i < len(as)-1 {
				require.NotEqual(t, answerOK, a.kind, "event %s: nothing is sent again after a 2xx", id)
			}
			if a.kind != answer429 || i == len(as)-1 {
				continue
			}
			throttled++
			gap := as[i+1].at.Sub(a.at)
			minGap = min(minGap, gap)
			require.GreaterOrEqual(t, gap, flakyRetryAfter,
				"event %s: attempt %d came %v after a 429 with Retry-After: 1 (attempt %d)", id, i+2, gap, i+1)
		}
	}
	injected := map[string]int{}
	for k, n := range ep.injected {
		injected[faultNames[k]] = n
	}
	t.Logf("flaky endpoint: %d events, %d attempts, faults injected %v, %d retries after a 429 (shortest gap %v >= Retry-After %v), %d failed attempts observed, lost 0, %v",
		events, attempts, injected, throttled, minGap.Round(time.Millisecond), flakyRetryAfter, obs.failed.Load(), elapsed.Round(time.Millisecond))
	for k := answer500; k < faultKinds; k++ {
		require.Positive(t, ep.injected[k], "fault %s injected", faultNames[k])
	}
}
