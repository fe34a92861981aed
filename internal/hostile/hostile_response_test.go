package hostile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
)

// A customer controls its endpoint, so what comes back from it is hostile input to the sender:
// endless or huge bodies, bytes that are not UTF-8, absurd Retry-After values, huge headers.

// TestSenderHostileEndpointResponses sends one delivery to each hostile endpoint and checks
// the sender reads what it must and no more: an endless body does not hold the attempt, a
// huge one is read up to the cap, the attempt log's snippet is short valid UTF-8, a
// Retry-After is honoured up to 24 h and clamped beyond, and one that cannot be represented
// (overflowing a time.Duration) or parsed is ignored in favour of the policy's delay.
//
//	go test -race -run TestSenderHostileEndpointResponses -v ./internal/hostile/
func TestSenderHostileEndpointResponses(t *testing.T) {
	t.Parallel()
	stream := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			buf := make([]byte, 32<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}
	}
	answer := func(status int, header http.Header, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	ra := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		delivered bool
		status    int
		wait      time.Duration // the expected delay before the retry, 0: the policy's (1 h)
	}{
		{"an endless 500 body", stream(500), false, 500, 0},
		{"an endless 200 body", stream(200), true, 200, 0},
		{"a 10 MiB 200 body", answer(200, nil, strings.Repeat("x", 10<<20)), true, 200, 0},
		{"a body that is not UTF-8", answer(500, nil, strings.Repeat("\xff\xfe\xc3\x28", 100)), false, 500, 0},
		{"a body of control characters", answer(500, nil, strings.Repeat("\x00\x1b[31m\r\n", 50)), false, 500, 0},
		{"Retry-After of 10^20 seconds", answer(429, ra("100000000000000000000"), ""), false, 429, 0},
		{"Retry-After of max int64 seconds", answer(503, ra("9223372036854775807"), ""), false, 503, 0},
		{"Retry-After in the year 9999", answer(429, ra("Fri, 31 Dec 9999 23:59:59 GMT"), ""), false, 429, 0},
		{"Retry-After negative", answer(429, ra("-5"), ""), false, 429, 0},
		{"Retry-After not a number", answer(429, ra("soon\xff"), ""), false, 429, 0},
		{"1,000 Retry-After headers", answer(429, http.Header{"Retry-After": strings.Split(strings.Repeat("1,", 999)+"1", ",")}, ""), false, 429, 0},
		{"Retry-After of 2 h is honoured", answer(429, ra("7200"), ""), false, 429, 2 * time.Hour},
		{"Retry-After of 2 days is clamped", answer(503, ra("172800"), ""), false, 503, retry.DefaultMaxRetryAfter},
		{"Retry-After in 2050 is clamped", answer(429, ra("Sat, 01 Jan 2050 00:00:00 GMT"), ""), false, 429, retry.DefaultMaxRetryAfter},
	}
	obs := newDeadLetters()
	retries := &retryReports{deadLetters: obs, next: map[string]sender.AttemptReport{}}
	s, err := sender.New(sender.Config{
		Logger: discard(), Observer: retries,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Policy:          retry.Schedule{Delays: []time.Duration{0, time.Hour}},
	})
	require.NoError(t, err)
	secret := mustSecret(t)
	for i, c := range cases {
		srv := httptest.NewServer(c.handler)
		t.Cleanup(srv.Close)
		_, err := s.CreateEndpoint(context.Background(), sender.Endpoint{ID: fmt.Sprintf("ep_%02d", i), URL: srv.URL, Keys: []sender.EndpointKey{{Secret: secret}}, Timeout: 10 * time.Second})
		require.NoError(t, err)
		sendOne(t, s, fmt.Sprintf("ep_%02d", i))
	}
	runSender(t, s)
	reports := retries.wait(t, len(cases))
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("ep_%02d", i)
			r := reports[id]
			require.Equal(t, c.status, r.StatusCode)
			require.Less(t, r.Duration, 5*time.Second, "the attempt did not wait for the body to end")
			if c.delivered {
				require.NoError(t, r.Err)
			} else {
				require.Error(t, r.Err)
				require.False(t, r.NextAttemptAt.IsZero(), "a retry is scheduled")
				wait := r.NextAttemptAt.Sub(r.StartedAt)
				require.LessOrEqual(t, wait, retry.DefaultMaxRetryAfter+time.Minute, "Retry-After is clamped")
				want := c.wait
				if want == 0 {
					want = time.Hour // the policy's delay: an absurd or unparsable Retry-After is ignored
				}
				require.InDelta(t, want.Seconds(), wait.Seconds(), 60, "delay before the retry")
			}
			as, err := s.ListAttempts(context.Background(), sender.AttemptFilter{EndpointID: id})
			require.NoError(t, err)
			require.Len(t, as, 1)
			require.LessOrEqual(t, len(as[0].ResponseSnippet), sender.MaxResponseSnippet)
			require.True(t, utf8.ValidString(as[0].ResponseSnippet), "the snippet is valid UTF-8")
			next := "none (delivered)"
			if !r.NextAttemptAt.IsZero() {
				next = r.NextAttemptAt.Sub(r.StartedAt).Round(time.Second).String()
			}
			t.Logf("%s: status %d, attempt took %v, next attempt in %s, snippet %d B", c.name, r.StatusCode, r.Duration.Round(time.Millisecond),
				next, len(as[0].ResponseSnippet))
		})
	}
}

