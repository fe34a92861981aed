package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hookkit/hookkit/sender"
)

// Stored states of pending deliveries kept out of the claim's index (see
// migration 0001); both read as sender.StatePending.
const (
	// statePaused: the endpoint is disabled.
	statePaused = 5
	// stateQueued: behind the head of an ordered endpoint.
	stateQueued = 6
)

// GetEvent implements sender.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (sender.StoredEvent, error) {
	var (
		ev      sender.StoredEvent
		created pgtype.Timestamptz
		key     pgtype.Text
	)
	err := s.pool.QueryRow(ctx, s.q.getEvent, id).Scan(&ev.ID, &ev.Type, &ev.Payload, &created, &key)
	if err == pgx.ErrNoRows {
		return sender.StoredEvent{}, fmt.Errorf("%w: %q", sender.ErrEventNotFound, id)
	}
	if err != nil {
		return sender.StoredEvent{}, wrap("get event", err)
	}
	ev.CreatedAt = fromTS(created)
	ev.IdempotencyKey = key.String
	return ev, nil
}

type deliveryRow struct {
	id                               int64
	d                                sender.Delivery
	state                            int16
	attempts, status                 int32
	next, leaseExp, created, updated pgtype.Timestamptz
	owner                            pgtype.Text
}

func (r *deliveryRow) dest() []any {
	return []any{&r.id, &r.d.EventID, &r.d.EventType, &r.d.EndpointID, &r.state, &r.attempts, &r.next,
		&r.owner, &r.leaseExp, &r.d.LastError, &r.status, &r.created, &r.updated}
}

func (r *deliveryRow) delivery() sender.Delivery {
	d := r.d
	d.ID = sender.DeliveryID(r.id)
	d.State = sender.DeliveryState(r.state)
	if r.state == statePaused || r.state == stateQueued {
		d.State = sender.StatePending
	}
	d.Attempts = int(r.attempts)
	d.NextAttemptAt = fromTS(r.next)
	d.LeaseOwner = r.owner.String
	d.LeaseExpiresAt = fromTS(r.leaseExp)
	d.LastStatusCode = int(r.status)
	d.CreatedAt = fromTS(r.created)
	d.UpdatedAt = fromTS(r.updated)
	return d
}

// GetDelivery implements sender.Store.
func (s *Store) GetDelivery(ctx context.Context, id sender.DeliveryID) (sender.Delivery, error) {
	var r deliveryRow
	err := s.pool.QueryRow(ctx, s.q.getDelivery, int64(id)).Scan(r.dest()...)
	if err == pgx.ErrNoRows {
		return sender.Delivery{}, fmt.Errorf("%w: %d", sender.ErrDeliveryNotFound, id)
	}
	if err != nil {
		return sender.Delivery{}, wrap("get delivery", err)
	}
	return r.delivery(), nil
}

// sqlBuilder collects WHERE conditions and their arguments.
type sqlBuilder struct {
	where []string
	args  []any
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *sqlBuilder) cond(c string) { b.where = append(b.where, c) }

func (b *sqlBuilder) whereSQL() string {
	if len(b.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(b.where, " AND ")
}

func limitOf(n int) int {
	if n <= 0 {
		return sender.DefaultListLimit
	}
	return n
}

func (s *Store) queryDeliveries(ctx context.Context, op, sql string, args []any) ([]sender.Delivery, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []sender.Delivery
	var r deliveryRow
	for rows.Next() {
		r = deliveryRow{}
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, r.delivery())
	}
	return out, wrap(op, rows.Err())
}

