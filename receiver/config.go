package receiver

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/signature"
)

// Defaults applied by New and Middleware.
const (
	// DefaultMaxBodyBytes caps a request body: 1 MiB, event.DefaultMaxSize.
	DefaultMaxBodyBytes = event.DefaultMaxSize
	// DefaultWorkers is the number of worker goroutines of a Handler.
	DefaultWorkers = 4
	// DefaultClaimLease is how long an event's claim is held before another
	// replica may take it over (if this one died while processing it).
	DefaultClaimLease = idempotency.DefaultLease
	// DefaultStoreTimeout bounds a claim on the request path.
	DefaultStoreTimeout = 10 * time.Second
	// DefaultRetryAfter is the Retry-After sent with a 503.
	DefaultRetryAfter = 5 * time.Second
)

// Config configures New (async mode) and Middleware (sync mode). It is
// validated once, at construction.
type Config struct {
	// Keys are the Standard Webhooks keys (several for rotation) used to
	// build the default Verifier. Ignored when Verifier or Provider.Verifier
	// is set. One of Keys, Verifier or Provider.Verifier is required.
	Keys *signature.Keyring
	// Verifier checks each request's signature: any signature scheme
	// (signature.StandardVerifier, GitHub, Stripe, …). Defaults to
	// Provider.Verifier, else a Standard Webhooks verifier over Keys with a
	// 5-minute tolerance in both directions. Set at most one of Verifier and
	// Provider.Verifier.
	Verifier signature.Verifier
	// Provider selects the sender's scheme, dedupe key and event type (see
	// GitHub, Stripe, Shopify, Slack, StandardWebhooks). Defaults to
	// hookkit's own: Standard Webhooks signatures over a hookkit envelope,
	// deduplicated by event_id.
	Provider Provider

	// Handler processes events on the workers; a *Router or a HandlerFunc.
	// Required by New; must be nil for Middleware (which calls the next
	// http.Handler instead).
	Handler EventHandler
	// DeadLetter, when set, is called (on a worker) for an event the
	// receiver gives up on: retries exhausted, a permanent error, an
	// undecodable payload or an unknown type under DeadLetterUnknown. The
	// claim is released afterwards, so a redelivery can try again. New only.
	DeadLetter func(ctx context.Context, ev event.Event, md Metadata, err error)
	// Retry is the in-process retry policy for handler errors (retry.Do).
	// Defaults to retry.DefaultDoPolicy: exponential backoff with full
	// jitter from 100 ms, 5 attempts, at most 1 minute. New only.
	Retry retry.Policy
	// Queue is the hand-off queue between the HTTP handler and the workers.
	// Defaults to NewMemoryQueue(QueueSize). New only; the Handler closes it
	// on Shutdown.
	Queue Queue
	// QueueSize is the capacity of the default memory queue. Defaults to
	// DefaultQueueSize (1024). Ignored when Queue is set. New only.
	QueueSize int
	// Workers is the number of worker goroutines. Defaults to
	// DefaultWorkers (4). New only.
	Workers int

	// Store records claimed and processed event ids. Defaults to a new
	// idempotency.MemoryStore (closed by Shutdown); use a shared store
	// (Redis, PostgreSQL) with several replicas.
	Store idempotency.Store
	// StoreTimeout bounds each call the request path makes to Store (the
	// claim). The claim runs detached from the request's cancellation, so
	// that a client hanging up cannot leave it half done (committed by the
	// store, reported as cancelled, held by nobody). Defaults to
	// DefaultStoreTimeout (10 s).
	StoreTimeout time.Duration
	// ClaimLease is the lease of a claim. It must exceed the time an event
	// may wait in the queue plus its processing with every retry. Defaults
	// to DefaultClaimLease (5 minutes).
	ClaimLease time.Duration
	// Retention is how long a processed id is remembered. Defaults to
	// idempotency.DefaultRetention (72 hours).
	Retention time.Duration

	// MaxBodyBytes caps the request body (413 beyond it). Defaults to
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// AllowedSources, when non-empty, is the source-IP allow-list: other
	// clients are answered 403. Defaults to none (every source allowed).
	AllowedSources []netip.Prefix
	// TrustedProxies are the proxies whose Forwarded / X-Forwarded-For
	// headers are believed when checking AllowedSources. The headers of any
	// other peer are ignored. Defaults to none.
	TrustedProxies []netip.Prefix
	// Handshake, when set, answers the CloudEvents webhook abuse-protection
	// handshake (OPTIONS). Defaults to off: OPTIONS gets 405.
	Handshake *Handshake
	// RetryAfter is the Retry-After sent with 503 (queue full, store
	// unavailable, shutting down) and 409 (Middleware, duplicate in
	// progress). Defaults to DefaultRetryAfter (5 s); whole seconds, >= 1 s.
	RetryAfter time.Duration

	// Observer receives accepted, rejected, duplicate, processed, failed
	// and dead-lettered events. Defaults to none.
	Observer Observer
	// Logger receives the receiver's logs: rejections at Debug, store and
	// queue failures at Warn/Error, dead letters at Warn. Secrets,
	// signatures and bodies are never logged. Defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock for received times and durations. Defaults to
	// time.Now.
	Now func() time.Time
}

