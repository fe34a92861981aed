package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/retry"
)

// Handler is the asynchronous receiver: an http.Handler that verifies,
// deduplicates and queues each webhook, answers 202 at once, and processes
// the events on worker goroutines. Build it with New and stop it with
// Shutdown.
type Handler struct {
	p          *pipeline
	handler    EventHandler
	deadLetter func(ctx context.Context, ev event.Event, md Metadata, err error)
	doCfg      retry.DoConfig
	queue      Queue

	closing   atomic.Bool
	runCtx    context.Context // cancelled at the shutdown deadline
	cancelRun context.CancelFunc
	settleCtx context.Context // runCtx without its cancellation
	workers   sync.WaitGroup

	dequeuePause time.Duration // wait after a failed Dequeue
}

// New validates cfg, applies its defaults and starts the workers. Config
// errors wrap ErrInvalidConfig. Call Shutdown to stop the workers.
func New(cfg Config) (*Handler, error) {
	h, workers, err := newHandler(cfg)
	if err != nil {
		return nil, err
	}
	h.start(workers)
	return h, nil
}

// newHandler builds a Handler without starting its workers.
func newHandler(cfg Config) (*Handler, int, error) {
	if cfg.Handler == nil {
		return nil, 0, configError("Handler is required: a *receiver.Router or a receiver.HandlerFunc")
	}
	if cfg.Workers < 0 || cfg.QueueSize < 0 {
		return nil, 0, configError("Workers and QueueSize must not be negative")
	}
	if cfg.Queue != nil && cfg.QueueSize != 0 {
		return nil, 0, configError("QueueSize applies to the default queue only; size your Queue yourself")
	}
	if cfg.Retry != nil {
		if err := retry.Validate(cfg.Retry); err != nil {
			return nil, 0, configError("Retry: %w", err)
		}
	}
	p, err := newPipeline(&cfg, true)
	if err != nil {
		return nil, 0, err
	}
	h := &Handler{
		p:          p,
		handler:    cfg.Handler,
		deadLetter: cfg.DeadLetter,
		doCfg:      retry.DoConfig{Policy: cfg.Retry},
		queue:      cfg.Queue,

		dequeuePause: time.Second,
	}
	if h.queue == nil {
		h.queue = NewMemoryQueue(cfg.QueueSize)
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = DefaultWorkers
	}
	h.runCtx, h.cancelRun = context.WithCancel(context.Background())
	h.settleCtx = context.WithoutCancel(h.runCtx)
	return h, workers, nil
}

// start launches the worker goroutines.
func (h *Handler) start(workers int) {
	h.workers.Add(workers)
	for range workers {
		go h.work()
	}
}

