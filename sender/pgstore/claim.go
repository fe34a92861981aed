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
	// One round trip: the planner setting and the claim in one implicit transaction.
	b := &pgx.Batch{}
	b.Queue(s.q.claimPlan)
	b.Queue(s.q.claim, req.Now, req.Limit, req.Owner, req.Now.Add(req.Lease))
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, wrap("claim", err)
	}
	rows, err := br.Query()
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
	s.rememberClaims(out)
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
	if _, err := tx.Exec(ctx, s.q.claimPlan); err != nil {
		return "", wrap("explain claim", err)
	}
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
