package sender

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Gate rejections. A delivery turned away by an endpoint's gate is rescheduled without using up
// one of its attempts; these errors appear in logs and in the Observer's reports, never as a
// delivery's final error.
var (
	// ErrCircuitOpen means the endpoint's circuit breaker is open after repeated failures:
	// deliveries wait until a probe succeeds.
	ErrCircuitOpen = errors.New("sender: circuit breaker open for endpoint")
	// ErrRateLimited means the endpoint's rate limit (Endpoint.RateLimit) is reached.
	ErrRateLimited = errors.New("sender: endpoint rate limit reached")
	// ErrConcurrencyLimit means the endpoint already has its maximum number of deliveries in
	// flight (Endpoint.MaxConcurrency).
	ErrConcurrencyLimit = errors.New("sender: endpoint concurrency limit reached")
)

// BreakerConfig tunes the per-endpoint circuit breaker. The breaker opens when either trigger
// fires: ConsecutiveFailures failures in a row, or a failure ratio of at least FailureRatio over
// the last Window with at least MinRequests attempts in it. While open, deliveries to the endpoint
// are rescheduled without using up attempts. After OpenFor, one probe delivery is let through
// (half-open): a success closes the breaker, a failure opens it again.
//
// A failure is an attempt classified as retry or throttle (5xx, 429, timeouts, connection
// errors, redirects); a delivered or permanently refused attempt is a success for the breaker,
// since the endpoint answered.
type BreakerConfig struct {
	// Disabled turns the breaker off. Defaults to false (breaker on).
	Disabled bool
	// ConsecutiveFailures opens the breaker after that many failures in a row.
	// Defaults to 10; a negative value turns this trigger off.
	ConsecutiveFailures int
	// FailureRatio opens the breaker when failures/attempts over Window reaches it.
	// Defaults to 0.7; a negative value turns this trigger off.
	FailureRatio float64
	// MinRequests is the minimum number of attempts in Window before FailureRatio applies.
	// Defaults to 10.
	MinRequests int
	// Window is the sliding window of the failure ratio. Defaults to 5 minutes.
	Window time.Duration
	// OpenFor is how long the breaker stays open before letting a probe through.
	// Defaults to 30 seconds.
	OpenFor time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = 10
	}
	if c.FailureRatio == 0 {
		c.FailureRatio = 0.7
	}
	if c.MinRequests <= 0 {
		c.MinRequests = 10
	}
	if c.Window <= 0 {
		c.Window = 5 * time.Minute
	}
	if c.OpenFor <= 0 {
		c.OpenFor = 30 * time.Second
	}
	return c
}

// breakerState is the state of a circuit breaker.
type breakerState int

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

