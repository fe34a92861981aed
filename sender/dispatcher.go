package sender

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

	"golang.org/x/sync/errgroup"

	"github.com/hookkit/hookkit/retry"
)

// storeTimeout bounds the store writes made after an attempt or at shutdown, which must not be
// cancelled with the attempt.
const storeTimeout = 10 * time.Second

// Run delivers due deliveries until ctx is done or Shutdown is called, then returns once every
// attempt it started has finished or its lease was returned. It returns nil after Shutdown and
// ctx.Err() when ctx ended it (in-flight attempts are then cancelled and their leases
// returned). Run may be called once.
func (s *Sender) Run(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.stopping:
		s.mu.Unlock()
		return ErrClosed
	default:
	}
	if s.started {
		s.mu.Unlock()
		return ErrAlreadyRunning
	}
	s.started = true
	// Attempts run under their own context: Shutdown lets them finish, and cancels them only
	// when its deadline passes (or ctx ends).
	attemptCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	d := newDispatcher(s)
	// A fixed pool of Workers goroutines (their stacks stay grown for the HTTP path) takes the
	// claimed deliveries from the ready buffer, in claim order.
	for range s.cfg.Workers {
		d.group.Go(func() error {
			for c := range d.jobs {
				d.queued.Add(-1)
				d.poke()
				d.start(attemptCtx, c)
			}
			return nil
		})
	}

	var hb sync.WaitGroup
	hbStop := make(chan struct{})
	hb.Go(func() { d.heartbeat(attemptCtx, hbStop) })

	var ctxErr error
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		d.loop(attemptCtx)
	}()
	select {
	case <-loopDone:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		s.stop()
		cancel()
		<-loopDone
	}
	close(d.jobs)
	_ = d.group.Wait()
	d.settles.Wait()
	d.releaseUnstarted(attemptCtx)
	close(hbStop)
	hb.Wait()
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	return ctxErr
}

// Shutdown stops the dispatcher: it claims nothing more, lets in-flight attempts finish until
// ctx is done, then cancels the rest and returns their leases to the store (they are attempted
// again, by this or another sender, without using up an attempt). It returns when Run has
// returned, with ctx.Err() if the deadline cut attempts short. Calling it without Run, or
// twice, is fine.
func (s *Sender) Shutdown(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	started, cancel := s.started, s.cancel
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		cancel()
		<-s.done
		return ctx.Err()
	}
}

func (s *Sender) stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// dispatcher is the state of one Run.
//
// Claimed deliveries wait in a small ready buffer (jobs) until a worker is free; the workers take
// them in claim order and pass each through its endpoint's gate right before the attempt. Under a
// backlog the loop claims full batches: it claims again only when the buffer has fallen to a
// low-water mark, so a database-backed store runs one claim per BatchSize deliveries rather than
// one per few finished attempts. Buffered deliveries are leased (the heartbeat renews them) and
// go back to the store with SettleRelease at Shutdown, without an attempt. Settlements are
// written in the background: a worker takes its next delivery while the previous one's result
// is being recorded (a store such as pgstore coalesces concurrent Settle calls into one write).
type dispatcher struct {
	s     *Sender
	group errgroup.Group // the worker pool: Config.Workers goroutines
	jobs  chan *Claimed  // the ready buffer: claimed, not yet taken by a worker

	batch    int64 // Config.BatchSize
	lowWater int64 // claim again (under a backlog) when at most this many wait in jobs
	capacity int64 // attempts running + deliveries waiting in jobs, at most
	// maxSettling bounds the settlements being written in the background; the loop claims
	// nothing more while it is reached.
	maxSettling int64

	queued    atomic.Int64 // deliveries in jobs
	active    atomic.Int64 // attempts running
	settling  atomic.Int64 // settlements being written in the background
	settles   sync.WaitGroup
	slotFreed chan struct{} // poked when any of the three counts went down

	mu        sync.Mutex
	inflight  map[DeliveryID]struct{} // leases to renew: claimed and not yet settled
	unstarted []DeliveryID            // taken from jobs after Shutdown: leases to return
}

