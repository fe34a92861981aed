package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hookkit/hookkit/sender"
)

// ErrClosed reports a call on a closed Store.
var ErrClosed = errors.New("pgstore: store is closed")

// maxSettleBatch caps how many settlements one coalesced statement carries.
const maxSettleBatch = 512

// settleCall is one Settle call waiting for its statement.
type settleCall struct {
	owner  string
	now    time.Time
	items  []sender.Settlement
	notify bool
	done   chan error
}

// settleArgs are the settle statement's arrays, one element per settlement.
type settleArgs struct {
	ids                                  []int64
	owners                               []string
	nows, nextAt, aStarted, aNext        []pgtype.Timestamptz
	kinds, health                        []int16
	errs, disable, aErr, aSnip, aOutcome []string
	hasAtt                               []bool
	aDur                                 []int64
	aStatus                              []int32
}

func (a *settleArgs) add(owner string, now time.Time, st sender.Settlement) {
	a.ids = append(a.ids, int64(st.DeliveryID))
	a.owners = append(a.owners, owner)
	a.nows = append(a.nows, ts(now))
	a.kinds = append(a.kinds, int16(st.Kind))
	a.nextAt = append(a.nextAt, ts(st.NextAttemptAt))
	a.errs = append(a.errs, cleanText(st.Error))
	a.health = append(a.health, int16(st.Health))
	a.disable = append(a.disable, cleanText(st.DisableEndpoint))
	if at := st.Attempt; at != nil {
		a.hasAtt = append(a.hasAtt, true)
		a.aStarted = append(a.aStarted, ts(at.StartedAt))
		a.aDur = append(a.aDur, int64(at.Duration))
		a.aStatus = append(a.aStatus, int32(at.StatusCode))
		a.aErr = append(a.aErr, cleanText(at.Error))
		a.aSnip = append(a.aSnip, truncateUTF8(cleanText(at.ResponseSnippet), sender.MaxResponseSnippet))
		a.aNext = append(a.aNext, ts(at.NextAttemptAt))
		a.aOutcome = append(a.aOutcome, cleanText(at.Outcome))
		return
	}
	a.hasAtt = append(a.hasAtt, false)
	a.aStarted = append(a.aStarted, pgtype.Timestamptz{})
	a.aDur = append(a.aDur, 0)
	a.aStatus = append(a.aStatus, 0)
	a.aErr = append(a.aErr, "")
	a.aSnip = append(a.aSnip, "")
	a.aNext = append(a.aNext, pgtype.Timestamptz{})
	a.aOutcome = append(a.aOutcome, "")
}

