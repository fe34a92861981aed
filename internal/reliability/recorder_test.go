package reliability_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
)

// recorder is a loopback webhook server with one path per endpoint. Every request is
// counted by webhook-id at the raw HTTP level (with the status answered) before a hookkit
// receiver with its own idempotency store verifies, deduplicates and processes it; the
// receiver's handler counts how often it ran per event id.
type recorder struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests map[string]map[string]int // endpoint -> webhook-id -> requests
	answered map[int]int               // status -> requests
	handled  map[string]map[string]int // endpoint -> event id -> handler runs
	distinct int                       // distinct (endpoint, webhook-id) requested

	handlers map[string]*receiver.Handler
}

// newRecorder serves one hookkit receiver per endpoint name at "/<name>", deduplicating
// with stores[name]. Everything is shut down at cleanup.
func newRecorder(t testing.TB, stores map[string]idempotency.Store) *recorder {
	t.Helper()
	r := &recorder{
		requests: map[string]map[string]int{}, answered: map[int]int{},
		handled: map[string]map[string]int{}, handlers: map[string]*receiver.Handler{},
	}
	mux := http.NewServeMux()
	for name, store := range stores {
		r.requests[name] = map[string]int{}
		r.handled[name] = map[string]int{}
		h, err := receiver.New(receiver.Config{
			Keys:       receivertest.Keyring(""),
			Store:      store,
			Workers:    8,
			ClaimLease: time.Minute,
			Logger:     discard,
			Handler: receiver.HandlerFunc(func(_ context.Context, ev event.Event) error {
				r.mu.Lock()
				r.handled[name][ev.ID]++
				r.mu.Unlock()
				return nil
			}),
		})
		require.NoError(t, err)
		r.handlers[name] = h
		mux.Handle("/"+name, r.record(name, h))
	}
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		r.srv.Close()
		for _, h := range r.handlers {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = h.Shutdown(ctx)
			cancel()
		}
	})
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (r *recorder) record(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := req.Header.Get("webhook-id")
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, req)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		r.mu.Lock()
		if r.requests[name][id] == 0 {
			r.distinct++
		}
		r.requests[name][id]++
		r.answered[sw.status]++
		r.mu.Unlock()
	})
}

// URL returns the URL of endpoint name.
func (r *recorder) URL(name string) string { return r.srv.URL + "/" + name }

// Distinct returns the number of distinct (endpoint, webhook-id) pairs requested.
func (r *recorder) Distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.distinct
}

// handledCount returns how many distinct events endpoint name's handler processed.
func (r *recorder) handledCount(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.handled[name])
}
