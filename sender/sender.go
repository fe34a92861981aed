package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/internal/ssrf"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/signature"
)

// Sender errors, besides the Store errors (ErrEndpointNotFound, …) and endpoint validation
// errors (ErrInvalidEndpoint, …) that its methods pass on.
var (
	// ErrInvalidConfig is wrapped by New's errors about a bad Config.
	ErrInvalidConfig = errors.New("sender: invalid config")
	// ErrInvalidEvent is wrapped, together with the event package's own sentinel (for example
	// event.ErrInvalidType or event.ErrSchemaMismatch), by Publish and Send for an event that
	// fails validation. Nothing was stored.
	ErrInvalidEvent = errors.New("sender: invalid event")
	// ErrPayloadTooLarge reports an event whose JSON encoding exceeds Config.MaxPayloadBytes.
	// Nothing was stored. Errors carrying it are *PayloadTooLargeError values.
	ErrPayloadTooLarge = errors.New("sender: event payload too large")
	// ErrEndpointDisabled reports a Send to a disabled endpoint. Enable it first.
	ErrEndpointDisabled = errors.New("sender: endpoint is disabled")
	// ErrAlreadyRunning reports a second call of Run.
	ErrAlreadyRunning = errors.New("sender: Run was already called")
	// ErrClosed reports a Run after Shutdown.
	ErrClosed = errors.New("sender: sender was shut down")
)

// PayloadTooLargeError reports an oversized event. It matches ErrPayloadTooLarge and
// event.ErrTooLarge with errors.Is.
type PayloadTooLargeError struct {
	// Size is the encoded event's size in bytes and Limit the configured maximum.
	Size, Limit int
}

// Error implements error.
func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("sender: event payload is %d bytes, the limit is %d; send less data and a resource_url to fetch the rest", e.Size, e.Limit)
}

// Unwrap returns ErrPayloadTooLarge and event.ErrTooLarge.
func (e *PayloadTooLargeError) Unwrap() []error {
	return []error{ErrPayloadTooLarge, event.ErrTooLarge}
}