// Handshake configures the CloudEvents webhook abuse-protection handshake
// (HTTP 1.1 Web Hooks for Event Delivery, section 4): an OPTIONS request
// whose WebHook-Request-Origin is in AllowedOrigins is answered 200 with
// WebHook-Allowed-Origin (and WebHook-Allowed-Rate when AllowedRate > 0);
// any other origin is answered 403. A WebHook-Request-Callback is never
// called.
type Handshake struct {
	// AllowedOrigins are the sender origins (host names such as
	// "eventemitter.example.com"), compared byte for byte with
	// WebHook-Request-Origin: no prefix, suffix or case folding. Required.
	AllowedOrigins []string
	// AllowedRate is the number of requests per minute granted, sent as
	// WebHook-Allowed-Rate. Defaults to 0: the header is omitted.
	AllowedRate int
}

// pipeline is the resolved configuration shared by Handler and Middleware:
// every check up to and including the claim.
type pipeline struct {
	verifier     signature.Verifier
	provider     Provider
	providerName string
	parser       event.Parser
	store        idempotency.Store
	ownStore     *idempotency.MemoryStore
	lease        time.Duration
	storeTimeout time.Duration // 0: claims run under the request context (the memory store)
	retention    time.Duration
	maxBody      int64
	sources      sourceFilter
	handshake    *Handshake
	allow        []string // Allow header value
	retryAfter   []string // Retry-After header value
	obs          Observer
	log          *slog.Logger
	now          func() time.Time
}