func newDispatcher(s *Sender) *dispatcher {
	batch := int64(s.cfg.BatchSize)
	lowWater := max(1, batch/2)
	// With Workers attempts running and lowWater deliveries left in the buffer, a whole batch
	// still fits.
	capacity := int64(s.cfg.Workers) + batch + lowWater
	return &dispatcher{
		s: s, batch: batch, lowWater: lowWater, capacity: capacity, maxSettling: capacity,
		jobs:      make(chan *Claimed, capacity),
		slotFreed: make(chan struct{}, 1),
		inflight:  make(map[DeliveryID]struct{}),
	}
}

// poke wakes the loop if it waits for room.
func (d *dispatcher) poke() {
	select {
	case d.slotFreed <- struct{}{}:
	default:
	}
}

// loop claims due deliveries into the ready buffer until Shutdown.
func (d *dispatcher) loop(ctx context.Context) {
	s := d.s
	backlog := false
	for {
		if d.stopped() {
			return
		}
		var notified <-chan struct{}
		if s.notifier != nil {
			notified = s.notifier.Notify() // before Claim, so no wake-up is lost
		}
		// Under a backlog, wait until the buffer has fallen to the low-water mark and claim a
		// whole batch, rather than claiming a few deliveries per finished attempt.
		queued := d.queued.Load()
		room := d.capacity - d.active.Load() - queued
		if room <= 0 || (backlog && queued > d.lowWater) || d.settling.Load() >= d.maxSettling {
			select {
			case <-d.slotFreed:
				continue
			case <-s.stopping:
				return
			}
		}
		limit := int(min(room, d.batch))
		now := s.clock.Now()
		claimed, err := s.store.Claim(ctx, ClaimRequest{Owner: s.cfg.ID, Now: now, Limit: limit, Lease: s.cfg.Lease})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.LogAttrs(ctx, slog.LevelError, "sender: claiming deliveries failed", slog.Any("error", err))
			d.sleep(time.Time{}, nil)
			continue
		}
		d.enqueue(claimed)
		backlog = len(claimed) == limit
		if len(claimed) > 0 {
			continue // there may be more due
		}
		var dueAt time.Time // the next delivery that was not yet due at now
		if at, ok, err := s.store.NextDue(ctx); err == nil && ok && at.After(now) {
			dueAt = at
		}
		d.sleep(dueAt, notified)
	}
}

// enqueue puts claimed deliveries into the ready buffer (which always has room: the loop claims
// at most capacity minus what is running or buffered).
func (d *dispatcher) enqueue(claimed []Claimed) {
	if len(claimed) == 0 {
		return
	}
	d.mu.Lock()
	for i := range claimed {
		d.inflight[claimed[i].Delivery.ID] = struct{}{}
	}
	d.mu.Unlock()
	d.queued.Add(int64(len(claimed)))
	for i := range claimed {
		d.jobs <- &claimed[i]
	}
}

func (d *dispatcher) stopped() bool {
	select {
	case <-d.s.stopping:
		return true
	default:
		return false
	}
}

// sleep waits until dueAt (zero: no due time known) or for at most PollInterval, a store
// notification, a local wake-up (publish, replay, enable) or Shutdown, whichever comes first.
// The wait is measured from the clock's time when the timer is armed, and the sleep is skipped
// if dueAt has been reached meanwhile, so a clock that jumps (a fake one in tests) never leaves
// a due delivery waiting.
func (d *dispatcher) sleep(dueAt time.Time, notified <-chan struct{}) {
	wait := d.s.cfg.PollInterval
	if !dueAt.IsZero() {
		until := dueAt.Sub(d.s.clock.Now())
		if until <= 0 {
			return
		}
		wait = min(wait, until)
	}
	t := d.s.clock.NewTimer(wait)
	defer t.Stop()
	if !dueAt.IsZero() && !d.s.clock.Now().Before(dueAt) {
		return
	}
	select {
	case <-t.C():
	case <-notified:
	case <-d.s.wakeCh:
	case <-d.s.stopping:
	}
}