// Config configures New. The zero value is usable: a memory store, the default retry schedule,
// and an SSRF guard that refuses private networks.
type Config struct {
	// Store keeps endpoints, events, deliveries and the attempt log. Defaults to a new
	// MemoryStore, which does not survive a restart.
	Store Store
	// Catalog, when set, validates every published event (registered types, schemas; unknown
	// types in strict mode). Defaults to nil: events are only checked by Event.Validate.
	Catalog *event.Catalog
	// Policy is the retry schedule. Defaults to retry.Default() (the Standard Webhooks
	// schedule: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with ±20 % jitter).
	Policy retry.Policy
	// Classifier classifies attempts (PermanentStatuses, MaxRetryAfter). Defaults to the zero
	// retry.Classifier: every failure is retried, Retry-After is capped at 24 h.
	Classifier retry.Classifier
	// Workers is the number of attempts in flight at once over all endpoints. Attempts mostly
	// wait on the network, so this is high: each endpoint's own cap (Endpoint.MaxConcurrency,
	// 10 by default) is what protects receivers, and keeps an endpoint that hangs from taking
	// more than its share. Defaults to 128.
	Workers int
	// BatchSize is how many due deliveries the dispatcher claims at once. Under a backlog
	// claimed deliveries wait in a ready buffer for a free worker, so one Sender holds leases
	// on at most Workers + BatchSize + BatchSize/2 deliveries (plus those whose settlement is
	// being written); a crash delays these until their leases expire. Defaults to
	// min(Workers, 64).
	BatchSize int
	// Lease is how long a claimed delivery belongs to this sender before another may claim it;
	// leases of running attempts are renewed every Lease/3. Defaults to 1 minute.
	Lease time.Duration
	// PollInterval is how often an idle dispatcher looks for due deliveries when the store
	// cannot wake it (it does not implement Notifier), and the longest it sleeps otherwise
	// when the store has nothing due. Defaults to 1 second.
	PollInterval time.Duration
	// DisableAfter disables an endpoint that has been failing without a single success for
	// that long (an Observer.EndpointDisabled report follows). Defaults to 5 days; negative
	// never disables.
	DisableAfter time.Duration
	// MaxPayloadBytes caps the encoded size of a published event. Defaults to
	// event.DefaultMaxSize (1 MiB).
	MaxPayloadBytes int
	// HTTPSOnly refuses endpoints with http:// URLs. Defaults to false.
	HTTPSOnly bool
	// AllowPrivateNetworks lets deliveries reach private, loopback, link-local and other
	// internal addresses, which the SSRF guard refuses by default. Only for tests, local
	// development and trusted internal endpoints. Defaults to false.
	AllowPrivateNetworks bool
	// AllowedNetworks are address ranges deliveries may reach even though the SSRF guard
	// would refuse them (for example one internal subnet), without opening all private
	// networks. Defaults to none.
	AllowedNetworks []netip.Prefix
	// AllowedHosts are host names deliveries may reach whatever they resolve to, compared
	// without case; "*.example.internal" allows every name below example.internal.
	// Defaults to none.
	AllowedHosts []string
	// Resolver looks up the addresses of endpoint host names for the SSRF guard, which judges
	// every answer and then dials the address it judged (so a DNS answer that changes between
	// the check and the dial cannot slip through). *net.Resolver implements it; tests and
	// deployments with their own DNS can supply another. Defaults to net.DefaultResolver.
	Resolver Resolver
	// MaxConnsPerHost caps the connections to one host (keep-alive connections are reused).
	// Defaults to 64. Ignored when HTTPClient is set, and when Transport sets its own.
	MaxConnsPerHost int
	// MaxResponseBytes is how much of a response body an attempt reads. Defaults to
	// DefaultMaxResponseBytes (64 KiB). Response headers are capped separately at
	// DefaultMaxResponseHeaderBytes (64 KiB) unless Transport sets MaxResponseHeaderBytes.
	MaxResponseBytes int64
	// ResponseSnippetBytes is how much of the response body the attempt log keeps. Defaults to
	// DefaultSnippetBytes (256), at most MaxResponseSnippet.
	ResponseSnippetBytes int
	// Transport, when set, is cloned and used for deliveries (TLS settings, idle connection
	// tuning, …). Its dialer is replaced by the SSRF guard's, so the guard stays in force.
	// Its Proxy, if any, is kept: a forward proxy dials on the sender's behalf and so
	// BYPASSES the SSRF guard; make sure the proxy refuses internal addresses itself.
	// Defaults to a transport without proxy.
	Transport *http.Transport
	// HTTPClient, when set, sends every attempt instead of the sender's own client. It
	// BYPASSES the SSRF guard (and MaxConnsPerHost) unless its transport dials with
	// Config.DialContext; prefer Transport. Redirects are never followed whatever its
	// CheckRedirect says (the client is copied). Defaults to nil.
	HTTPClient *http.Client
	// Breaker tunes the per-endpoint circuit breaker. Defaults to BreakerConfig's defaults.
	Breaker BreakerConfig
	// Observer receives delivery events. Defaults to NopObserver.
	Observer Observer
	// Logger receives structured logs: failed attempts at Info, dead letters, disabled
	// endpoints and breaker trips at Warn, store errors at Error, successes at Debug. Secrets
	// (signing keys, custom header values, URL query strings) are never logged.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// ID identifies this sender as the owner of its leases; it must be unique among senders
	// sharing a store. Defaults to "sender_" + a random UUID.
	ID string

	// Clock is the time source of the Sender: attempt and lease times, retry schedules,
	// rate limits, breakers and the dispatcher's timers. Tests pass sendertest.NewClock to
	// drive retry schedules without sleeping. Defaults to the system clock.
	Clock Clock

	// clock is the internal test hook for a fake clock; it wins over Clock. nil means Clock.
	clock clock.Clock
	// dial replaces the SSRF guard's dialer in tests; nil means the guard.
	dial dialFunc
}

// Clock is a time source for Config.Clock. Its timers follow time.NewTimer: NewTimer returns a
// channel that receives the time once at least d has passed, and a stop function reporting
// whether it stopped the timer before it fired. Implementations must be safe for concurrent
// use. sendertest.Clock is a fake one for tests.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// clockAdapter turns a Clock into the internal clock.Clock.
type clockAdapter struct{ c Clock }

