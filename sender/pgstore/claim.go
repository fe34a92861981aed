package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hookkit/hookkit/sender"
)

// Claim implements sender.Store with one statement: an UPDATE of the deliveries
// picked by SELECT … FOR NO KEY UPDATE SKIP LOCKED (due pending ones by
// (next_attempt_at, id) and expired leases), returning each joined with its
// endpoint and event. Deliveries of disabled endpoints are skipped; for an
// ordered endpoint only the oldest unsettled delivery qualifies.
func (s *Store) Claim(ctx context.Context, req sender.ClaimRequest) ([]sender.Claimed, error) {
	if req.Owner == "" || req.Limit <= 0 || req.Lease <= 0 || req.Now.IsZero() {
		return nil, fmt.Errorf("%w: claim needs an Owner, Now, Limit > 0 and Lease > 0", sender.ErrInvalidRequest)
	}
	rows, err := s.pool.Query(ctx, s.q.claim, req.Now, req.Limit, req.Owner, req.Now.Add(req.Lease))
	if err != nil {
		return nil, wrap("claim", err)
	}
	defer rows.Close()
	out := make([]sender.Claimed, 0, req.Limit)
	var (
		id                               int64
		attempts, status                 int32
		next, leaseExp, created, updated pgtype.Timestamptz
		owner, ikey                      pgtype.Text
		evCreated                        pgtype.Timestamptz
		c                                sender.Claimed
		er                               endpointRow
	)
	// Endpoints repeat across a batch: decode each once per claim.
	decoded := map[string]sender.Endpoint{}
	for rows.Next() {
		c = sender.Claimed{}
		var payload []byte
		dest := []any{&id, &c.Delivery.EventID, &c.Delivery.EventType, &c.Delivery.EndpointID, &attempts,
			&next, &owner, &leaseExp, &c.Delivery.LastError, &status, &created, &updated,
			&payload, &evCreated, &ikey}
		dest = append(dest, er.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, wrap("claim", err)
		}
		c.Delivery.ID = sender.DeliveryID(id)
		c.Delivery.State = sender.StateInFlight
		c.Delivery.Attempts = int(attempts)
		c.Delivery.NextAttemptAt = fromTS(next)
		c.Delivery.LeaseOwner = owner.String
		c.Delivery.LeaseExpiresAt = fromTS(leaseExp)
		c.Delivery.LastStatusCode = int(status)
		c.Delivery.CreatedAt = fromTS(created)
		c.Delivery.UpdatedAt = fromTS(updated)
		c.Event = sender.StoredEvent{
			ID:             c.Delivery.EventID,
			Type:           c.Delivery.EventType,
			Payload:        payload,
			CreatedAt:      fromTS(evCreated),
			IdempotencyKey: ikey.String,
		}
		ep, ok := decoded[er.id]
		if !ok {
			ep, err = er.endpoint()
			if err != nil {
				return nil, err
			}
			decoded[er.id] = ep
		}
		c.Endpoint = ep
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("claim", err)
	}
	return out, nil
}

// ExtendLeases implements sender.Store (the heartbeat of long attempts).
func (s *Store) ExtendLeases(ctx context.Context, req sender.ExtendRequest) error {
	if req.Owner == "" || req.Now.IsZero() || req.Until.IsZero() {
		return fmt.Errorf("%w: extend needs an Owner, Now and Until", sender.ErrInvalidRequest)
	}
	if !req.Until.After(req.Now) {
		return fmt.Errorf("%w: extend: Until must be after Now", sender.ErrInvalidRequest)
	}
	if len(req.IDs) == 0 {
		return nil
	}
	ids := make([]int64, len(req.IDs))
	for i, id := range req.IDs {
		ids[i] = int64(id)
	}
	rows, err := s.pool.Query(ctx, s.q.extend, ids, req.Owner, req.Now, req.Until)
	if err != nil {
		return wrap("extend leases", err)
	}
	got := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return wrap("extend leases", err)
		}
		got[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return wrap("extend leases", err)
	}
	return lostError(req.IDs, got)
}

func lostError(ids []sender.DeliveryID, got map[int64]bool) error {
	var lost []sender.DeliveryID
	for _, id := range ids {
		if !got[int64(id)] {
			lost = append(lost, id)
		} else {
			delete(got, int64(id)) // a repeated id counts once
		}
	}
	if len(lost) > 0 {
		return &sender.LeaseLostError{IDs: lost}
	}
	return nil
}