// Settle implements sender.Store. The settlements travel as arrays in one
// statement (one round trip): the deliveries are updated under a lease-owner
// and expiry check, attempts appended, endpoint health and disabling applied,
// and a NOTIFY sent when deliveries went back to the queue.
//
// Concurrent Settle calls on one Store are coalesced into one statement (up to
// 512 settlements) while an earlier one runs: a dispatcher settling each attempt
// as it finishes then costs one commit per batch instead of one per delivery.
// Each call still returns after its own settlements are committed, with its own
// *LeaseLostError.
func (s *Store) Settle(ctx context.Context, req sender.SettleRequest) error {
	if req.Owner == "" || req.Now.IsZero() {
		return fmt.Errorf("%w: settle needs an Owner and Now", sender.ErrInvalidRequest)
	}
	if len(req.Settlements) == 0 {
		return nil
	}
	notify := false
	for i, st := range req.Settlements {
		switch st.Kind {
		case sender.SettleDelivered, sender.SettleDead:
		case sender.SettleRetry, sender.SettleReschedule:
			if st.NextAttemptAt.IsZero() {
				return fmt.Errorf("%w: settlement %d (%s) needs NextAttemptAt", sender.ErrInvalidRequest, i, st.Kind)
			}
			notify = notify || st.Kind == sender.SettleReschedule || !st.NextAttemptAt.After(req.Now)
		case sender.SettleRelease:
			notify = true
		default:
			return fmt.Errorf("%w: settlement %d has unknown kind %s", sender.ErrInvalidRequest, i, st.Kind)
		}
		if st.Attempt != nil && (st.Kind == sender.SettleReschedule || st.Kind == sender.SettleRelease) {
			return fmt.Errorf("%w: settlement %d (%s) must not carry an Attempt", sender.ErrInvalidRequest, i, st.Kind)
		}
		if st.Health > sender.HealthFailed {
			return fmt.Errorf("%w: settlement %d has unknown health %d", sender.ErrInvalidRequest, i, st.Health)
		}
	}
	call := &settleCall{owner: req.Owner, now: req.Now, items: req.Settlements, notify: notify, done: make(chan error, 1)}
	if s.settleQ == nil {
		s.flushSettles(ctx, []*settleCall{call})
		return <-call.done
	}
	select {
	case s.settleQ <- call:
	case <-ctx.Done():
		return wrap("settle", ctx.Err())
	case <-s.closing:
		return ErrClosed
	}
	// Once queued, the statement runs whatever ctx does; wait for its result so
	// that an error always means "not applied" or "lease lost".
	select {
	case err := <-call.done:
		return err
	case <-s.stopped:
		// Closed: the flusher either answered before stopping or never took the call.
		select {
		case err := <-call.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// settleLoop coalesces queued Settle calls: it takes one, adds whatever else is
// already waiting, and runs them as one statement.
func (s *Store) settleLoop(ctx context.Context) {
	defer s.done.Done()
	for {
		var first *settleCall
		select {
		case first = <-s.settleQ:
		case <-ctx.Done():
			s.failQueuedSettles()
			return
		}
		batch := []*settleCall{first}
		n := len(first.items)
	drain:
		for n < maxSettleBatch {
			select {
			case c := <-s.settleQ:
				batch = append(batch, c)
				n += len(c.items)
			default:
				break drain
			}
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		s.flushSettles(qctx, batch)
		cancel()
	}
}

func (s *Store) failQueuedSettles() {
	for {
		select {
		case c := <-s.settleQ:
			c.done <- ErrClosed
		default:
			return
		}
	}
}

// maxClaimedMemo bounds Store.claimedEP: deliveries claimed but never settled by
// this store (lost leases) would otherwise accumulate.
const maxClaimedMemo = 1 << 17

func (s *Store) rememberClaims(cs []sender.Claimed) {
	if len(cs) == 0 || s.cfg.HealthGranularity <= 0 {
		return
	}
	s.healthMu.Lock()
	if len(s.claimedEP)+len(cs) > maxClaimedMemo {
		clear(s.claimedEP)
	}
	for i := range cs {
		s.claimedEP[cs[i].Delivery.ID] = cs[i].Endpoint.ID
	}
	s.healthMu.Unlock()
}

// skipHealth reports whether a HealthSucceeded settlement of delivery id at now
// may leave the endpoint's row alone: this store wrote a success for the same
// endpoint less than Config.HealthGranularity earlier (and no failure since).
// Another process's failure in between can then stay recorded for at most that
// long, the lag Config.HealthGranularity documents.
func (s *Store) skipHealthLocked(id sender.DeliveryID, now time.Time) (endpoint string, skip bool) {
	ep, ok := s.claimedEP[id]
	if !ok {
		return "", false
	}
	last, ok := s.successAt[ep]
	if !ok {
		return ep, false
	}
	d := now.Sub(last)
	return ep, d < s.cfg.HealthGranularity && d > -s.cfg.HealthGranularity
}

// flushSettles runs one statement for calls and answers each.
func (s *Store) flushSettles(ctx context.Context, calls []*settleCall) {
	var (
		a      settleArgs
		notify bool
		seen   = map[sender.DeliveryID]bool{}
	)
	type healthNote struct {
		id       sender.DeliveryID
		endpoint string
		health   sender.Health
		now      time.Time
		disabled bool
	}
	var notes []healthNote // in batch order
	needHealth := false
	s.healthMu.Lock()
	for _, c := range calls {
		notify = notify || c.notify
		for _, st := range c.items {
			if seen[st.DeliveryID] {
				// Settled earlier in this batch: its lease is gone by then, so it is
				// reported lost below (the applied id counts once).
				continue
			}
			seen[st.DeliveryID] = true
			ep, skip := "", false
			if s.cfg.HealthGranularity > 0 {
				ep, skip = s.skipHealthLocked(st.DeliveryID, c.now)
				skip = skip && st.Health == sender.HealthSucceeded && st.DisableEndpoint == ""
				delete(s.claimedEP, st.DeliveryID) // the lease ends here either way
			}
			if ep != "" {
				notes = append(notes, healthNote{id: st.DeliveryID, endpoint: ep, health: st.Health, now: c.now, disabled: st.DisableEndpoint != ""})
			}
			if skip {
				st.Health = sender.HealthUnchanged
			}
			needHealth = needHealth || st.Health != sender.HealthUnchanged || st.DisableEndpoint != ""
			a.add(c.owner, c.now, st)
		}
	}
	s.healthMu.Unlock()
	sql := s.q.settle
	if !needHealth {
		sql = s.q.settleLean
	}
	var applied []int64
	var notified int64
	args := []any{notify, s.channel, s.cfg.HealthGranularity,
		a.ids, a.owners, a.nows, a.kinds, a.nextAt, a.errs, a.health, a.disable, a.hasAtt,
		a.aStarted, a.aDur, a.aStatus, a.aErr, a.aSnip, a.aNext, a.aOutcome}
	err := retryConflicts(ctx, func() error {
		// One round trip: the settings and the statement in one implicit transaction.
		b := &pgx.Batch{}
		if s.cfg.SynchronousSettle {
			b.Queue(s.q.genericPlan)
		} else {
			b.Queue(s.q.asyncCommit)
		}
		b.Queue(sql, args...)
		br := s.pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.QueryRow().Scan(&applied, &notified)
	})
	if err != nil {
		err = wrap("settle", err)
		for _, c := range calls {
			c.done <- err
		}
		return
	}
	if notify {
		s.signal()
	}
	got := make(map[int64]bool, len(applied))
	for _, id := range applied {
		got[id] = true
	}
	if len(notes) > 0 {
		// Remember the successes just written; forget endpoints that failed.
		s.healthMu.Lock()
		for _, n := range notes {
			if !got[int64(n.id)] {
				continue
			}
			switch {
			case n.disabled || n.health == sender.HealthFailed:
				delete(s.successAt, n.endpoint)
			case n.health == sender.HealthSucceeded:
				if last, ok := s.successAt[n.endpoint]; !ok || n.now.After(last) {
					s.successAt[n.endpoint] = n.now
				}
			}
		}
		s.healthMu.Unlock()
	}
	for _, c := range calls {
		var lost []sender.DeliveryID
		for _, st := range c.items {
			if !got[int64(st.DeliveryID)] {
				lost = append(lost, st.DeliveryID)
			} else {
				delete(got, int64(st.DeliveryID)) // a repeated id is applied once
			}
		}
		if len(lost) > 0 {
			c.done <- &sender.LeaseLostError{IDs: lost}
		} else {
			c.done <- nil
		}
	}
}