func (a clockAdapter) Now() time.Time                  { return a.c.Now() }
func (a clockAdapter) Since(t time.Time) time.Duration { return a.c.Now().Sub(t) }
func (a clockAdapter) NewTimer(d time.Duration) clock.Timer {
	t := &adaptedTimer{c: a.c}
	t.ch, t.stop = a.c.NewTimer(d)
	return t
}

// adaptedTimer is a clock.Timer over a Clock's timers; it is used by one goroutine at a time.
type adaptedTimer struct {
	c    Clock
	ch   <-chan time.Time
	stop func() bool
}

func (t *adaptedTimer) C() <-chan time.Time { return t.ch }
func (t *adaptedTimer) Stop() bool          { return t.stop() }
func (t *adaptedTimer) Reset(d time.Duration) bool {
	was := t.stop()
	t.ch, t.stop = t.c.NewTimer(d)
	return was
}

// Default values of Config.
const (
	DefaultWorkers      = 128
	DefaultLease        = time.Minute
	DefaultPollInterval = time.Second
	DefaultDisableAfter = 5 * 24 * time.Hour
)

// withDefaults applies defaults and validates: the one place both happen.
func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		c.Store = NewMemoryStore(MemoryStoreConfig{})
	}
	if c.Policy == nil {
		c.Policy = retry.Default()
	}
	if err := retry.Validate(c.Policy); err != nil {
		return c, fmt.Errorf("%w: Policy: %w", ErrInvalidConfig, err)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.BatchSize == 0 {
		c.BatchSize = min(c.Workers, 64)
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = event.DefaultMaxSize
	}
	if c.MaxConnsPerHost == 0 {
		c.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.ResponseSnippetBytes == 0 {
		c.ResponseSnippetBytes = DefaultSnippetBytes
	}
	c.Breaker = c.Breaker.withDefaults()
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ID == "" {
		c.ID = "sender_" + uuid.NewString()
	}
	if c.clock == nil && c.Clock != nil {
		c.clock = clockAdapter{c.Clock}
	}
	c.clock = clock.OrReal(c.clock)

	var problems []string
	check := func(ok bool, msg string) {
		if !ok {
			problems = append(problems, msg)
		}
	}
	check(c.Workers > 0, "Workers must be positive")
	check(c.BatchSize > 0, "BatchSize must be positive")
	check(c.Lease >= time.Second, "Lease must be at least 1s")
	check(c.PollInterval > 0, "PollInterval must be positive")
	check(c.MaxPayloadBytes > 0, "MaxPayloadBytes must be positive")
	check(c.MaxConnsPerHost > 0, "MaxConnsPerHost must be positive")
	check(c.MaxResponseBytes > 0, "MaxResponseBytes must be positive")
	check(c.ResponseSnippetBytes > 0 && c.ResponseSnippetBytes <= MaxResponseSnippet, fmt.Sprintf("ResponseSnippetBytes must be 1 to %d", MaxResponseSnippet))
	check(c.Breaker.FailureRatio <= 1, "Breaker.FailureRatio must be at most 1")
	check(int64(c.ResponseSnippetBytes) <= c.MaxResponseBytes, "ResponseSnippetBytes must not exceed MaxResponseBytes")
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return c, nil
}

// Resolver looks up the IP addresses of a host, as *net.Resolver does. See Config.Resolver.
type Resolver interface {
	// LookupNetIP looks up host; network is "ip", "ip4" or "ip6".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialContext returns the SSRF-guarded dial function a Sender built from c uses: it refuses
// private, loopback, link-local, CGNAT, multicast and cloud-metadata addresses after DNS
// resolution, except what AllowPrivateNetworks, AllowedNetworks and AllowedHosts permit.
// Use it as the DialContext of the transport of a custom HTTPClient to keep the guard.
// Errors wrap ErrInvalidConfig (a malformed allow-list entry).
func (c Config) DialContext() (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	var resolver ssrf.Resolver
	if c.Resolver != nil {
		resolver = c.Resolver
	}
	guard, err := ssrf.New(ssrf.Config{AllowPrivate: c.AllowPrivateNetworks, Allow: c.AllowedNetworks, AllowHosts: c.AllowedHosts, Resolver: resolver})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return guard.DialContext, nil
}

// Sender publishes events to endpoints and delivers them: Publish and Send store deliveries,
// Run dispatches them until Shutdown. Endpoint management, dead letters, replay and the attempt
// log are methods too. A Sender is safe for concurrent use.
type Sender struct {
	cfg       Config
	store     Store
	notifier  Notifier // nil when the store cannot wake us
	clock     clock.Clock
	log       *slog.Logger
	obs       Observer
	att       *attempter
	transport *http.Transport // nil when Config.HTTPClient is used
	gates     *gates
	signers   signerCache
	wakeCh    chan struct{}

	mu       sync.Mutex
	started  bool
	stopping chan struct{} // closed by Shutdown
	stopOnce sync.Once
	done     chan struct{} // closed when Run returns
	cancel   context.CancelFunc
}

// New returns a Sender. It does not start delivering: call Run.
func New(cfg Config) (*Sender, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sender{
		cfg:      cfg,
		store:    cfg.Store,
		clock:    cfg.clock,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		gates:    newGates(cfg.Breaker),
		wakeCh:   make(chan struct{}, 1),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.signers.now = s.clock.Now
	if n, ok := cfg.Store.(Notifier); ok {
		s.notifier = n
	}
	client := cfg.HTTPClient
	if client == nil {
		dial := cfg.dial
		if dial == nil {
			if dial, err = cfg.DialContext(); err != nil {
				return nil, err
			}
		}
		s.transport = newTransport(cfg.Transport, dial, cfg.MaxConnsPerHost)
	}
	classifier := cfg.Classifier
	if classifier.Now == nil {
		classifier.Now = s.clock.Now
	}
	s.att = &attempter{
		client:     newHTTPClient(client, s.transport),
		classifier: classifier,
		clock:      s.clock,
		maxBody:    cfg.MaxResponseBytes,
		snippet:    cfg.ResponseSnippetBytes,
	}
	return s, nil
}

// Store returns the sender's store.
func (s *Sender) Store() Store { return s.store }

// wake tells an idle dispatcher to look for work at once.
func (s *Sender) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// PublishOption tunes one Publish or Send.
type PublishOption func(*publishOptions)

type publishOptions struct {
	idempotencyKey string
	deliverAt      time.Time
}

// WithIdempotencyKey makes the publish idempotent: a later Publish or Send with the same key
// (until the store prunes it) stores nothing and returns the first call's result with
// Duplicate set.
func WithIdempotencyKey(key string) PublishOption {
	return func(o *publishOptions) { o.idempotencyKey = key }
}

// WithDeliverAt delays the first attempt until t.
func WithDeliverAt(t time.Time) PublishOption {
	return func(o *publishOptions) { o.deliverAt = t }
}

// Publish stores e once and one delivery for every enabled endpoint subscribed to its type,
// atomically, and wakes the dispatcher. It returns the deliveries created (none if no endpoint
// is subscribed). An invalid event fails with ErrInvalidEvent, an oversized one with
// ErrPayloadTooLarge; then nothing is stored.
func (s *Sender) Publish(ctx context.Context, e event.Event, opts ...PublishOption) (PublishResult, error) {
	req, err := s.request(ctx, e, "", opts)
	if err != nil {
		return PublishResult{}, err
	}
	return s.publish(ctx, req)
}

// Send stores e and one delivery to the endpoint endpointID, whatever its subscriptions, and
// wakes the dispatcher. It fails with ErrEndpointNotFound for an unknown endpoint and
// ErrEndpointDisabled for a disabled one, and like Publish for a bad event.
func (s *Sender) Send(ctx context.Context, endpointID string, e event.Event, opts ...PublishOption) (PublishResult, error) {
	if endpointID == "" {
		return PublishResult{}, fmt.Errorf("%w: empty endpoint id", ErrEndpointNotFound)
	}
	req, err := s.request(ctx, e, endpointID, opts)
	if err != nil {
		return PublishResult{}, err
	}
	return s.publish(ctx, req)
}

// request validates and encodes e and builds the PublishRequest of Publish (endpointID "":
// every enabled endpoint subscribed to e's type) or of Send (that endpoint, which must exist
// and be enabled). It is shared by Publish, Send and their transactional twins.
func (s *Sender) request(ctx context.Context, e event.Event, endpointID string, opts []PublishOption) (PublishRequest, error) {
	payload, o, err := s.prepare(e, opts)
	if err != nil {
		return PublishRequest{}, err
	}
	var ids []string
	if endpointID == "" {
		eps, err := s.store.ListEndpoints(ctx, EndpointFilter{EventType: e.Type, Status: EndpointsEnabled})
		if err != nil {
			return PublishRequest{}, fmt.Errorf("sender: listing endpoints: %w", err)
		}
		ids = make([]string, 0, len(eps))
		for _, ep := range eps {
			if !ep.Disabled && ep.Subscribed(e.Type) {
				ids = append(ids, ep.ID)
			}
		}
	} else {
		ep, err := s.store.GetEndpoint(ctx, endpointID)
		if err != nil {
			return PublishRequest{}, err
		}
		if ep.Disabled {
			return PublishRequest{}, fmt.Errorf("%w: %s", ErrEndpointDisabled, endpointID)
		}
		ids = []string{endpointID}
	}
	now := s.clock.Now()
	return PublishRequest{
		Event: StoredEvent{
			ID:             e.ID,
			Type:           e.Type,
			Payload:        payload,
			CreatedAt:      now,
			IdempotencyKey: o.idempotencyKey,
		},
		EndpointIDs:   ids,
		Now:           now,
		NextAttemptAt: o.deliverAt,
	}, nil
}

// prepare validates e and encodes it once.
func (s *Sender) prepare(e event.Event, opts []PublishOption) ([]byte, publishOptions, error) {
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	if size := e.Size(); size > s.cfg.MaxPayloadBytes {
		return nil, o, &PayloadTooLargeError{Size: size, Limit: s.cfg.MaxPayloadBytes}
	}
	var err error
	if s.cfg.Catalog != nil {
		err = s.cfg.Catalog.Validate(e)
	} else {
		err = e.Validate()
	}
	if err != nil {
		if errors.Is(err, event.ErrTooLarge) {
			return nil, o, fmt.Errorf("%w: %w", ErrPayloadTooLarge, err)
		}
		return nil, o, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	payload, err := e.MarshalJSON()
	if err != nil {
		return nil, o, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if len(payload) > s.cfg.MaxPayloadBytes {
		return nil, o, &PayloadTooLargeError{Size: len(payload), Limit: s.cfg.MaxPayloadBytes}
	}
	return payload, o, nil
}

// publish stores req and wakes the dispatcher.
func (s *Sender) publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	res, err := s.store.Publish(ctx, req)
	if err != nil {
		return PublishResult{}, err
	}
	if !res.Duplicate && len(res.Deliveries) > 0 {
		s.wake()
	}
	return res, nil
}

// CreateEndpoint validates and stores a new endpoint and returns it as stored. An empty ID is
// replaced by "ep_" + a random UUID; without Keys a new "whsec_" secret is generated (read it
// from the returned endpoint to give it to the receiver). Defaults are applied
// (Endpoint.WithDefaults). Errors: a *ValidationError (ErrInvalidEndpoint), or
// ErrDuplicateEndpoint.
func (s *Sender) CreateEndpoint(ctx context.Context, ep Endpoint) (Endpoint, error) {
	ep = ep.Clone()
	if ep.ID == "" {
		ep.ID = "ep_" + uuid.NewString()
	}
	if len(ep.Keys) == 0 {
		secret, err := signature.GenerateSecret()
		if err != nil {
			return Endpoint{}, fmt.Errorf("sender: generating a secret: %w", err)
		}
		ep.Keys = []EndpointKey{{Secret: secret}}
	}
	ep = ep.WithDefaults()
	if err := s.validateEndpoint(ep); err != nil {
		return Endpoint{}, err
	}
	now := s.clock.Now()
	ep.CreatedAt, ep.UpdatedAt = now, now
	ep.LastSuccessAt, ep.LastFailureAt, ep.FailingSince = time.Time{}, time.Time{}, time.Time{}
	if ep.Disabled && ep.DisabledAt.IsZero() {
		ep.DisabledAt = now
	}
	if err := s.store.CreateEndpoint(ctx, ep); err != nil {
		return Endpoint{}, err
	}
	return ep, nil
}

// validateEndpoint runs Endpoint.Validate and parses every key with the signature package.
func (s *Sender) validateEndpoint(ep Endpoint) error {
	if err := ep.Validate(ValidateOptions{HTTPSOnly: s.cfg.HTTPSOnly}); err != nil {
		return err
	}
	for i, k := range ep.Keys {
		key, err := signature.ParseKey(k.Secret)
		if err != nil || !key.CanSign() {
			return &ValidationError{Field: fmt.Sprintf("Keys[%d]", i), Err: fmt.Errorf("%w (not a valid signing key)", ErrInvalidKey)}
		}
	}
	return nil
}

// GetEndpoint returns an endpoint, or ErrEndpointNotFound.
func (s *Sender) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	return s.store.GetEndpoint(ctx, id)
}

// ListEndpoints returns the endpoints matching f, ordered by id.
func (s *Sender) ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error) {
	return s.store.ListEndpoints(ctx, f)
}

// UpdateEndpoint replaces an endpoint's settings (URL, description, keys, subscriptions,
// headers, limits, ordering, timeout, metadata) with ep's and returns the stored endpoint.
// Its status (Disabled, health times) and CreatedAt are kept: use DisableEndpoint and
// EnableEndpoint to change the status. Empty Keys keep the current keys (rotate them with
// overlap with RotateSecret). Errors: ErrEndpointNotFound, or a *ValidationError.
func (s *Sender) UpdateEndpoint(ctx context.Context, ep Endpoint) (Endpoint, error) {
	return s.modifyEndpoint(ctx, ep.ID, func(cur *Endpoint) error {
		next := ep.Clone().WithDefaults()
		if len(next.Keys) == 0 {
			next.Keys = cur.Keys
		}
		next.CreatedAt = cur.CreatedAt
		next.Disabled, next.DisabledReason, next.DisabledAt = cur.Disabled, cur.DisabledReason, cur.DisabledAt
		next.LastSuccessAt, next.LastFailureAt, next.FailingSince = cur.LastSuccessAt, cur.LastFailureAt, cur.FailingSince
		*cur = next
		return nil
	})
}

// modifyEndpoint reads, changes, validates and writes back an endpoint.
func (s *Sender) modifyEndpoint(ctx context.Context, id string, change func(*Endpoint) error) (Endpoint, error) {
	if err := ValidateEndpointID(id); err != nil {
		return Endpoint{}, err
	}
	cur, err := s.store.GetEndpoint(ctx, id)
	if err != nil {
		return Endpoint{}, err
	}
	cur = cur.Clone()
	if err := change(&cur); err != nil {
		return Endpoint{}, err
	}
	cur.ID = id
	if err := s.validateEndpoint(cur); err != nil {
		return Endpoint{}, err
	}
	cur.UpdatedAt = s.clock.Now()
	if err := s.store.UpdateEndpoint(ctx, cur); err != nil {
		return Endpoint{}, err
	}
	return cur, nil
}

// DisableEndpoint stops deliveries to an endpoint: its pending deliveries pause and Publish
// creates none for it, until EnableEndpoint. reason is recorded.
func (s *Sender) DisableEndpoint(ctx context.Context, id, reason string) (Endpoint, error) {
	return s.modifyEndpoint(ctx, id, func(ep *Endpoint) error {
		if !ep.Disabled {
			ep.Disabled, ep.DisabledAt = true, s.clock.Now()
		}
		ep.DisabledReason = reason
		return nil
	})
}

// EnableEndpoint resumes deliveries to a disabled endpoint: its paused deliveries become due,
// its failure history and circuit breaker are reset.
func (s *Sender) EnableEndpoint(ctx context.Context, id string) (Endpoint, error) {
	ep, err := s.modifyEndpoint(ctx, id, func(ep *Endpoint) error {
		ep.Disabled, ep.DisabledReason, ep.DisabledAt = false, "", time.Time{}
		ep.FailingSince = time.Time{}
		return nil
	})
	if err == nil {
		s.gates.forget(id)
		s.wake()
	}
	return ep, err
}

// RotateSecret adds a new signing secret to an endpoint and returns it. The current keys keep
// signing for grace (so receivers have time to switch), then expire; keys already expired are
// dropped. A grace of 0 stops the old keys at once.
func (s *Sender) RotateSecret(ctx context.Context, id string, grace time.Duration) (EndpointKey, error) {
	if grace < 0 {
		return EndpointKey{}, fmt.Errorf("%w: negative grace period", ErrInvalidRequest)
	}
	secret, err := signature.GenerateSecret()
	if err != nil {
		return EndpointKey{}, fmt.Errorf("sender: generating a secret: %w", err)
	}
	key := EndpointKey{Secret: secret}
	_, err = s.modifyEndpoint(ctx, id, func(ep *Endpoint) error {
		now := s.clock.Now()
		until := now.Add(grace)
		keys := make([]EndpointKey, 0, len(ep.Keys)+1)
		for _, k := range ep.Keys {
			if !k.Active(now) || grace == 0 {
				continue
			}
			if k.NotAfter.IsZero() || k.NotAfter.After(until) {
				k.NotAfter = until
			}
			keys = append(keys, k)
		}
		if len(keys) >= MaxKeys {
			keys = keys[len(keys)-MaxKeys+1:]
		}
		ep.Keys = append(keys, key)
		return nil
	})
	if err != nil {
		return EndpointKey{}, err
	}
	return key, nil
}

// DeleteEndpoint removes an endpoint with its deliveries and their attempt log. Errors:
// ErrEndpointNotFound.
func (s *Sender) DeleteEndpoint(ctx context.Context, id string) error {
	if err := s.store.DeleteEndpoint(ctx, id); err != nil {
		return err
	}
	s.gates.forget(id)
	s.signers.forget(id)
	return nil
}

// GetDelivery returns a delivery, or ErrDeliveryNotFound.
func (s *Sender) GetDelivery(ctx context.Context, id DeliveryID) (Delivery, error) {
	return s.store.GetDelivery(ctx, id)
}

// ListDeliveries returns deliveries (by event, endpoint, state, time), newest first.
func (s *Sender) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	return s.store.ListDeliveries(ctx, f)
}

// ListAttempts queries the attempt log (by event, endpoint, delivery, outcome, time), newest
// first.
func (s *Sender) ListAttempts(ctx context.Context, f AttemptFilter) ([]Attempt, error) {
	return s.store.ListAttempts(ctx, f)
}

// ListDeadLetters returns dead-lettered deliveries (by endpoint, event type, time), most
// recent first.
func (s *Sender) ListDeadLetters(ctx context.Context, f DeadLetterFilter) ([]Delivery, error) {
	return s.store.ListDeadLetters(ctx, f)
}

// Replay sends a dead-lettered (or delivered) delivery again: a new series of attempts with
// the same event id, so receivers can deduplicate. Errors: ErrDeliveryNotFound,
// ErrNotReplayable.
func (s *Sender) Replay(ctx context.Context, id DeliveryID) error {
	_, err := s.replay(ctx, ReplayRequest{DeliveryID: id})
	return err
}

// ReplayEndpoint replays every dead letter of an endpoint dead-lettered at or after since
// (zero: all of them) and returns how many. Errors: ErrEndpointNotFound.
func (s *Sender) ReplayEndpoint(ctx context.Context, endpointID string, since time.Time) (int, error) {
	if endpointID == "" {
		return 0, fmt.Errorf("%w: empty endpoint id", ErrEndpointNotFound)
	}
	return s.replay(ctx, ReplayRequest{EndpointID: endpointID, Since: since})
}

// ReplaySince replays every dead letter dead-lettered at or after since and returns how many.
func (s *Sender) ReplaySince(ctx context.Context, since time.Time) (int, error) {
	if since.IsZero() {
		return 0, fmt.Errorf("%w: ReplaySince needs a non-zero time", ErrInvalidRequest)
	}
	return s.replay(ctx, ReplayRequest{Since: since})
}

func (s *Sender) replay(ctx context.Context, req ReplayRequest) (int, error) {
	req.Now = s.clock.Now()
	n, err := s.store.Replay(ctx, req)
	if n > 0 {
		s.wake()
	}
	return n, err
}