// Settle implements sender.Store in one statement (one round trip): the
// settlements travel as arrays, the deliveries are updated under a lease-owner
// check, attempts appended, endpoint health and disabling applied, and a NOTIFY
// sent when deliveries went back to the queue.
func (s *Store) Settle(ctx context.Context, req sender.SettleRequest) error {
	if req.Owner == "" || req.Now.IsZero() {
		return fmt.Errorf("%w: settle needs an Owner and Now", sender.ErrInvalidRequest)
	}
	n := len(req.Settlements)
	if n == 0 {
		return nil
	}
	var (
		ids      = make([]int64, 0, n)
		kinds    = make([]int16, 0, n)
		nextAt   = make([]pgtype.Timestamptz, 0, n)
		errs     = make([]string, 0, n)
		health   = make([]int16, 0, n)
		disable  = make([]string, 0, n)
		hasAtt   = make([]bool, 0, n)
		aStarted = make([]pgtype.Timestamptz, 0, n)
		aDur     = make([]int64, 0, n)
		aStatus  = make([]int32, 0, n)
		aErr     = make([]string, 0, n)
		aSnip    = make([]string, 0, n)
		aNext    = make([]pgtype.Timestamptz, 0, n)
		aOutcome = make([]string, 0, n)
		seen     = make(map[sender.DeliveryID]bool, n)
		dupes    []sender.DeliveryID
		notify   bool
	)
	for i, st := range req.Settlements {
		switch st.Kind {
		case sender.SettleDelivered, sender.SettleDead:
		case sender.SettleRetry, sender.SettleReschedule:
			if st.NextAttemptAt.IsZero() {
				return fmt.Errorf("%w: settlement %d (%s) needs NextAttemptAt", sender.ErrInvalidRequest, i, st.Kind)
			}
		case sender.SettleRelease:
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
	for _, st := range req.Settlements {
		if seen[st.DeliveryID] {
			// Settled earlier in this batch: the lease is gone by then.
			dupes = append(dupes, st.DeliveryID)
			continue
		}
		seen[st.DeliveryID] = true
		if st.Kind == sender.SettleReschedule || st.Kind == sender.SettleRelease || st.Kind == sender.SettleRetry {
			notify = notify || st.Kind != sender.SettleRetry || !st.NextAttemptAt.After(req.Now)
		}
		ids = append(ids, int64(st.DeliveryID))
		kinds = append(kinds, int16(st.Kind))
		nextAt = append(nextAt, ts(st.NextAttemptAt))
		errs = append(errs, cleanText(st.Error))
		health = append(health, int16(st.Health))
		disable = append(disable, cleanText(st.DisableEndpoint))
		if a := st.Attempt; a != nil {
			hasAtt = append(hasAtt, true)
			aStarted = append(aStarted, ts(a.StartedAt))
			aDur = append(aDur, int64(a.Duration))
			aStatus = append(aStatus, int32(a.StatusCode))
			aErr = append(aErr, cleanText(a.Error))
			aSnip = append(aSnip, truncateUTF8(cleanText(a.ResponseSnippet), sender.MaxResponseSnippet))
			aNext = append(aNext, ts(a.NextAttemptAt))
			aOutcome = append(aOutcome, cleanText(a.Outcome))
		} else {
			hasAtt = append(hasAtt, false)
			aStarted = append(aStarted, pgtype.Timestamptz{})
			aDur = append(aDur, 0)
			aStatus = append(aStatus, 0)
			aErr = append(aErr, "")
			aSnip = append(aSnip, "")
			aNext = append(aNext, pgtype.Timestamptz{})
			aOutcome = append(aOutcome, "")
		}
	}
	var applied []int64
	var notified int64
	err := retryConflicts(ctx, func() error {
		return s.pool.QueryRow(ctx, s.q.settle, req.Now, req.Owner, notify, s.channel,
			ids, kinds, nextAt, errs, health, disable, hasAtt, aStarted, aDur, aStatus, aErr, aSnip,
			aNext, aOutcome).Scan(&applied, &notified)
	})
	if err != nil {
		return wrap("settle", err)
	}
	if notify {
		s.signal()
	}
	got := make(map[int64]bool, len(applied))
	for _, id := range applied {
		got[id] = true
	}
	var lost []sender.DeliveryID
	for _, id := range ids {
		if !got[id] {
			lost = append(lost, sender.DeliveryID(id))
		}
	}
	lost = append(lost, dupes...)
	if len(lost) > 0 {
		return &sender.LeaseLostError{IDs: lost}
	}
	return nil
}

// NextDue implements sender.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at pgtype.Timestamptz
	if err := s.pool.QueryRow(ctx, s.q.nextDue).Scan(&at); err != nil {
		return time.Time{}, false, wrap("next due", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return at.Time.UTC(), true, nil
}

// ExplainClaim returns the plan PostgreSQL chooses for the Claim statement of
// req, as EXPLAIN prints it — to check, on a production-sized table, that the
// claim is an index scan. With analyze, the statement really runs (EXPLAIN
// ANALYZE, BUFFERS) inside a transaction that is rolled back, so nothing is
// claimed.
func (s *Store) ExplainClaim(ctx context.Context, req sender.ClaimRequest, analyze bool) (string, error) {
	if req.Owner == "" || req.Limit <= 0 || req.Lease <= 0 || req.Now.IsZero() {
		return "", fmt.Errorf("%w: claim needs an Owner, Now, Limit > 0 and Lease > 0", sender.ErrInvalidRequest)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", wrap("explain claim", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	opts := "EXPLAIN (COSTS) "
	if analyze {
		opts = "EXPLAIN (ANALYZE, BUFFERS, COSTS) "
	}
	rows, err := tx.Query(ctx, opts+s.q.claim, req.Now, req.Limit, req.Owner, req.Now.Add(req.Lease))
	if err != nil {
		return "", wrap("explain claim", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", wrap("explain claim", err)
	}
	return strings.Join(lines, "\n"), nil
}