// ServeHTTP runs the pipeline:
//
//   - 405 (with Allow) unless POST; 413 over MaxBodyBytes; 415 unless the
//     content type is JSON; 403 from a source outside AllowedSources;
//   - 401 with a short reason when the signature does not verify (the
//     handler is never called for an unverified request);
//   - 400 when the envelope (or provider payload) cannot be parsed;
//   - 200 with Hookkit-Duplicate: true for an event already processed;
//   - 409 with Hookkit-Duplicate: true and Retry-After for one whose claim
//     is held (being processed here or by another replica). Not a 2xx: the
//     claim may be orphaned (its holder crashed between the claim and the
//     queue, or a remote store committed a claim after the request gave up),
//     and a 2xx would let the sender forget an event nobody processes. The
//     sender retries; once the event is processed the retry gets 200, and
//     once an orphaned claim's lease (ClaimLease) runs out it is processed;
//   - 202 once the event is claimed and queued;
//   - 503 with Retry-After when the queue is full (the claim is released,
//     so the sender's retry is processed), the idempotency store fails (no
//     2xx for an event that was not recorded), or the handler is shutting
//     down.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.closing.Load() {
		h.p.unavailable(w, r, reasonShutdown, nil)
		return
	}
	a, ok := h.p.admit(w, r)
	if !ok {
		return
	}
	putBuffer(a.buf) // the event holds copies of what it needs
	switch a.state {
	case idempotency.Done:
		h.p.duplicate(w, r, &a.d, http.StatusOK, false)
		return
	case idempotency.InProgress:
		h.p.duplicate(w, r, &a.d, http.StatusConflict, true)
		return
	}
	if err := h.queue.Enqueue(r.Context(), a.d); err != nil {
		h.p.release(r.Context(), &a.d)
		reason := reasonQueueFull
		if errors.Is(err, ErrQueueClosed) {
			reason = reasonShutdown
		}
		h.p.unavailable(w, r, reason, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	if h.p.obs.Accepted != nil {
		h.p.obs.Accepted(r.Context(), h.p.info(&a.d))
	}
}

// Shutdown stops accepting (new requests are answered 503 with
// Retry-After), lets the workers drain the queue until ctx ends, then
// cancels the handlers' contexts, waits for the workers to return, and
// releases the claims of the events left unprocessed (so the sender's
// redeliveries, if any, are processed). Handlers must return promptly once
// their context is cancelled. It returns ctx.Err() if the deadline cut the
// drain short, nil otherwise, and ErrShutdown when called again.
//
// With the default memory queue, events answered 202 but left unprocessed
// at the deadline are lost unless their sender redelivers them; see the
// package documentation.
func (h *Handler) Shutdown(ctx context.Context) error {
	if !h.closing.CompareAndSwap(false, true) {
		return ErrShutdown
	}
	_ = h.queue.Close()
	done := make(chan struct{})
	go func() {
		h.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		h.cancelRun()
		<-done
	}
	h.cancelRun()
	if td, ok := h.queue.(interface{ TryDequeue() (Delivery, bool) }); ok {
		for {
			d, ok := td.TryDequeue()
			if !ok {
				break
			}
			h.abandon(&d)
		}
	}
	h.p.close()
	return err
}

// work is one worker goroutine.
func (h *Handler) work() {
	defer h.workers.Done()
	var pause *time.Timer
	for {
		d, err := h.queue.Dequeue(h.runCtx)
		if err != nil {
			if errors.Is(err, ErrQueueClosed) || h.runCtx.Err() != nil {
				return
			}
			// A durable queue's backend failed: wait a little, then retry.
			h.p.log.LogAttrs(h.runCtx, slog.LevelError, "webhook queue dequeue failed", slog.String("error", err.Error()))
			if pause == nil {
				pause = time.NewTimer(h.dequeuePause)
			} else {
				pause.Reset(h.dequeuePause)
			}
			select {
			case <-pause.C:
			case <-h.runCtx.Done():
				pause.Stop()
				return
			}
			continue
		}
		h.process(&d)
	}
}

// process runs the handler with retries and settles the delivery.
func (h *Handler) process(d *Delivery) {
	ctx := h.runCtx
	info := h.p.info(d)
	start := h.p.now()
	attempt := 0
	err := retry.Do(ctx, h.doCfg, func(ctx context.Context) error {
		attempt++
		mc := &metadataCtx{Context: ctx, md: Metadata{Header: d.Header, Attempt: attempt, ReceivedAt: d.ReceivedAt, Provider: d.Provider}}
		t0 := h.p.now()
		err := call(mc, h.handler, d)
		if err != nil {
			fi := info
			fi.Attempt, fi.Duration = attempt, h.p.now().Sub(t0)
			if h.p.obs.Failed != nil {
				h.p.obs.Failed(ctx, fi, err)
			}
			if h.p.log.Enabled(ctx, slog.LevelInfo) {
				h.p.log.LogAttrs(ctx, slog.LevelInfo, "webhook handler failed",
					slog.String("event_id", d.Event.ID), slog.String("event_type", d.Event.Type),
					slog.String("provider", d.Provider), slog.Int("attempt", attempt), slog.String("error", err.Error()))
			}
		}
		return err
	})
	info.Attempt, info.Duration = attempt, h.p.now().Sub(start)
	settle := h.settleCtx
	switch {
	case err == nil:
		h.p.complete(settle, d)
		h.ack(settle, d, Processed)
		if h.p.obs.Processed != nil {
			h.p.obs.Processed(settle, info)
		}
	case ctx.Err() != nil:
		h.abandon(d)
	default:
		md := Metadata{Header: d.Header, Attempt: attempt, ReceivedAt: d.ReceivedAt, Provider: d.Provider}
		h.callDeadLetter(settle, d, md, err)
		h.p.release(settle, d)
		h.ack(settle, d, DeadLettered)
		if h.p.obs.DeadLettered != nil {
			h.p.obs.DeadLettered(settle, info, err)
		}
		h.p.log.LogAttrs(settle, slog.LevelWarn, "webhook dead-lettered",
			slog.String("event_id", d.Event.ID), slog.String("event_type", d.Event.Type),
			slog.String("provider", d.Provider), slog.Int("attempts", attempt), slog.String("error", err.Error()))
	}
}

// abandon hands back a delivery not processed before shutdown. With a
// volatile queue the claim is released, so the sender's redelivery is
// processed; with a durable queue (one whose Durable method reports true) the
// delivery waits in the queue for the next start, so the claim is kept: a
// redelivery in between is answered as a duplicate instead of being stored a
// second time.
func (h *Handler) abandon(d *Delivery) {
	settle := h.settleCtx
	msg := "webhook abandoned at shutdown; it stays queued for the next start"
	if !isDurable(h.queue) {
		h.p.release(settle, d)
		msg = "webhook abandoned at shutdown; its claim was released"
	}
	h.ack(settle, d, Abandoned)
	h.p.log.LogAttrs(settle, slog.LevelWarn, msg,
		slog.String("event_id", d.Event.ID), slog.String("event_type", d.Event.Type), slog.String("provider", d.Provider))
}

// isDurable reports whether q keeps what it holds across restarts.
func isDurable(q Queue) bool {
	d, ok := q.(interface{ Durable() bool })
	return ok && d.Durable()
}

func (h *Handler) ack(ctx context.Context, d *Delivery, o Outcome) {
	if err := h.queue.Ack(ctx, *d, o); err != nil {
		h.p.log.LogAttrs(ctx, slog.LevelError, "webhook queue ack failed",
			slog.String("event_id", d.Event.ID), slog.String("outcome", o.String()), slog.String("error", err.Error()))
	}
}

func (h *Handler) callDeadLetter(ctx context.Context, d *Delivery, md Metadata, cause error) {
	if h.deadLetter == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			h.p.log.LogAttrs(ctx, slog.LevelError, "webhook dead-letter hook panicked",
				slog.String("event_id", d.Event.ID), slog.String("panic", fmt.Sprint(v)))
		}
	}()
	h.deadLetter(ctx, d.Event, md, cause)
}

// call runs the handler, turning a panic into a *PanicError.
func call(ctx context.Context, h EventHandler, d *Delivery) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return h.HandleEvent(ctx, d.Event)
}