// retryReports keeps each endpoint's first settled report: Delivered or RetryScheduled.
type retryReports struct {
	*deadLetters
	next map[string]sender.AttemptReport
}

func (r *retryReports) record(rep sender.AttemptReport) {
	r.mu.Lock()
	if _, ok := r.next[rep.EndpointID]; !ok {
		r.next[rep.EndpointID] = rep
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *retryReports) Delivered(_ context.Context, rep sender.AttemptReport)      { r.record(rep) }
func (r *retryReports) RetryScheduled(_ context.Context, rep sender.AttemptReport) { r.record(rep) }

func (r *retryReports) wait(t *testing.T, n int) map[string]sender.AttemptReport {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		if len(r.next) >= n {
			out := make(map[string]sender.AttemptReport, len(r.next))
			for k, v := range r.next {
				out[k] = v
			}
			r.mu.Unlock()
			return out
		}
		have := len(r.next)
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("%d of %d attempts reported", have, n)
		}
	}
}

// TestSenderCapsResponseHeaders: an endpoint answering with 8 MiB of response headers must not
// make the sender buffer them (net/http's default limit is 10 MiB; with 128 workers over 1 GiB
// a customer's endpoints could make the sender hold), since the sender reads at most
// MaxResponseBytes (64 KiB) of the body and needs one header (Retry-After). Every such attempt
// fails without a status, and allocates less than 2 MiB (regression test for bug 4 of
// /work/plan/rel-bugs.md: before the fix, 39.1 MiB per attempt).
//
// Not parallel: it measures allocations.
//
//	go test -race -run TestSenderCapsResponseHeaders -v ./internal/hostile/
func TestSenderCapsResponseHeaders(t *testing.T) {
	const (
		attempts    = 8
		headerBytes = 8 << 20
	)
	measure := func(t *testing.T, big bool) (perAttempt uint64, reports map[string]sender.AttemptReport) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if big {
				v := strings.Repeat("a", 64<<10)
				for i := range headerBytes / (64 << 10) {
					w.Header().Set(fmt.Sprintf("X-Big-%03d", i), v)
				}
			}
			w.WriteHeader(http.StatusInternalServerError)
		}))
		defer srv.Close()
		obs := newDeadLetters()
		s, err := sender.New(sender.Config{
			Logger: discard(), Observer: obs,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Policy:          retry.Schedule{Delays: []time.Duration{0}},
		})
		require.NoError(t, err)
		secret := mustSecret(t)
		for i := range attempts {
			id := fmt.Sprintf("ep_%d", i)
			_, err := s.CreateEndpoint(context.Background(), sender.Endpoint{ID: id, URL: srv.URL, Keys: []sender.EndpointKey{{Secret: secret}}})
			require.NoError(t, err)
			sendOne(t, s, id)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		done := make(chan error, 1)
		go func() { done <- s.Run(context.Background()) }()
		reports = obs.wait(t, attempts)
		runtime.ReadMemStats(&after)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		require.NoError(t, <-done)
		return (after.TotalAlloc - before.TotalAlloc) / attempts, reports
	}
	small, _ := measure(t, false)
	big, reports := measure(t, true)
	refused := 0
	for _, r := range reports {
		if r.StatusCode == 0 && r.Err != nil {
			refused++
		}
	}
	t.Logf("bytes allocated per attempt: %.1f KiB with a normal answer, %.1f MiB with %d MiB of response headers; attempts refused for their headers: %d of %d",
		float64(small)/1024, float64(big)/mib, headerBytes>>20, refused, attempts)
	require.Equal(t, attempts, refused, "every attempt with oversized headers is refused")
	require.Less(t, big, uint64(2<<20), "bytes allocated per attempt with oversized headers")
}