// start passes a claimed delivery through its endpoint's gate and makes the attempt, or
// reschedules it without using up an attempt when the gate holds it back. After Shutdown it
// only notes the delivery, whose lease Run returns.
func (d *dispatcher) start(ctx context.Context, c *Claimed) {
	s := d.s
	if d.stopped() {
		d.mu.Lock()
		d.unstarted = append(d.unstarted, c.Delivery.ID)
		d.mu.Unlock()
		return
	}
	now := s.clock.Now()
	g := s.gates.get(c.Endpoint.ID, gateLimits{
		maxConcurrency: c.Endpoint.MaxConcurrency, rateLimit: c.Endpoint.RateLimit, timeout: c.Endpoint.Timeout,
	}, now)
	// A refusal's wait comes from the endpoint's pacer: held-back deliveries queue behind
	// each other at the pace the endpoint can take them.
	tk, wait, err := g.admit(now)
	if err != nil {
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.LogAttrs(ctx, slog.LevelDebug, "sender: delivery held back by the endpoint's gate",
				slog.String("endpoint_id", c.Endpoint.ID), slog.Int64("delivery_id", int64(c.Delivery.ID)),
				slog.String("reason", err.Error()), slog.Duration("wait", wait))
		}
		d.settleLater(ctx, now, Settlement{DeliveryID: c.Delivery.ID, Kind: SettleReschedule, NextAttemptAt: now.Add(wait)}, nil)
		return
	}
	d.active.Add(1)
	defer func() {
		d.active.Add(-1)
		d.poke()
	}()
	d.work(ctx, c, tk)
}

// releaseUnstarted returns the leases of the deliveries taken from the buffer after Shutdown.
func (d *dispatcher) releaseUnstarted(ctx context.Context) {
	d.mu.Lock()
	ids := d.unstarted
	d.unstarted = nil
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	sts := make([]Settlement, len(ids))
	for i, id := range ids {
		sts[i] = Settlement{DeliveryID: id, Kind: SettleRelease}
	}
	d.settle(ctx, d.s.clock.Now(), sts...)
	d.untrack(ids...)
}

func (d *dispatcher) untrack(ids ...DeliveryID) {
	d.mu.Lock()
	for _, id := range ids {
		delete(d.inflight, id)
	}
	d.mu.Unlock()
}

// settleLater writes st in the background, then calls then (if not nil) with whether it was
// applied. Run waits for it before returning.
func (d *dispatcher) settleLater(ctx context.Context, now time.Time, st Settlement, then func(applied bool)) {
	d.settling.Add(1)
	d.settles.Go(func() {
		defer func() {
			d.untrack(st.DeliveryID)
			d.settling.Add(-1)
			d.poke()
		}()
		applied, ok := d.settleRecovered(ctx, now, st)
		if !ok {
			// The store panicked: return the lease so the delivery is attempted again at once
			// rather than after the lease expires.
			d.settleRecovered(ctx, d.s.clock.Now(), Settlement{DeliveryID: st.DeliveryID, Kind: SettleRelease})
			return
		}
		if then != nil {
			then(applied)
		}
	})
}

// settleRecovered is settle recovering (and logging) a panic in the store; ok is false after
// one.
func (d *dispatcher) settleRecovered(ctx context.Context, now time.Time, st Settlement) (applied, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.s.log.LogAttrs(ctx, slog.LevelError, "sender: panic in delivery worker",
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())),
				slog.Int64("delivery_id", int64(st.DeliveryID)))
			applied, ok = false, false
		}
	}()
	return d.settle(ctx, now, st), true
}

