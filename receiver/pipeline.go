package receiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/signature"
)

// Short, fixed reasons sent in the body of error responses. They never
// echo request data.
const (
	reasonMethod       = "method not allowed: webhooks are delivered with POST"
	reasonTooLarge     = "request body too large"
	reasonContentType  = "unsupported content type: expected application/json"
	reasonSource       = "source address not allowed"
	reasonBodyRead     = "cannot read request body"
	reasonEmpty        = "empty request body"
	reasonMissing      = "signature: missing signature headers"
	reasonBadHeader    = "signature: malformed signature header"
	reasonNoMatch      = "signature: no matching signature"
	reasonTooOld       = "signature: timestamp too old"
	reasonTooNew       = "signature: timestamp too new"
	reasonVerify       = "signature: verification failed"
	reasonEnvelope     = "invalid event"
	reasonStore        = "idempotency store unavailable; retry later"
	reasonQueueFull    = "receiver overloaded; retry later"
	reasonShutdown     = "receiver shutting down; retry later"
	reasonOrigin       = "webhook origin not allowed"
	reasonOriginHeader = "missing or repeated WebHook-Request-Origin"
	reasonInProgress   = "event is being processed; retry later"
)

// Shared header values; net/http only reads them.
var (
	hdrTrue      = []string{"true"}
	hdrTextPlain = []string{"text/plain; charset=utf-8"}
	hdrNosniff   = []string{"nosniff"}
)

// HeaderDuplicate is set to "true" on the answer to a duplicate delivery
// (200 for an event already processed, 202 or 409 for one in progress).
const HeaderDuplicate = "Hookkit-Duplicate"

const maxPooledBuffer = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func putBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooledBuffer {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// admitted is a request that passed every check and whose event is
// claimed (State Claimed) or a duplicate (Done, InProgress).
type admitted struct {
	d     Delivery
	state idempotency.State
	buf   *[]byte // pooled buffer holding the raw body; the caller returns it
	body  []byte  // *buf's contents
}

// admit runs the pipeline up to the claim. It answers every refused
// request itself and then reports ok false.
func (p *pipeline) admit(w http.ResponseWriter, r *http.Request) (a admitted, ok bool) {
	if r.Method != http.MethodPost {
		if r.Method == http.MethodOptions && p.handshake != nil {
			if !p.sources.allow(r) {
				p.reject(w, r, http.StatusForbidden, reasonSource, nil)
				return a, false
			}
			p.serveHandshake(w, r)
			return a, false
		}
		w.Header()["Allow"] = p.allow
		p.reject(w, r, http.StatusMethodNotAllowed, reasonMethod, nil)
		return a, false
	}
	if r.ContentLength > p.maxBody {
		p.reject(w, r, http.StatusRequestEntityTooLarge, reasonTooLarge, nil)
		return a, false
	}
	if !isJSON(r.Header["Content-Type"]) {
		p.reject(w, r, http.StatusUnsupportedMediaType, reasonContentType, nil)
		return a, false
	}
	if !p.sources.allow(r) {
		p.reject(w, r, http.StatusForbidden, reasonSource, nil)
		return a, false
	}

	bp, status, reason, err := p.readBody(w, r)
	if status != 0 {
		p.reject(w, r, status, reason, err)
		return a, false
	}
	body := *bp
	if err := p.verifier.Verify(r.Header, body); err != nil {
		putBuffer(bp)
		p.reject(w, r, http.StatusUnauthorized, verifyReason(err), err)
		return a, false
	}
	if p.provider.Challenge != nil {
		if resp, isChallenge := p.provider.Challenge(r.Header, body); isChallenge {
			putBuffer(bp)
			w.Header()["Content-Type"] = hdrTextPlain
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(resp)
			return a, false
		}
	}

	var ev event.Event
	if p.provider.Parse == nil {
		ev, err = p.parser.Parse(body) // copies what it keeps
	} else {
		ev, err = p.provider.Parse(r.Header, bytes.Clone(body))
	}
	if err != nil {
		putBuffer(bp)
		p.reject(w, r, http.StatusBadRequest, envelopeReason(err), err)
		return a, false
	}
	now := p.now()
	if ev.Timestamp.IsZero() {
		ev.Timestamp = now.UTC()
	}

	c, err := p.claim(r.Context(), ev.ID)
	if err != nil {
		putBuffer(bp)
		if errors.Is(err, idempotency.ErrInvalidKey) {
			p.reject(w, r, http.StatusBadRequest, reasonEnvelope+": invalid event id", err)
			return a, false
		}
		p.unavailable(w, r, reasonStore, err)
		return a, false
	}
	return admitted{
		d: Delivery{
			Event:      ev,
			Token:      c.Token,
			Header:     r.Header,
			ReceivedAt: now,
			Provider:   p.providerName,
		},
		state: c.State,
		buf:   bp,
		body:  body,
	}, true
}

// readBody reads the body into a pooled buffer, capped at maxBody. A non-zero
// status means the request was refused (the buffer is then already back
// in the pool).
func (p *pipeline) readBody(w http.ResponseWriter, r *http.Request) (bp *[]byte, status int, reason string, err error) {
	bp = bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	if r.ContentLength > 0 && int64(cap(buf)) <= r.ContentLength {
		// One more byte than announced, so that the final read sees EOF
		// without growing the buffer.
		buf = make([]byte, 0, r.ContentLength+1)
	}
	if r.Body != nil {
		body := http.MaxBytesReader(w, r.Body, p.maxBody)
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			var n int
			n, err = body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				break
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	*bp = buf
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		putBuffer(bp)
		return nil, http.StatusRequestEntityTooLarge, reasonTooLarge, nil
	case err != nil:
		putBuffer(bp)
		return nil, http.StatusBadRequest, reasonBodyRead, err
	case len(buf) == 0:
		putBuffer(bp)
		return nil, http.StatusBadRequest, reasonEmpty, nil
	}
	return bp, 0, "", nil
}

// isJSON reports whether the single Content-Type value is application/json
// or a +json type, parameters allowed, without allocating.
func isJSON(vs []string) bool {
	if len(vs) != 1 {
		return false
	}
	v := vs[0]
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "application/json") {
		return true
	}
	const suffix = "+json"
	slash := strings.IndexByte(v, '/')
	return slash > 0 && len(v) > slash+1+len(suffix) &&
		strings.EqualFold(v[:slash], "application") &&
		strings.EqualFold(v[len(v)-len(suffix):], suffix) &&
		!strings.ContainsAny(v, " \t,")
}

