package receiver

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/hookkit/hookkit/idempotency"
)

// Middleware returns the synchronous receiver: an http middleware that runs
// the same checks as Handler (method, size, content type, source, signature,
// envelope, claim), then calls next with the parsed event in the request
// context (EventFrom) and the body restored, so next can read it again.
// The event is processed once next answers:
//
//   - a 2xx from next (or no explicit status) completes the claim;
//   - any other status releases it, so the sender's retry is processed;
//   - a panic in next releases the claim, then the panic continues (so
//     http.Server or your recovery middleware logs it and the client sees
//     an aborted response): Middleware does not swallow panics.
//
// Duplicates never reach next: 200 with Hookkit-Duplicate: true for an
// event already processed, 409 with Retry-After and the same header for an
// event being processed (the sender retries later and then gets 200, or
// processes it if the first attempt failed).
//
// cfg's async-only fields (Handler, DeadLetter, Retry, Queue, QueueSize,
// Workers) must be zero. The returned error wraps ErrInvalidConfig. If
// cfg.Store is nil, a memory store is created; it lives as long as the
// process (use an explicit Store to control its lifetime).
func Middleware(cfg Config) (func(http.Handler) http.Handler, error) {
	if cfg.Handler != nil || cfg.DeadLetter != nil || cfg.Retry != nil || cfg.Queue != nil || cfg.QueueSize != 0 || cfg.Workers != 0 {
		return nil, configError("Middleware calls the next http.Handler synchronously; Handler, DeadLetter, Retry, Queue, QueueSize and Workers apply to New only")
	}
	p, err := newPipeline(&cfg, false)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("receiver: Middleware(nil)")
		}
		return &middleware{p: p, next: next}
	}, nil
}

type middleware struct {
	p    *pipeline
	next http.Handler
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := m.p.admit(w, r)
	if !ok {
		return
	}
	switch a.state {
	case idempotency.Done:
		putBuffer(a.buf)
		m.p.duplicate(w, r, &a.d, http.StatusOK, false)
		return
	case idempotency.InProgress:
		putBuffer(a.buf)
		m.p.duplicate(w, r, &a.d, http.StatusConflict, true)
		return
	}
	// The body buffer is handed to next and not returned to the pool: next
	// (or a goroutine it starts) may read the body after it returns.
	if m.p.obs.Accepted != nil {
		m.p.obs.Accepted(r.Context(), m.p.info(&a.d))
	}
	ctx := context.WithValue(r.Context(), eventKey{}, &a.d.Event)
	r2 := r.WithContext(ctx)
	r2.Body = io.NopCloser(bytes.NewReader(a.body))
	r2.ContentLength = int64(len(a.body))
	sw := &statusWriter{ResponseWriter: w}
	start := m.p.now()
	settled := false
	defer func() {
		if settled {
			return
		}
		// next panicked: give the event back, then let the panic go on.
		m.p.release(r.Context(), &a.d)
		if m.p.obs.Failed != nil {
			info := m.p.info(&a.d)
			info.Attempt, info.Duration = 1, m.p.now().Sub(start)
			m.p.obs.Failed(r.Context(), info, errPanicked)
		}
	}()
	m.next.ServeHTTP(sw, r2)
	settled = true
	info := m.p.info(&a.d)
	info.Attempt, info.Duration = 1, m.p.now().Sub(start)
	if sw.status == 0 || (sw.status >= 200 && sw.status < 300) {
		m.p.complete(r.Context(), &a.d)
		if m.p.obs.Processed != nil {
			m.p.obs.Processed(r.Context(), info)
		}
		return
	}
	m.p.release(r.Context(), &a.d)
	if m.p.obs.Failed != nil {
		m.p.obs.Failed(r.Context(), info, &StatusError{Status: sw.status})
	}
}

var errPanicked = &PanicError{Value: "next handler panicked (re-panicked after releasing the claim)"}

// StatusError reports, to Observer.Failed, that Middleware's next handler
// answered a non-2xx status; the claim was released.
type StatusError struct{ Status int }

func (e *StatusError) Error() string {
	return "receiver: next handler answered " + itoa(e.Status) + "; the claim was released"
}

// statusWriter records the first status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher when the underlying writer does.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