// ListDeliveries implements sender.Store.
func (s *Store) ListDeliveries(ctx context.Context, f sender.DeliveryFilter) ([]sender.Delivery, error) {
	var b sqlBuilder
	if f.EventID != "" {
		b.cond("event_id = " + b.arg(f.EventID))
	}
	if f.EndpointID != "" {
		b.cond("endpoint_id = " + b.arg(f.EndpointID))
	}
	if !f.Since.IsZero() {
		b.cond("created_at >= " + b.arg(f.Since))
	}
	if !f.Until.IsZero() {
		b.cond("created_at < " + b.arg(f.Until))
	}
	if f.BeforeID > 0 {
		b.cond("id < " + b.arg(int64(f.BeforeID)))
	}
	// Stored states matching f.State (paused and queued deliveries are pending).
	var states []int
	switch f.State {
	case sender.StateAny:
		states = []int{1, 2, 3, 4, statePaused, stateQueued}
	case sender.StatePending:
		states = []int{1, statePaused, stateQueued}
	default:
		states = []int{int(f.State)}
	}
	limit := b.arg(limitOf(f.Limit))
	from := " FROM " + s.schema + ".deliveries"
	var sql string
	if f.EndpointID != "" && f.EventID == "" {
		// Newest first per (endpoint, state) range of deliveries_endpoint_state_idx,
		// merged: never a sort of the endpoint's whole history.
		parts := make([]string, len(states))
		for i, st := range states {
			where := append(append([]string(nil), b.where...), "state = "+strconv.Itoa(st))
			parts[i] = "(SELECT " + deliveryCols + from + " WHERE " + strings.Join(where, " AND ") +
				" ORDER BY id DESC LIMIT " + limit + ")"
		}
		sql = "SELECT * FROM (" + strings.Join(parts, " UNION ALL ") + ") x ORDER BY id DESC LIMIT " + limit
	} else {
		if f.State != sender.StateAny {
			ss := make([]string, len(states))
			for i, st := range states {
				ss[i] = strconv.Itoa(st)
			}
			b.cond("state IN (" + strings.Join(ss, ", ") + ")")
		}
		sql = "SELECT " + deliveryCols + from + b.whereSQL() + " ORDER BY id DESC LIMIT " + limit
	}
	return s.queryDeliveries(ctx, "list deliveries", sql, b.args)
}

// ListDeadLetters implements sender.Store.
func (s *Store) ListDeadLetters(ctx context.Context, f sender.DeadLetterFilter) ([]sender.Delivery, error) {
	var b sqlBuilder
	b.cond("state = 4")
	if f.EndpointID != "" {
		b.cond("endpoint_id = " + b.arg(f.EndpointID))
	}
	if f.EventType != "" {
		b.cond("event_type = " + b.arg(f.EventType))
	}
	if !f.Since.IsZero() {
		b.cond("updated_at >= " + b.arg(f.Since))
	}
	if !f.Until.IsZero() {
		b.cond("updated_at < " + b.arg(f.Until))
	}
	sql := "SELECT " + deliveryCols + " FROM " + s.schema + ".deliveries" + b.whereSQL() +
		" ORDER BY updated_at DESC, id DESC LIMIT " + b.arg(limitOf(f.Limit))
	return s.queryDeliveries(ctx, "list dead letters", sql, b.args)
}

// ListAttempts implements sender.Store.
func (s *Store) ListAttempts(ctx context.Context, f sender.AttemptFilter) ([]sender.Attempt, error) {
	var b sqlBuilder
	// By event or endpoint through the deliveries' indexes (the attempt log has none
	// of its own on them, to keep settles cheap).
	if f.EventID != "" {
		b.cond("delivery_id IN (SELECT id FROM " + s.schema + ".deliveries WHERE event_id = " + b.arg(f.EventID) + ")")
	}
	if f.EndpointID != "" {
		b.cond("delivery_id IN (SELECT id FROM " + s.schema + ".deliveries WHERE endpoint_id = " + b.arg(f.EndpointID) + ")")
	}
	if f.DeliveryID != 0 {
		b.cond("delivery_id = " + b.arg(int64(f.DeliveryID)))
	}
	if f.Outcome != "" {
		b.cond("outcome = " + b.arg(f.Outcome))
	}
	if f.Failed {
		b.cond("error <> ''")
	}
	if !f.Since.IsZero() {
		b.cond("started_at >= " + b.arg(f.Since))
	}
	if !f.Until.IsZero() {
		b.cond("started_at < " + b.arg(f.Until))
	}
	sql := `SELECT delivery_id, event_id, endpoint_id, n, started_at, duration_ns, status_code, error,
		response_snippet, next_attempt_at, outcome FROM ` + s.schema + ".attempts" + b.whereSQL() +
		" ORDER BY id DESC LIMIT " + b.arg(limitOf(f.Limit))
	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, wrap("list attempts", err)
	}
	defer rows.Close()
	var out []sender.Attempt
	for rows.Next() {
		var (
			a             sender.Attempt
			did, dur      int64
			n, status     int32
			started, next pgtype.Timestamptz
		)
		if err := rows.Scan(&did, &a.EventID, &a.EndpointID, &n, &started, &dur, &status, &a.Error,
			&a.ResponseSnippet, &next, &a.Outcome); err != nil {
			return nil, wrap("list attempts", err)
		}
		a.DeliveryID = sender.DeliveryID(did)
		a.N = int(n)
		a.StartedAt = fromTS(started)
		a.Duration = time.Duration(dur)
		a.StatusCode = int(status)
		a.NextAttemptAt = fromTS(next)
		out = append(out, a)
	}
	return out, wrap("list attempts", rows.Err())
}

