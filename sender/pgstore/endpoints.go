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

const endpointCols = `id, url, description, keys, event_types, headers, rate_limit, max_concurrency, ordered,
	timeout_ns, disabled, disabled_reason, disabled_at, metadata, created_at, updated_at,
	last_success_at, last_failure_at, failing_since`

// endpointCols prefixed with "e.".
var endpointColsE = prefixCols(endpointCols, "e.")

func prefixCols(cols, prefix string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// endpointRow holds the scan targets of endpointCols.
type endpointRow struct {
	id, url, description      string
	keys, headers, metadata   []byte
	eventTypes                []string
	rateLimit                 float64
	maxConcurrency            int32
	ordered, disabled         bool
	timeoutNS                 int64
	disabledReason            string
	disabledAt, createdAt     pgtype.Timestamptz
	updatedAt, lastSuccess    pgtype.Timestamptz
	lastFailure, failingSince pgtype.Timestamptz
}

func (r *endpointRow) dest() []any {
	return []any{&r.id, &r.url, &r.description, &r.keys, &r.eventTypes, &r.headers, &r.rateLimit,
		&r.maxConcurrency, &r.ordered, &r.timeoutNS, &r.disabled, &r.disabledReason, &r.disabledAt,
		&r.metadata, &r.createdAt, &r.updatedAt, &r.lastSuccess, &r.lastFailure, &r.failingSince}
}

func (r *endpointRow) endpoint() (sender.Endpoint, error) {
	keys, err := decodeKeys(r.keys)
	if err != nil {
		return sender.Endpoint{}, err
	}
	headers, err := decodeMap(r.headers)
	if err != nil {
		return sender.Endpoint{}, err
	}
	meta, err := decodeMap(r.metadata)
	if err != nil {
		return sender.Endpoint{}, err
	}
	return sender.Endpoint{
		ID:             r.id,
		URL:            r.url,
		Description:    r.description,
		Keys:           keys,
		EventTypes:     r.eventTypes,
		Headers:        headers,
		RateLimit:      r.rateLimit,
		MaxConcurrency: int(r.maxConcurrency),
		Ordered:        r.ordered,
		Timeout:        time.Duration(r.timeoutNS),
		Disabled:       r.disabled,
		DisabledReason: r.disabledReason,
		DisabledAt:     fromTS(r.disabledAt),
		Metadata:       meta,
		CreatedAt:      fromTS(r.createdAt),
		UpdatedAt:      fromTS(r.updatedAt),
		LastSuccessAt:  fromTS(r.lastSuccess),
		LastFailureAt:  fromTS(r.lastFailure),
		FailingSince:   fromTS(r.failingSince),
	}, nil
}

// endpointArgs encodes ep in endpointCols order.
func endpointArgs(ep sender.Endpoint) ([]any, error) {
	keys, err := encodeKeys(ep.Keys)
	if err != nil {
		return nil, err
	}
	headers, err := encodeMap(ep.Headers)
	if err != nil {
		return nil, err
	}
	meta, err := encodeMap(ep.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{ep.ID, ep.URL, ep.Description, keys, ep.EventTypes, headers, ep.RateLimit,
		int32(ep.MaxConcurrency), ep.Ordered, int64(ep.Timeout), ep.Disabled, ep.DisabledReason,
		ts(ep.DisabledAt), meta, ts(ep.CreatedAt), ts(ep.UpdatedAt), ts(ep.LastSuccessAt),
		ts(ep.LastFailureAt), ts(ep.FailingSince)}, nil
}

func placeholders(from, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// CreateEndpoint implements sender.Store.
func (s *Store) CreateEndpoint(ctx context.Context, ep sender.Endpoint) error {
	if ep.ID == "" {
		return fmt.Errorf("%w: endpoint id is empty", sender.ErrInvalidRequest)
	}
	args, err := endpointArgs(ep)
	if err != nil {
		return wrap("create endpoint", err)
	}
	_, err = s.pool.Exec(ctx, s.q.createEndpoint, args...)
	if pgCode(err) == pgUniqueViolation {
		return fmt.Errorf("%w: %q", sender.ErrDuplicateEndpoint, ep.ID)
	}
	return wrap("create endpoint", err)
}

// GetEndpoint implements sender.Store.
func (s *Store) GetEndpoint(ctx context.Context, id string) (sender.Endpoint, error) {
	var r endpointRow
	err := s.pool.QueryRow(ctx, s.q.getEndpoint, id).Scan(r.dest()...)
	if err == pgx.ErrNoRows {
		return sender.Endpoint{}, fmt.Errorf("%w: %q", sender.ErrEndpointNotFound, id)
	}
	if err != nil {
		return sender.Endpoint{}, wrap("get endpoint", err)
	}
	return r.endpoint()
}

// ListEndpoints implements sender.Store.
func (s *Store) ListEndpoints(ctx context.Context, f sender.EndpointFilter) ([]sender.Endpoint, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.EventType != "" {
		p := arg(f.EventType)
		// sender.Endpoint.Subscribed in SQL: no filter, "*", exact, or "prefix.*".
		where = append(where, `(event_types IS NULL OR cardinality(event_types) = 0 OR EXISTS (
			SELECT 1 FROM unnest(event_types) AS p(f) WHERE p.f = '*' OR p.f = `+p+` OR (
				right(p.f, 2) = '.*' AND length(`+p+`) > length(p.f) - 1
				AND left(`+p+`, length(p.f) - 1) = left(p.f, length(p.f) - 1))))`)
	}
	switch f.Status {
	case sender.EndpointsEnabled:
		where = append(where, "NOT disabled")
	case sender.EndpointsDisabled:
		where = append(where, "disabled")
	}
	if f.AfterID != "" {
		where = append(where, `id COLLATE "C" > `+arg(f.AfterID))
	}
	sql := "SELECT " + endpointCols + " FROM " + s.schema + ".endpoints"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY id COLLATE \"C\""
	if f.Limit > 0 {
		sql += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("list endpoints", err)
	}
	defer rows.Close()
	var out []sender.Endpoint
	var r endpointRow
	for rows.Next() {
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, wrap("list endpoints", err)
		}
		ep, err := r.endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, wrap("list endpoints", rows.Err())
}

// UpdateEndpoint implements sender.Store. Enabling an endpoint notifies
// listening dispatchers, since its paused deliveries become claimable.
func (s *Store) UpdateEndpoint(ctx context.Context, ep sender.Endpoint) error {
	args, err := endpointArgs(ep)
	if err != nil {
		return wrap("update endpoint", err)
	}
	// Every column but created_at (argument 15 of endpointArgs).
	args = append(append(args[:14:14], args[15:]...), s.channel)
	var n int64
	if err := s.pool.QueryRow(ctx, s.q.updateEndpoint, args...).Scan(&n); err != nil {
		return wrap("update endpoint", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q", sender.ErrEndpointNotFound, ep.ID)
	}
	s.signal()
	return nil
}

// DeleteEndpoint implements sender.Store.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	var n int64
	err := retryConflicts(ctx, func() error {
		return s.pool.QueryRow(ctx, s.q.deleteEndpoint, id).Scan(&n)
	})
	if err != nil {
		return wrap("delete endpoint", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q", sender.ErrEndpointNotFound, id)
	}
	return nil
}