// settle writes settlements (with a fresh, bounded context if ctx was cancelled by a shutdown)
// and logs failures.
// It reports whether they were applied.
func (d *dispatcher) settle(ctx context.Context, now time.Time, sts ...Settlement) bool {
	s := d.s
	sctx := ctx
	if ctx.Err() != nil {
		// Shutting down: the attempt's result (or the returned lease) must still be recorded.
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
	}
	err := s.store.Settle(sctx, SettleRequest{Owner: s.cfg.ID, Now: now, Settlements: sts})
	if err == nil {
		return true
	}
	level := slog.LevelError
	if errors.Is(err, ErrLeaseLost) {
		// Someone else owns the delivery now (our lease expired): their result counts.
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "sender: settling deliveries failed", slog.Int("deliveries", len(sts)), slog.Any("error", err))
	return false
}

// work makes one attempt and settles it. A panic is recovered: the lease is returned.
func (d *dispatcher) work(ctx context.Context, c *Claimed, tk ticket) {
	s := d.s
	var w workState
	defer func() {
		if r := recover(); r != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "sender: panic in delivery worker",
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())),
				slog.Int64("delivery_id", int64(c.Delivery.ID)), slog.String("endpoint_id", c.Endpoint.ID))
			if !w.ticketDone {
				tk.done(s.clock.Now(), false, false)
			}
			if !w.settled {
				// Return the lease so the delivery is attempted again at once rather than
				// after the lease expires.
				d.settle(ctx, s.clock.Now(), Settlement{DeliveryID: c.Delivery.ID, Kind: SettleRelease})
				d.untrack(c.Delivery.ID)
			}
		}
	}()

	signer, err := s.signers.get(&c.Endpoint)
	var res attemptResult
	if err != nil {
		res = attemptResult{started: s.clock.Now(), outcome: retry.Outcome{Kind: retry.PermanentFailure, Err: err}}
	} else {
		timeout := c.Endpoint.Timeout
		if timeout <= 0 {
			timeout = DefaultEndpointTimeout
		}
		res = s.att.do(ctx, attemptRequest{
			url: c.Endpoint.URL, eventID: c.Event.ID, body: c.Event.Payload,
			headers: c.Endpoint.Headers, signer: signer, timeout: timeout,
		})
	}
	if res.outcome.CallerCanceled() {
		// Shutdown cut the attempt short: not the endpoint's fault, not an attempt.
		w.ticketDone = true
		tk.done(s.clock.Now(), false, false)
		w.settled = true
		d.settle(ctx, s.clock.Now(), Settlement{DeliveryID: c.Delivery.ID, Kind: SettleRelease})
		d.untrack(c.Delivery.ID)
		return
	}
	d.finish(ctx, c, tk, res, &w)
}

// workState tracks how far a worker got, for its panic handler.
type workState struct {
	ticketDone bool // the gate ticket was given back
	settled    bool // the settlement call returned
}