func verifyReason(err error) string {
	switch {
	case errors.Is(err, signature.ErrMissingHeaders):
		return reasonMissing
	case errors.Is(err, signature.ErrInvalidHeader):
		return reasonBadHeader
	case errors.Is(err, signature.ErrTooOld):
		return reasonTooOld
	case errors.Is(err, signature.ErrTooNew):
		return reasonTooNew
	case errors.Is(err, signature.ErrNoMatchingSignature):
		return reasonNoMatch
	default:
		return reasonVerify
	}
}

// envelopeReason names the failing field without echoing values.
func envelopeReason(err error) string {
	var ve *event.ValidationError
	if errors.As(err, &ve) && ve.Field != "" {
		return reasonEnvelope + ": bad " + ve.Field
	}
	if errors.Is(err, ErrProviderPayload) {
		return reasonEnvelope + ": missing id or type"
	}
	return reasonEnvelope
}

// reject answers an error status with a short text reason, and reports it.
func (p *pipeline) reject(w http.ResponseWriter, r *http.Request, status int, reason string, err error) {
	h := w.Header()
	h["Content-Type"] = hdrTextPlain
	h["X-Content-Type-Options"] = hdrNosniff
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason)
	if p.obs.Rejected != nil {
		p.obs.Rejected(r.Context(), Rejection{Status: status, Reason: reason, Err: err, Provider: p.providerName, RemoteAddr: r.RemoteAddr})
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	if p.log.Enabled(r.Context(), level) {
		attrs := []slog.Attr{
			slog.Int("status", status),
			slog.String("reason", reason),
			slog.String("provider", p.providerName),
			slog.String("remote_addr", r.RemoteAddr),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		p.log.LogAttrs(r.Context(), level, "webhook rejected", attrs...)
	}
}

// unavailable answers 503 with Retry-After.
func (p *pipeline) unavailable(w http.ResponseWriter, r *http.Request, reason string, err error) {
	w.Header()["Retry-After"] = p.retryAfter
	p.reject(w, r, http.StatusServiceUnavailable, reason, err)
}

// duplicate answers a duplicate delivery.
func (p *pipeline) duplicate(w http.ResponseWriter, r *http.Request, d *Delivery, status int, inProgress bool) {
	w.Header()[HeaderDuplicate] = hdrTrue
	if status == http.StatusConflict {
		w.Header()["Retry-After"] = p.retryAfter
	}
	w.WriteHeader(status)
	if p.obs.Duplicate != nil {
		p.obs.Duplicate(r.Context(), p.info(d), inProgress)
	}
	if p.log.Enabled(r.Context(), slog.LevelDebug) {
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "webhook duplicate",
			slog.String("event_id", d.Event.ID), slog.String("event_type", d.Event.Type),
			slog.String("provider", p.providerName), slog.Bool("in_progress", inProgress))
	}
}