// newPipeline validates the fields shared by both modes and applies their
// defaults. closable says whether close will be called (Handler.Shutdown).
func newPipeline(cfg *Config, closable bool) (*pipeline, error) {
	p := &pipeline{
		provider:  cfg.Provider,
		lease:     cfg.ClaimLease,
		retention: cfg.Retention,
		maxBody:   cfg.MaxBodyBytes,
		obs:       cfg.Observer,
		log:       cfg.Logger,
		now:       cfg.Now,
		store:     cfg.Store,
		handshake: cfg.Handshake,
	}
	p.providerName = p.provider.name()

	switch {
	case cfg.Verifier != nil && cfg.Provider.Verifier != nil:
		return nil, configError("set Verifier or Provider.Verifier, not both")
	case cfg.Provider.Verifier != nil:
		p.verifier = cfg.Provider.Verifier
	case cfg.Verifier != nil:
		p.verifier = cfg.Verifier
	case cfg.Keys != nil:
		v, err := signature.NewVerifier(signature.VerifierConfig{Keys: cfg.Keys, Now: cfg.Now})
		if err != nil {
			return nil, configError("Keys: %w", err)
		}
		p.verifier = v
	default:
		return nil, configError("no signature verification: set Keys (Standard Webhooks), Verifier, or a Provider with a Verifier; unsigned requests are never accepted")
	}

	if p.lease < 0 || p.retention < 0 || cfg.StoreTimeout < 0 {
		return nil, configError("ClaimLease, Retention and StoreTimeout must not be negative")
	}
	p.storeTimeout = cfg.StoreTimeout
	if p.storeTimeout == 0 {
		p.storeTimeout = DefaultStoreTimeout
	}
	if p.lease == 0 {
		p.lease = DefaultClaimLease
	}
	p.retention = idempotency.RetentionOrDefault(p.retention)

	switch {
	case p.maxBody < 0:
		return nil, configError("MaxBodyBytes must not be negative, got %d", p.maxBody)
	case p.maxBody == 0:
		p.maxBody = DefaultMaxBodyBytes
	case p.maxBody > 1<<30:
		return nil, configError("MaxBodyBytes %d is above 1 GiB; webhook payloads should stay small", p.maxBody)
	}
	p.parser = event.Parser{MaxSize: int(p.maxBody)}

	for _, pf := range cfg.AllowedSources {
		if !pf.IsValid() {
			return nil, configError("AllowedSources contains an invalid prefix")
		}
	}
	for _, pf := range cfg.TrustedProxies {
		if !pf.IsValid() {
			return nil, configError("TrustedProxies contains an invalid prefix")
		}
	}
	if len(cfg.TrustedProxies) > 0 && len(cfg.AllowedSources) == 0 {
		return nil, configError("TrustedProxies is set but AllowedSources is empty; proxies matter only for the source allow-list")
	}
	p.sources = sourceFilter{allowed: masked(cfg.AllowedSources), proxies: masked(cfg.TrustedProxies)}

	p.allow = []string{"POST"}
	if h := cfg.Handshake; h != nil {
		if len(h.AllowedOrigins) == 0 {
			return nil, configError("Handshake.AllowedOrigins is empty; list the sender origins to allow, or leave Handshake nil")
		}
		for _, o := range h.AllowedOrigins {
			if o == "" || !printable(o) {
				return nil, configError("Handshake.AllowedOrigins contains %q; origins are host names without spaces", o)
			}
		}
		if h.AllowedRate < 0 {
			return nil, configError("Handshake.AllowedRate must not be negative")
		}
		hc := *h
		hc.AllowedOrigins = append([]string(nil), h.AllowedOrigins...)
		p.handshake = &hc
		p.allow = []string{"POST, OPTIONS"}
	}

	ra := cfg.RetryAfter
	switch {
	case ra < 0:
		return nil, configError("RetryAfter must not be negative")
	case ra == 0:
		ra = DefaultRetryAfter
	case ra < time.Second:
		ra = time.Second
	}
	p.retryAfter = []string{strconv.FormatInt(int64((ra+time.Second-1)/time.Second), 10)}

	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.store == nil {
		// Middleware has no Shutdown to stop a sweeper: its store expires
		// keys lazily (it is bounded either way).
		sweep := time.Duration(0)
		if !closable {
			sweep = -1
		}
		p.ownStore = idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: cfg.Now, SweepInterval: sweep})
		p.store = p.ownStore
	}
	if _, ok := p.store.(*idempotency.MemoryStore); ok {
		// The memory store answers synchronously: a claim is either made
		// and returned, or not made. It needs no detached context (and
		// the request path saves the allocations).
		p.storeTimeout = 0
	}
	return p, nil
}

func masked(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Masked()
	}
	return out
}

// close releases what newPipeline created.
func (p *pipeline) close() {
	if p.ownStore != nil {
		p.ownStore.Close()
	}
}