// Replay implements sender.Store and notifies listening dispatchers.
func (s *Store) Replay(ctx context.Context, req sender.ReplayRequest) (int, error) {
	if req.Now.IsZero() {
		return 0, fmt.Errorf("%w: replay needs Now", sender.ErrInvalidRequest)
	}
	// Back to pending — paused (5) if the endpoint is disabled.
	set := `SET state = CASE WHEN (SELECT e.disabled FROM ` + s.schema + `.endpoints e WHERE e.id = endpoint_id) THEN 5 ELSE 1 END,
		attempts = 0, last_error = '', last_status_code = 0,
		next_attempt_at = $1, updated_at = $1, lease_owner = NULL, lease_expires_at = NULL`
	upd := "UPDATE " + s.schema + ".deliveries " + set
	notify := `, LATERAL (SELECT pg_notify($2, '')) n`
	var (
		sql  string
		args = []any{req.Now, s.channel}
	)
	switch {
	case req.DeliveryID != 0 && req.EndpointID == "":
		if req.DeliveryID < 0 {
			return 0, fmt.Errorf("%w: %d", sender.ErrDeliveryNotFound, req.DeliveryID)
		}
		sql = `WITH u AS (` + upd + ` WHERE id = $3 AND state IN (3, 4) RETURNING 1),
			cur AS (SELECT state FROM ` + s.schema + `.deliveries WHERE id = $3)
			SELECT (SELECT count(*) FROM u), (SELECT state FROM cur), (SELECT count(*) FROM u, LATERAL (SELECT pg_notify($2, '')) n)`
		var (
			n, ignored int64
			state      pgtype.Int2
		)
		if err := s.pool.QueryRow(ctx, sql, req.Now, s.channel, int64(req.DeliveryID)).Scan(&n, &state, &ignored); err != nil {
			return 0, wrap("replay", err)
		}
		switch {
		case !state.Valid:
			return 0, fmt.Errorf("%w: %d", sender.ErrDeliveryNotFound, req.DeliveryID)
		case n == 0:
			st := sender.DeliveryState(state.Int16)
			if state.Int16 == statePaused || state.Int16 == stateQueued {
				st = sender.StatePending
			}
			return 0, fmt.Errorf("%w: delivery %d is %s", sender.ErrNotReplayable, req.DeliveryID, st)
		}
		s.signal()
		return int(n), nil
	case req.EndpointID != "" && req.DeliveryID == 0:
		cond := "endpoint_id = $3 AND state = 4"
		args = append(args, req.EndpointID)
		if !req.Since.IsZero() {
			cond += " AND updated_at >= $4"
			args = append(args, req.Since)
		}
		sql = `WITH u AS (` + upd + ` WHERE ` + cond + ` RETURNING 1)
			SELECT (SELECT count(*) FROM u),
				EXISTS (SELECT 1 FROM ` + s.schema + `.endpoints WHERE id = $3),
				(SELECT count(*) FROM (SELECT 1 FROM u LIMIT 1) x` + notify + `)`
		var (
			n, ignored int64
			exists     bool
		)
		if err := s.pool.QueryRow(ctx, sql, args...).Scan(&n, &exists, &ignored); err != nil {
			return 0, wrap("replay", err)
		}
		if !exists {
			return 0, fmt.Errorf("%w: %q", sender.ErrEndpointNotFound, req.EndpointID)
		}
		if n > 0 {
			s.signal()
		}
		return int(n), nil
	case req.DeliveryID == 0 && req.EndpointID == "" && !req.Since.IsZero():
		sql = `WITH u AS (` + upd + ` WHERE state = 4 AND updated_at >= $3 RETURNING 1)
			SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM (SELECT 1 FROM u LIMIT 1) x` + notify + `)`
		var n, ignored int64
		if err := s.pool.QueryRow(ctx, sql, req.Now, s.channel, req.Since).Scan(&n, &ignored); err != nil {
			return 0, wrap("replay", err)
		}
		if n > 0 {
			s.signal()
		}
		return int(n), nil
	default:
		return 0, fmt.Errorf("%w: replay needs exactly one of DeliveryID and EndpointID, or Since alone", sender.ErrInvalidRequest)
	}
}

