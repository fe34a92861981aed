package sender

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Gate rejections. A delivery turned away by an endpoint's gate is rescheduled without using up
// one of its attempts, for when the endpoint can plausibly take it: deliveries held back for one
// endpoint queue behind each other at its pace (its recent attempt duration divided by
// MaxConcurrency, or its RateLimit), so a large backlog is not claimed over and over. These errors
// appear in logs, never as a delivery's final error.
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
// are rescheduled without using up attempts: the first for the end of OpenFor, the others spread
// after it at the pace the endpoint can take (sparser after each failed probe). After OpenFor, one
// probe delivery is let through (half-open): a success closes the breaker, a failure opens it
// again.
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
	trips       int  // times opened since it was last closed
	consecutive int
	buckets     [breakerBuckets]breakerBucket
}

func newBreaker(cfg BreakerConfig) *breaker { return &breaker{cfg: cfg} }

// allow reports whether an attempt may start at now. When it may not, wait is how long until the
// breaker may let one through, 0 while a half-open probe is in flight. probe is true for the single half-open probe; the caller passes it
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
			// The probe settles the state when it finishes (wait 0: unknown).
			return false, false, 0
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
			b.trips = 0
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
	b.trips++
}

// failedProbes returns how many half-open probes failed in a row since the breaker last closed.
func (b *breaker) failedProbes() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.trips-1, 0)
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
// semaphore and the limiter (the breaker's history and the pacer are kept).
type gateLimits struct {
	maxConcurrency int
	rateLimit      float64       // deliveries per second; 0 means unlimited
	timeout        time.Duration // the attempt timeout: the longest an attempt is expected to take
}

// gate guards one endpoint between the claim and the attempt: breaker, rate limit and
// concurrency cap. It never blocks: a refusal comes with the time to wait, handed out by the
// endpoint's pacer, and the dispatcher reschedules the delivery for then.
type gate struct {
	limits  gateLimits    // as given, to tell when they change
	slots   int           // limits.maxConcurrency with its default
	timeout time.Duration // limits.timeout with its default
	sem     *semaphore.Weighted
	lim     *rate.Limiter // nil: no rate limit
	br      *breaker
	pc      *pacer
	// fullSince is when the concurrency cap was first found full since a slot was last
	// released (UnixNano), 0 when not full: the in-flight attempts have been running at least
	// that long, a lower bound on their duration before any has finished.
	fullSince atomic.Int64
	inflight  atomic.Int64 // admitted attempts not yet done
	lastUsed  time.Time    // guarded by gates.mu
}

// ticket is an admission through a gate; pass it to gate.done when the attempt has finished.
type ticket struct {
	g       *gate
	probe   bool
	started time.Time
}

func newGate(l gateLimits, br *breaker, pc *pacer) *gate {
	if pc == nil {
		pc = &pacer{}
	}
	g := &gate{limits: l, slots: l.maxConcurrency, timeout: l.timeout, br: br, pc: pc}
	if g.slots <= 0 {
		g.slots = DefaultMaxConcurrency
	}
	if g.timeout <= 0 {
		g.timeout = DefaultEndpointTimeout
	}
	g.sem = semaphore.NewWeighted(int64(g.slots))
	if l.rateLimit > 0 {
		burst := int(math.Ceil(l.rateLimit))
		g.lim = rate.NewLimiter(rate.Limit(l.rateLimit), burst)
	}
	return g
}