// finish decides what follows an attempt, records it and tells the Observer.
func (d *dispatcher) finish(ctx context.Context, c *Claimed, tk ticket, res attemptResult, w *workState) {
	s := d.s
	now := s.clock.Now()
	o := res.outcome
	n := c.Delivery.Attempts + 1

	w.ticketDone = true
	from, to := tk.done(now, true, o.Kind == retry.Retry || o.Kind == retry.Throttle)
	switch {
	case from == to:
	case to == breakerOpen:
		s.log.LogAttrs(ctx, slog.LevelWarn, "sender: circuit breaker opened for endpoint",
			slog.String("endpoint_id", c.Endpoint.ID), slog.Duration("open_for", s.cfg.Breaker.OpenFor))
	case to == breakerClosed:
		s.log.LogAttrs(ctx, slog.LevelInfo, "sender: circuit breaker closed for endpoint", slog.String("endpoint_id", c.Endpoint.ID))
	}

	errText := attemptErrorText(o)
	att := &Attempt{
		StartedAt: res.started, Duration: res.duration, StatusCode: o.StatusCode,
		Error: errText, ResponseSnippet: res.snippet, Outcome: o.Kind.String(),
	}
	st := Settlement{DeliveryID: c.Delivery.ID, Attempt: att, Health: HealthFailed}
	rep := AttemptReport{
		DeliveryID: c.Delivery.ID, EventID: c.Event.ID, EventType: c.Event.Type, EndpointID: c.Endpoint.ID,
		Attempt: n, Outcome: o.Kind, StatusCode: o.StatusCode, StartedAt: res.started, Duration: res.duration,
		RetryAfter: o.RetryAfter,
	}
	if errText != "" {
		rep.Err = attemptErr(o, errText)
	}

	var disabled string
	switch o.Kind {
	case retry.Delivered:
		st.Kind, st.Health = SettleDelivered, HealthSucceeded
	case retry.Gone:
		st.Kind = SettleDead
		st.Error = "endpoint answered 410 Gone"
		disabled = "endpoint answered 410 Gone"
	default:
		elapsed := time.Duration(0)
		if c.Delivery.Attempts > 0 {
			elapsed = now.Sub(c.Delivery.CreatedAt)
		}
		delay, ok := retry.Next(s.cfg.Policy, retry.Attempt{N: n, Elapsed: elapsed, Outcome: o})
		if ok {
			st.Kind, st.NextAttemptAt, st.Error = SettleRetry, now.Add(delay), errText
			att.NextAttemptAt = st.NextAttemptAt
		} else {
			st.Kind = SettleDead
			if o.Kind == retry.PermanentFailure {
				st.Error = "permanent failure: " + errText
			} else {
				st.Error = fmt.Sprintf("retries exhausted after %s: %s", plural(n, "attempt"), errText)
			}
		}
		if s.cfg.DisableAfter > 0 && !c.Endpoint.FailingSince.IsZero() && now.Sub(c.Endpoint.FailingSince) >= s.cfg.DisableAfter {
			disabled = fmt.Sprintf("failing without a success since %s (more than %s)",
				c.Endpoint.FailingSince.UTC().Format(time.RFC3339), s.cfg.DisableAfter)
		}
	}
	st.DisableEndpoint = disabled

	// The worker moves on while the result is written; the Observer hears of it afterwards.
	w.settled = true
	d.settleLater(ctx, now, st, func(applied bool) {
		d.reportSettled(ctx, c, st, &rep, res, errText, now, applied)
	})
}

// reportSettled tells the Observer and the log what became of an attempt once its settlement
// was written.
func (d *dispatcher) reportSettled(ctx context.Context, c *Claimed, st Settlement, rep *AttemptReport, res attemptResult, errText string, now time.Time, applied bool) {
	s := d.s
	o := res.outcome
	n := rep.Attempt
	disabled := st.DisableEndpoint
	d.notify(ctx, obsAttempt, rep, nil)
	if !applied {
		return
	}
	var level slog.Level
	var msg string
	switch st.Kind {
	case SettleDelivered:
		level, msg = slog.LevelDebug, "sender: webhook delivered"
	case SettleRetry:
		rep.NextAttemptAt = st.NextAttemptAt
		level, msg = slog.LevelInfo, "sender: webhook attempt failed, retry scheduled"
	case SettleDead:
		rep.Reason = st.Error
		level, msg = slog.LevelWarn, "sender: webhook dead-lettered"
	}
	if s.log.Enabled(ctx, level) {
		attrs := make([]slog.Attr, 0, 12)
		attrs = append(attrs,
			slog.Int64("delivery_id", int64(c.Delivery.ID)), slog.String("event_id", c.Event.ID),
			slog.String("event_type", c.Event.Type), slog.String("endpoint_id", c.Endpoint.ID),
			slog.Int("attempt", n), slog.Int("status", o.StatusCode), slog.String("outcome", o.Kind.String()),
			slog.Duration("duration", res.duration))
		if errText != "" {
			attrs = append(attrs, slog.String("error", errText))
		}
		if !st.NextAttemptAt.IsZero() {
			attrs = append(attrs, slog.Time("next_attempt_at", st.NextAttemptAt))
		}
		if st.Kind == SettleDead {
			attrs = append(attrs, slog.String("reason", st.Error))
		}
		s.log.LogAttrs(ctx, level, msg, attrs...)
	}
	switch st.Kind {
	case SettleDelivered:
		d.notify(ctx, obsDelivered, rep, nil)
		if fs := c.Endpoint.FailingSince; !fs.IsZero() {
			s.log.LogAttrs(ctx, slog.LevelInfo, "sender: endpoint recovered", slog.String("endpoint_id", c.Endpoint.ID), slog.Time("failing_since", fs))
			d.notify(ctx, obsRecovered, nil, &EndpointReport{EndpointID: c.Endpoint.ID, At: now, FailingSince: fs})
		}
	case SettleRetry:
		d.notify(ctx, obsRetry, rep, nil)
	case SettleDead:
		d.notify(ctx, obsDead, rep, nil)
	}
	if disabled != "" && !c.Endpoint.Disabled {
		s.log.LogAttrs(ctx, slog.LevelWarn, "sender: endpoint disabled", slog.String("endpoint_id", c.Endpoint.ID), slog.String("reason", disabled))
		d.notify(ctx, obsDisabled, nil, &EndpointReport{EndpointID: c.Endpoint.ID, At: now, Reason: disabled, FailingSince: c.Endpoint.FailingSince})
	}
}