func (p *pipeline) info(d *Delivery) Info {
	return Info{ID: d.Event.ID, Type: d.Event.Type, Provider: d.Provider, ReceivedAt: d.ReceivedAt}
}

// uncancellable returns ctx without its cancellation (a client hanging up
// must not stop the bookkeeping of a claim), allocating only when ctx can
// be cancelled.
func uncancellable(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// claim claims the event id on the request path. Unless the store is the
// in-memory one, the claim runs detached from the request's cancellation and
// bounded by StoreTimeout: a remote store whose call is cancelled after it
// committed would report an error for a claim it holds, and the sender's
// retry would then be answered as a duplicate in progress although nobody
// processes the event.
func (p *pipeline) claim(ctx context.Context, key string) (idempotency.Claim, error) {
	if p.storeTimeout == 0 {
		return p.store.Claim(ctx, key, p.lease)
	}
	ctx, cancel := context.WithTimeout(uncancellable(ctx), p.storeTimeout)
	defer cancel()
	return p.store.Claim(ctx, key, p.lease)
}

// release gives up a claim, with a context that the client cannot cancel.
func (p *pipeline) release(ctx context.Context, d *Delivery) {
	err := p.store.Release(uncancellable(ctx), d.Event.ID, d.Token)
	switch {
	case err == nil, errors.Is(err, idempotency.ErrNotFound):
		// Released, or nobody holds the key any more (the lease ran out):
		// either way a redelivery will be accepted.
	case errors.Is(err, idempotency.ErrNotOwner):
		p.log.LogAttrs(ctx, slog.LevelInfo, "webhook claim was already taken over after its lease ran out; nothing to release",
			slog.String("event_id", d.Event.ID), slog.String("provider", d.Provider))
	default:
		p.log.LogAttrs(ctx, slog.LevelError, "webhook claim release failed; redeliveries are refused until the lease expires",
			slog.String("event_id", d.Event.ID), slog.String("provider", d.Provider), slog.String("error", err.Error()))
	}
}

// complete records a processed event. When the claim's lease ran out
// before completion (a long wait in the queue, or a durable queue's
// delivery processed after a restart) and nobody else took the key, it is
// claimed again and completed, so the event is still recorded.
func (p *pipeline) complete(ctx context.Context, d *Delivery) {
	ctx = uncancellable(ctx)
	err := p.store.Complete(ctx, d.Event.ID, d.Token, p.retention)
	if errors.Is(err, idempotency.ErrNotFound) {
		var c idempotency.Claim
		if c, err = p.store.Claim(ctx, d.Event.ID, p.lease); err == nil {
			switch c.State {
			case idempotency.Claimed:
				err = p.store.Complete(ctx, d.Event.ID, c.Token, p.retention)
			case idempotency.Done:
				err = nil
			default:
				err = idempotency.ErrNotOwner
			}
		}
	}
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "webhook processed but not recorded; a redelivery will be processed again",
			slog.String("event_id", d.Event.ID), slog.String("provider", d.Provider), slog.String("error", err.Error()))
	}
}

// serveHandshake answers the CloudEvents abuse-protection handshake.
func (p *pipeline) serveHandshake(w http.ResponseWriter, r *http.Request) {
	origins := r.Header["Webhook-Request-Origin"]
	if len(origins) != 1 || origins[0] == "" {
		p.reject(w, r, http.StatusBadRequest, reasonOriginHeader, nil)
		return
	}
	origin := origins[0]
	allowed := false
	for _, o := range p.handshake.AllowedOrigins {
		if o == origin {
			allowed = true
			break
		}
	}
	if !allowed {
		p.reject(w, r, http.StatusForbidden, reasonOrigin, nil)
		return
	}
	h := w.Header()
	h["Allow"] = p.allow
	h.Set("WebHook-Allowed-Origin", origin)
	if p.handshake.AllowedRate > 0 {
		h.Set("WebHook-Allowed-Rate", itoa(p.handshake.AllowedRate))
	}
	w.WriteHeader(http.StatusOK)
}