// admit lets an attempt through at now or says why not and how long the delivery should wait
// before it is claimed again. The breaker is asked first, so an open endpoint uses neither rate
// tokens nor slots.
//
// The wait comes from the endpoint's pacer (see pacer): refused deliveries are spread so that
// about as many come due per period as the endpoint can take, and each one of a large backlog
// is claimed about once more rather than over and over.
func (g *gate) admit(now time.Time) (t ticket, wait time.Duration, err error) {
	ok, probe, bwait := g.br.allow(now)
	if !ok {
		// Paced as if the probe will succeed, but sparser after each failed one, so the
		// backlog of an endpoint that stays down is not cycled through at its full pace.
		step := min(g.step(now), maxPaceAhead) << min(g.br.failedProbes(), maxProbeBackoff)
		base := now.Add(bwait) // the end of the cool-down
		if bwait <= 0 {
			// A half-open probe is in flight: its result is due in about one attempt.
			base = now.Add(g.expected(now))
		}
		return ticket{}, g.pc.slot(now, base, step).Sub(now), ErrCircuitOpen
	}
	if !g.sem.TryAcquire(1) {
		g.br.cancel(probe)
		if g.fullSince.Load() == 0 {
			g.fullSince.CompareAndSwap(0, now.UnixNano())
		}
		step := g.step(now)
		return ticket{}, g.pc.slot(now, now.Add(step), step).Sub(now), ErrConcurrencyLimit
	}
	if g.lim != nil {
		r := g.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			g.sem.Release(1)
			g.br.cancel(probe)
			interval := time.Duration(min(float64(time.Second)/g.limits.rateLimit, float64(maxPaceAhead)))
			step := max(g.step(now), interval)
			return ticket{}, g.pc.slot(now, now.Add(d), step).Sub(now), ErrRateLimited
		}
	}
	g.inflight.Add(1)
	return ticket{g: g, probe: probe, started: now}, 0, nil
}

// expected is how long an attempt to the endpoint is expected to take: the average of its recent
// attempts (at least minAttempt; guessAttempt before the first has finished), at least as long
// as the cap has been full, at most the timeout.
func (g *gate) expected(now time.Time) time.Duration {
	e := guessAttempt
	if avg := g.pc.average(); avg > 0 {
		e = max(avg, minAttempt)
	}
	if since := g.fullSince.Load(); since != 0 {
		// The attempts in flight have run at least that long with no slot freed.
		e = max(e, time.Duration(now.UnixNano()-since))
	}
	return max(min(e, g.timeout), minAttempt)
}

// step is the pacing interval of refused deliveries: one attempt's expected duration shared by
// the concurrency cap, so that about MaxConcurrency come due per attempt duration. It is a little
// shorter (paceFactor) so that slightly more come due than the endpoint takes and its capacity
// is used up: a delivery that finds the cap still full loses its turn, which would otherwise
// leave a slot unused.
func (g *gate) step(now time.Time) time.Duration {
	return max(time.Duration(float64(g.expected(now))*paceFactor)/time.Duration(g.slots), time.Microsecond)
}

// done releases the slot taken by admit, records the attempt's duration in the pacer and its
// result in the breaker. A ticket whose attempt never reached the endpoint (shutdown) passes
// counted=false.
func (t ticket) done(now time.Time, counted, failed bool) (from, to breakerState) {
	if t.g == nil {
		return breakerClosed, breakerClosed
	}
	t.g.sem.Release(1)
	t.g.inflight.Add(-1)
	t.g.fullSince.Store(0)
	if !counted {
		t.g.br.cancel(t.probe)
		return breakerClosed, breakerClosed
	}
	t.g.pc.observe(now.Sub(t.started))
	return t.g.br.record(now, t.probe, failed)
}

// Pacing bounds.
const (
	// guessAttempt is how long an attempt is assumed to take before any attempt to the
	// endpoint has finished (an optimistic guess: underestimating costs a held-back delivery
	// one more claim, overestimating delays it).
	guessAttempt = 10 * time.Millisecond
	// minAttempt is the least an attempt is assumed to take.
	minAttempt = time.Millisecond
	// paceFactor shortens the pacing step a little, see gate.step.
	paceFactor = 0.875
	// maxPaceAhead bounds how far beyond its base time (now, or the end of the breaker's
	// cool-down) the pacer schedules a delivery. A backlog longer than that is parked at
	// the horizon (spread over another quarter of it) and claimed again about once per
	// horizon, so an endpoint that recovers is not left with deliveries scheduled hours
	// ahead by a pessimistic estimate.
	maxPaceAhead = 10 * time.Minute
	// maxProbeBackoff bounds the doubling of an open breaker's pacing step per failed probe.
	maxProbeBackoff = 16
	// ewmaShift sets the weight of a new duration sample in the average: 1/2^ewmaShift.
	ewmaShift = 2
)