// Observer calls, for notify.
const (
	obsAttempt = iota
	obsDelivered
	obsRetry
	obsDead
	obsDisabled
	obsRecovered
)

// notify calls one Observer method, recovering a panic in it.
func (d *dispatcher) notify(ctx context.Context, which int, a *AttemptReport, e *EndpointReport) {
	defer d.recoverObserver(ctx)
	o := d.s.obs
	switch which {
	case obsAttempt:
		o.AttemptFinished(ctx, *a)
	case obsDelivered:
		o.Delivered(ctx, *a)
	case obsRetry:
		o.RetryScheduled(ctx, *a)
	case obsDead:
		o.DeadLettered(ctx, *a)
	case obsDisabled:
		o.EndpointDisabled(ctx, *e)
	case obsRecovered:
		o.EndpointRecovered(ctx, *e)
	}
}

func (d *dispatcher) recoverObserver(ctx context.Context) {
	if r := recover(); r != nil {
		d.s.log.LogAttrs(ctx, slog.LevelError, "sender: panic in Observer", slog.Any("panic", r))
	}
}

// plural returns "1 attempt", "2 attempts".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// attemptErrorText describes a failed attempt: the transport error, or the HTTP status.
func attemptErrorText(o retry.Outcome) string {
	switch {
	case o.Kind == retry.Delivered:
		return ""
	case o.Err != nil && o.StatusCode != 0:
		return fmt.Sprintf("HTTP %d: %v", o.StatusCode, o.Err)
	case o.Err != nil:
		return o.Err.Error()
	case o.StatusCode != 0:
		return fmt.Sprintf("HTTP %d %s", o.StatusCode, http.StatusText(o.StatusCode))
	}
	return o.Kind.String()
}

// attemptErr is the Observer's error of a failed attempt: the transport error if any.
func attemptErr(o retry.Outcome, text string) error {
	if o.Err != nil {
		return o.Err
	}
	return errors.New(text)
}

// heartbeat renews the leases of running attempts every Lease/3 until stop is closed.
func (d *dispatcher) heartbeat(ctx context.Context, stop <-chan struct{}) {
	s := d.s
	interval := s.cfg.Lease / 3
	t := s.clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C():
		}
		d.renew(ctx)
		t.Reset(interval)
	}
}

func (d *dispatcher) renew(ctx context.Context) {
	s := d.s
	d.mu.Lock()
	ids := make([]DeliveryID, 0, len(d.inflight))
	for id := range d.inflight {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	now := s.clock.Now()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := s.store.ExtendLeases(sctx, ExtendRequest{Owner: s.cfg.ID, IDs: ids, Now: now, Until: now.Add(s.cfg.Lease)}); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "sender: renewing leases failed", slog.Any("error", err))
	}
}