// Prune implements sender.Store. It deletes in batches of Config.PruneBatch
// rows per statement, so locks stay short on big tables.
func (s *Store) Prune(ctx context.Context, req sender.PruneRequest) (sender.PruneResult, error) {
	var res sender.PruneResult
	batch := s.cfg.PruneBatch
	// loop runs a "delete a batch, return counts" statement until a batch comes back short.
	loop := func(op, sql string, args ...any) (a, b int64, err error) {
		for {
			var n, m int64
			if err := s.pool.QueryRow(ctx, sql, append(args, batch)...).Scan(&n, &m); err != nil {
				return a, b, wrap("prune "+op, err)
			}
			a += n
			b += m
			if n < int64(batch) {
				return a, b, nil
			}
		}
	}
	settled := func(state int, before time.Time) error {
		// Dead letters through their partial index; delivered ones oldest id first
		// through the primary key (they have no index of their own).
		order := "id"
		if state == int(sender.StateDead) {
			order = "updated_at, id"
		}
		sql := `WITH d AS (
				DELETE FROM ` + s.schema + `.deliveries WHERE id IN (
					SELECT id FROM ` + s.schema + `.deliveries WHERE state = ` + strconv.Itoa(state) + ` AND updated_at < $1
					ORDER BY ` + order + ` LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING id),
			a AS (DELETE FROM ` + s.schema + `.attempts t USING d WHERE t.delivery_id = d.id RETURNING 1)
			SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM a)`
		n, m, err := loop("deliveries", sql, before)
		res.Deliveries += int(n)
		res.Attempts += int(m)
		return err
	}
	if !req.DeliveredBefore.IsZero() {
		if err := settled(int(sender.StateDelivered), req.DeliveredBefore); err != nil {
			return res, err
		}
	}
	if !req.DeadBefore.IsZero() {
		if err := settled(int(sender.StateDead), req.DeadBefore); err != nil {
			return res, err
		}
	}
	if !req.AttemptsBefore.IsZero() {
		sql := `WITH a AS (DELETE FROM ` + s.schema + `.attempts WHERE id IN (
				SELECT id FROM ` + s.schema + `.attempts WHERE started_at < $1 LIMIT $2) RETURNING 1)
			SELECT count(*), 0::bigint FROM a`
		n, _, err := loop("attempts", sql, req.AttemptsBefore)
		res.Attempts += int(n)
		if err != nil {
			return res, err
		}
	}
	eventsBefore := req.DeliveredBefore
	if req.DeadBefore.After(eventsBefore) {
		eventsBefore = req.DeadBefore
	}
	if !eventsBefore.IsZero() {
		sql := `WITH e AS (
				DELETE FROM ` + s.schema + `.events WHERE id IN (
					SELECT id FROM ` + s.schema + `.events ev WHERE created_at < $1
					AND NOT EXISTS (SELECT 1 FROM ` + s.schema + `.deliveries d WHERE d.event_id = ev.id)
					LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING id),
			k AS (DELETE FROM ` + s.schema + `.idempotency_keys t USING e WHERE t.event_id = e.id RETURNING 1)
			SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM k)`
		n, m, err := loop("events", sql, eventsBefore)
		res.Events += int(n)
		res.IdempotencyKeys += int(m)
		if err != nil {
			return res, err
		}
	}
	if !req.IdempotencyBefore.IsZero() {
		sql := `WITH k AS (DELETE FROM ` + s.schema + `.idempotency_keys WHERE key IN (
				SELECT key FROM ` + s.schema + `.idempotency_keys WHERE created_at < $1 LIMIT $2) RETURNING 1)
			SELECT count(*), 0::bigint FROM k`
		n, _, err := loop("idempotency keys", sql, req.IdempotencyBefore)
		res.IdempotencyKeys += int(n)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}