// pacer hands out the due times of the deliveries an endpoint's gate refuses. Refused
// deliveries queue behind each other, step apart (the endpoint's expected attempt duration
// divided by its concurrency cap, or the rate limit's interval), starting at a base time (the
// next plausible free slot, the limiter's next token, the end of the breaker's cool-down). So
// about as many held-back deliveries come due per period as the endpoint can take, and a
// delivery refused again goes to the back of the queue instead of coming back at once.
//
// For an open breaker the queue starts at the end of the cool-down, when the half-open probe is
// let through, and is paced as if the probe will succeed; each failed probe in a row doubles its
// step, so the backlog of an endpoint that stays down thins out instead of cycling through the
// store at the pace of a healthy one.
//
// The queue is kept as its end time only: a new step applies from there on. (Stretching the
// queued part when the estimate grows would leave the endpoint idle: the deliveries queued too
// densely come due, are mostly refused again and requeue at the end, so the endpoint's capacity
// between the old end and the stretched one would go unused.) Every time except the head of a
// queue gets a jitter within its step, so senders sharing a store do not align. Its state is a
// few words per endpoint, whatever the backlog. It is safe for concurrent use.
type pacer struct {
	mu   sync.Mutex
	next time.Time     // the end of the queue: the next free due time
	avg  time.Duration // moving average of attempt durations, 0 before the first sample
}

// observe records the duration of a finished attempt.
func (p *pacer) observe(d time.Duration) {
	d = max(d, 0)
	p.mu.Lock()
	if p.avg == 0 {
		p.avg = d
	} else {
		p.avg += (d - p.avg) >> ewmaShift
	}
	p.mu.Unlock()
}

// average returns the moving average of attempt durations (0 before the first sample).
func (p *pacer) average() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.avg
}

// slot hands out the next due time at or after base, step after the previous one.
func (p *pacer) slot(now, base time.Time, step time.Duration) time.Time {
	anchor := base
	if anchor.Before(now) {
		anchor = now
	}
	step = min(max(step, time.Microsecond), maxPaceAhead)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.next.After(anchor) {
		// No queue beyond the base: this delivery is the head, due exactly then.
		p.next = anchor.Add(step)
		return anchor
	}
	at := p.next
	if at.Sub(anchor) > maxPaceAhead {
		return anchor.Add(maxPaceAhead + rand.N(maxPaceAhead/4))
	}
	p.next = at.Add(step)
	return at.Add(rand.N(step))
}

// idle reports whether the pacer has no queue beyond now.
func (p *pacer) idle(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.next.After(now)
}

// gates holds one gate per endpoint. It is safe for concurrent use.
type gates struct {
	cfg BreakerConfig
	mu  sync.Mutex
	m   map[string]*gate
	// swept is when idle gates were last dropped.
	swept time.Time
}

// Idle gates are dropped so memory follows the endpoints in use: every gateSweepEvery, those
// unused for gateIdleAfter (and at least the breaker's Window and OpenFor) with nothing in
// flight, a closed breaker and no pacing queue.
const (
	gateSweepEvery = time.Minute
	gateIdleAfter  = 10 * time.Minute
)

func newGates(cfg BreakerConfig) *gates {
	return &gates{cfg: cfg, m: make(map[string]*gate)}
}

// get returns the gate of an endpoint at now, rebuilding it if its limits changed.
func (gs *gates) get(endpointID string, l gateLimits, now time.Time) *gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.sweep(now)
	g, ok := gs.m[endpointID]
	if !ok || g.limits != l {
		var br *breaker
		var pc *pacer
		if ok {
			br, pc = g.br, g.pc
		} else if !gs.cfg.Disabled {
			br = newBreaker(gs.cfg)
		}
		g = newGate(l, br, pc)
		gs.m[endpointID] = g
	}
	if now.After(g.lastUsed) {
		g.lastUsed = now
	}
	return g
}

// sweep drops idle gates, at most once per gateSweepEvery. gs.mu is held.
func (gs *gates) sweep(now time.Time) {
	if now.Sub(gs.swept) < gateSweepEvery {
		return
	}
	gs.swept = now
	idleAfter := max(gateIdleAfter, gs.cfg.Window, gs.cfg.OpenFor)
	for id, g := range gs.m {
		if now.Sub(g.lastUsed) < idleAfter || g.inflight.Load() != 0 || !g.pc.idle(now) {
			continue
		}
		if g.br != nil && g.br.currentState() != breakerClosed {
			continue
		}
		delete(gs.m, id)
	}
}

// forget drops an endpoint's gate (after the endpoint is deleted or re-enabled).
func (gs *gates) forget(endpointID string) {
	gs.mu.Lock()
	delete(gs.m, endpointID)
	gs.mu.Unlock()
}