func (s breakerState) String() string {
	switch s {
	case breakerClosed:
		return "closed"
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

const breakerBuckets = 10

type breakerBucket struct {
	start         time.Time
	total, failed int
}

// breaker is a circuit breaker driven by the times passed in (no clock of its own), so tests move
// it with plain time values. It is safe for concurrent use.
type breaker struct {
	cfg BreakerConfig

	mu          sync.Mutex
	state       breakerState
	openedAt    time.Time
	probing     bool // a half-open probe is in flight
	consecutive int
	buckets     [breakerBuckets]breakerBucket
}

func newBreaker(cfg BreakerConfig) *breaker { return &breaker{cfg: cfg} }

// allow reports whether an attempt may start at now. When it may not, wait is how long until the
// breaker may let one through. probe is true for the single half-open probe; the caller passes it
// back to record (or to cancel if the attempt never starts).
func (b *breaker) allow(now time.Time) (ok, probe bool, wait time.Duration) {
	if b == nil || b.cfg.Disabled {
		return true, false, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerOpen:
		if until := b.openedAt.Add(b.cfg.OpenFor); now.Before(until) {
			return false, false, until.Sub(now)
		}
		b.state = breakerHalfOpen
		fallthrough
	case breakerHalfOpen:
		if b.probing {
			// Come back after at most one cool-down; the probe settles the state by then.
			return false, false, b.cfg.OpenFor
		}
		b.probing = true
		return true, true, 0
	}
	return true, false, 0
}

// cancel gives back a probe slot taken by allow for an attempt that did not start.
func (b *breaker) cancel(probe bool) {
	if b == nil || !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// record counts the result of an attempt that allow admitted and returns the state before and
// after, so the caller can log transitions.
func (b *breaker) record(now time.Time, probe, failed bool) (from, to breakerState) {
	if b == nil || b.cfg.Disabled {
		return breakerClosed, breakerClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	from = b.state
	if probe {
		b.probing = false
	}
	b.count(now, failed)
	switch {
	case !failed:
		b.consecutive = 0
		if b.state == breakerHalfOpen && probe {
			b.state = breakerClosed
			b.buckets = [breakerBuckets]breakerBucket{}
		}
	default:
		b.consecutive++
		switch b.state {
		case breakerHalfOpen:
			if probe {
				b.trip(now)
			}
		case breakerClosed:
			if b.shouldTrip(now) {
				b.trip(now)
			}
		}
	}
	return from, b.state
}

func (b *breaker) trip(now time.Time) {
	b.state = breakerOpen
	b.openedAt = now
	b.probing = false
}

func (b *breaker) bucketWidth() time.Duration {
	w := b.cfg.Window / breakerBuckets
	if w <= 0 {
		w = 1
	}
	return w
}

func (b *breaker) count(now time.Time, failed bool) {
	width := b.bucketWidth()
	start := now.Truncate(width)
	i := int((start.UnixNano() / int64(width)) % breakerBuckets)
	if i < 0 {
		i += breakerBuckets
	}
	bk := &b.buckets[i]
	if !bk.start.Equal(start) {
		*bk = breakerBucket{start: start}
	}
	bk.total++
	if failed {
		bk.failed++
	}
}

func (b *breaker) shouldTrip(now time.Time) bool {
	if n := b.cfg.ConsecutiveFailures; n > 0 && b.consecutive >= n {
		return true
	}
	if b.cfg.FailureRatio <= 0 {
		return false
	}
	var total, failed int
	oldest := now.Add(-b.cfg.Window)
	for _, bk := range b.buckets {
		if bk.total == 0 || !bk.start.After(oldest) {
			continue
		}
		total += bk.total
		failed += bk.failed
	}
	return total >= b.cfg.MinRequests && float64(failed)/float64(total) >= b.cfg.FailureRatio
}

func (b *breaker) currentState() breakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// gateLimits are the endpoint settings a gate is built from; a change rebuilds the
// semaphore and the limiter (the breaker's history is kept).
type gateLimits struct {
	maxConcurrency int
	rateLimit      float64 // deliveries per second; 0 means unlimited
}

// gate guards one endpoint between the claim and the attempt: breaker, rate limit and
// concurrency cap. It never blocks: a refusal comes with the time to wait, and the dispatcher
// reschedules the delivery for then.
type gate struct {
	limits gateLimits
	sem    *semaphore.Weighted
	lim    *rate.Limiter // nil: no rate limit
	br     *breaker
	// fullSince is when the concurrency cap was first found full since a slot was last
	// released (UnixNano), 0 when not full.
	fullSince atomic.Int64
}

// ticket is an admission through a gate; pass it to gate.done when the attempt has finished.
type ticket struct {
	g     *gate
	probe bool
}

func newGate(l gateLimits, br *breaker) *gate {
	g := &gate{limits: l, br: br}
	if l.maxConcurrency <= 0 {
		l.maxConcurrency = DefaultMaxConcurrency
	}
	g.sem = semaphore.NewWeighted(int64(l.maxConcurrency))
	if l.rateLimit > 0 {
		burst := int(math.Ceil(l.rateLimit))
		g.lim = rate.NewLimiter(rate.Limit(l.rateLimit), burst)
	}
	return g
}

// A delivery refused for the concurrency cap waits before it is claimed again for as long as
// the cap has been full (no slot released), within these bounds: a busy but healthy endpoint
// frees slots often and its deliveries come back quickly, while the deliveries of an endpoint
// whose attempts hang are not claimed over and over.
const (
	minConcurrencyRetry = 100 * time.Millisecond
	maxConcurrencyRetry = 5 * time.Second
)

// admit lets an attempt through at now or says why not and for how long to wait. The breaker
// is asked first, so an open endpoint uses neither rate tokens nor slots.
func (g *gate) admit(now time.Time) (t ticket, wait time.Duration, err error) {
	ok, probe, wait := g.br.allow(now)
	if !ok {
		return ticket{}, wait, ErrCircuitOpen
	}
	if !g.sem.TryAcquire(1) {
		g.br.cancel(probe)
		since := g.fullSince.Load()
		if since == 0 && g.fullSince.CompareAndSwap(0, now.UnixNano()) {
			since = now.UnixNano()
		}
		wait := min(max(time.Duration(now.UnixNano()-since), minConcurrencyRetry), maxConcurrencyRetry)
		return ticket{}, wait, ErrConcurrencyLimit
	}
	if g.lim != nil {
		r := g.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			g.sem.Release(1)
			g.br.cancel(probe)
			return ticket{}, d, ErrRateLimited
		}
	}
	return ticket{g: g, probe: probe}, 0, nil
}

// done releases the slot taken by admit and records the result in the breaker. A ticket whose
// attempt never reached the endpoint (shutdown) passes counted=false.
func (t ticket) done(now time.Time, counted, failed bool) (from, to breakerState) {
	if t.g == nil {
		return breakerClosed, breakerClosed
	}
	t.g.sem.Release(1)
	t.g.fullSince.Store(0)
	if !counted {
		t.g.br.cancel(t.probe)
		return breakerClosed, breakerClosed
	}
	return t.g.br.record(now, t.probe, failed)
}

// gates holds one gate per endpoint. It is safe for concurrent use.
type gates struct {
	cfg BreakerConfig
	mu  sync.Mutex
	m   map[string]*gate
}

func newGates(cfg BreakerConfig) *gates {
	return &gates{cfg: cfg, m: make(map[string]*gate)}
}

// get returns the gate of an endpoint, rebuilding it if its limits changed.
func (gs *gates) get(endpointID string, l gateLimits) *gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g, ok := gs.m[endpointID]
	if ok && g.limits == l {
		return g
	}
	var br *breaker
	if ok {
		br = g.br
	} else if !gs.cfg.Disabled {
		br = newBreaker(gs.cfg)
	}
	g = newGate(l, br)
	gs.m[endpointID] = g
	return g
}

// forget drops an endpoint's gate (after the endpoint is deleted or re-enabled).
func (gs *gates) forget(endpointID string) {
	gs.mu.Lock()
	delete(gs.m, endpointID)
	gs.mu.Unlock()
}
