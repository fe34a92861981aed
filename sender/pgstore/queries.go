package pgstore

import "strings"

// queries holds the store's SQL with the schema substituted.
type queries struct {
	createEndpoint, getEndpoint, updateEndpoint, deleteEndpoint string
	insertKeys, selectKeys, updateKeys                          string
	insertEvents, insertDeliveries, eventConflicts, notify      string
	claim, extend, settle, nextDue                              string
	getEvent, getDelivery                                       string
}

const deliveryCols = `id, event_id, event_type, endpoint_id, state, attempts, next_attempt_at,
	lease_owner, lease_expires_at, last_error, last_status_code, created_at, updated_at`

// claimable is the filter shared by both halves of the claim: the endpoint is
// enabled, and for an ordered endpoint the delivery is its oldest unsettled one.
// (Written as min(id) so that the planner reads the first entry of the partial
// index deliveries_unsettled_idx; a NOT EXISTS (… id < d.id) lets it walk the
// primary key backwards over every settled delivery instead.)
const claimable = `EXISTS (
		SELECT 1 FROM {s}.endpoints e
		WHERE e.id = d.endpoint_id AND NOT e.disabled
		  AND (NOT e.ordered OR d.id = (
			SELECT min(p.id) FROM {s}.deliveries p
			WHERE p.endpoint_id = d.endpoint_id AND p.state IN (1, 2))))`

func buildQueries(schema string) queries {
	r := strings.NewReplacer("{s}", schema)
	q := queries{
		createEndpoint: `INSERT INTO {s}.endpoints (` + endpointCols + `) VALUES (` + placeholders(1, 19) + `)`,
		getEndpoint:    `SELECT ` + endpointCols + ` FROM {s}.endpoints WHERE id = $1`,
		updateEndpoint: `WITH u AS (
			UPDATE {s}.endpoints SET url = $2, description = $3, keys = $4, event_types = $5, headers = $6,
				rate_limit = $7, max_concurrency = $8, ordered = $9, timeout_ns = $10, disabled = $11,
				disabled_reason = $12, disabled_at = $13, metadata = $14, updated_at = $15,
				last_success_at = $16, last_failure_at = $17, failing_since = $18
			WHERE id = $1 RETURNING id)
			SELECT count(*) FROM u, LATERAL (SELECT pg_notify($19, '')) n`,
		deleteEndpoint: `WITH a AS (DELETE FROM {s}.attempts WHERE endpoint_id = $1),
			e AS (DELETE FROM {s}.endpoints WHERE id = $1 RETURNING 1)
			SELECT count(*) FROM e`,

		insertKeys: `INSERT INTO {s}.idempotency_keys (key, event_id, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
			ON CONFLICT (key) DO NOTHING RETURNING key`,
		selectKeys: `SELECT key, event_id, result FROM {s}.idempotency_keys WHERE key = ANY($1::text[])`,
		updateKeys: `UPDATE {s}.idempotency_keys k SET result = u.r::jsonb
			FROM unnest($1::text[], $2::text[]) AS u(key, r) WHERE k.key = u.key`,
		insertEvents: `INSERT INTO {s}.events (id, type, payload, created_at, idempotency_key)
			SELECT i, t, p, c, NULLIF(k, '')
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[], $5::text[]) AS u(i, t, p, c, k)
			ON CONFLICT (id) DO NOTHING RETURNING id`,
		insertDeliveries: `INSERT INTO {s}.deliveries (event_id, event_type, endpoint_id, state, next_attempt_at, created_at, updated_at)
			SELECT e, t, ep, 1, n, c, c
			FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
				WITH ORDINALITY AS u(e, t, ep, n, c, ord)
			ORDER BY ord
			ON CONFLICT (event_id, endpoint_id) DO NOTHING
			RETURNING id, event_id, endpoint_id`,
		eventConflicts: `SELECT e.id FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(id, type, payload)
			JOIN {s}.events e ON e.id = u.id
			WHERE e.type <> u.type OR e.payload <> u.payload`,
		notify: `SELECT pg_notify($1, '')`,

		// $1 now, $2 limit, $3 owner, $4 lease expiry.
		claim: `WITH pending AS (
				SELECT d.id, d.next_attempt_at AS due FROM {s}.deliveries d
				WHERE d.state = 1 AND d.next_attempt_at <= $1 AND ` + claimable + `
				ORDER BY d.next_attempt_at, d.id
				LIMIT $2
				FOR NO KEY UPDATE OF d SKIP LOCKED
			), expired AS (
				SELECT d.id, d.lease_expires_at AS due FROM {s}.deliveries d
				WHERE d.state = 2 AND d.lease_expires_at <= $1 AND ` + claimable + `
				ORDER BY d.lease_expires_at, d.id
				LIMIT $2
				FOR NO KEY UPDATE OF d SKIP LOCKED
			), picked AS (
				SELECT id, due FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) c
				ORDER BY due, id LIMIT $2
			), upd AS (
				UPDATE {s}.deliveries d
				SET state = 2, lease_owner = $3, lease_expires_at = $4, updated_at = $1
				FROM picked WHERE d.id = picked.id
				RETURNING d.id, d.event_id, d.event_type, d.endpoint_id, d.attempts, d.next_attempt_at,
					d.lease_owner, d.lease_expires_at, d.last_error, d.last_status_code, d.created_at,
					d.updated_at, picked.due
			)
			SELECT upd.id, upd.event_id, upd.event_type, upd.endpoint_id, upd.attempts, upd.next_attempt_at,
				upd.lease_owner, upd.lease_expires_at, upd.last_error, upd.last_status_code, upd.created_at,
				upd.updated_at, ev.payload, ev.created_at, ev.idempotency_key, ` + endpointColsE + `
			FROM upd
			JOIN {s}.endpoints e ON e.id = upd.endpoint_id
			JOIN {s}.events ev ON ev.id = upd.event_id
			ORDER BY upd.due, upd.id`,
		extend: `UPDATE {s}.deliveries SET lease_expires_at = $4
			WHERE id = ANY($1::bigint[]) AND state = 2 AND lease_owner = $2 AND lease_expires_at > $3
			RETURNING id`,
		// $1 now, $2 owner, $3 notify?, $4 channel, then the settlement arrays.
		settle: `WITH input AS (
				SELECT * FROM unnest($5::bigint[], $6::smallint[], $7::timestamptz[], $8::text[], $9::smallint[],
					$10::text[], $11::boolean[], $12::timestamptz[], $13::bigint[], $14::integer[], $15::text[],
					$16::text[], $17::timestamptz[], $18::text[])
				WITH ORDINALITY AS i(id, kind, next_at, err, health, disable, has_att, a_started, a_dur,
					a_status, a_err, a_snip, a_next, a_outcome, ord)
			), upd AS (
				UPDATE {s}.deliveries d SET
					state = CASE i.kind WHEN 1 THEN 3 WHEN 4 THEN 4 ELSE 1 END,
					attempts = d.attempts + CASE WHEN i.has_att THEN 1 ELSE 0 END,
					next_attempt_at = CASE WHEN i.kind IN (2, 3) THEN i.next_at ELSE d.next_attempt_at END,
					lease_owner = NULL,
					lease_expires_at = NULL,
					last_error = CASE WHEN i.kind IN (2, 4) THEN i.err ELSE d.last_error END,
					last_status_code = CASE WHEN i.has_att THEN i.a_status ELSE d.last_status_code END,
					updated_at = $1
				FROM input i
				WHERE d.id = i.id AND d.state = 2 AND d.lease_owner = $2 AND d.lease_expires_at > $1
				RETURNING d.id, d.event_id, d.endpoint_id, d.attempts
			), att AS (
				INSERT INTO {s}.attempts (delivery_id, event_id, endpoint_id, n, started_at, duration_ns,
					status_code, error, response_snippet, next_attempt_at, outcome)
				SELECT u.id, u.event_id, u.endpoint_id, u.attempts, i.a_started, i.a_dur, i.a_status,
					i.a_err, i.a_snip, i.a_next, i.a_outcome
				FROM upd u JOIN input i ON i.id = u.id
				WHERE i.has_att
				ORDER BY i.ord
			), health AS (
				SELECT u.endpoint_id,
					bool_or(i.health = 1) AS succ,
					bool_or(i.health = 2) AS fail,
					(array_agg(i.health ORDER BY i.ord DESC) FILTER (WHERE i.health <> 0))[1] AS last_h,
					(array_agg(i.disable ORDER BY i.ord) FILTER (WHERE i.disable <> ''))[1] AS dis
				FROM upd u JOIN input i ON i.id = u.id
				WHERE i.health <> 0 OR i.disable <> ''
				GROUP BY u.endpoint_id
			), ep AS (
				UPDATE {s}.endpoints e SET
					last_success_at = CASE WHEN h.succ THEN $1 ELSE e.last_success_at END,
					last_failure_at = CASE WHEN h.fail THEN $1 ELSE e.last_failure_at END,
					failing_since = CASE h.last_h
						WHEN 1 THEN NULL
						WHEN 2 THEN CASE WHEN h.succ THEN $1 ELSE coalesce(e.failing_since, $1) END
						ELSE e.failing_since END,
					disabled = e.disabled OR h.dis IS NOT NULL,
					disabled_reason = CASE WHEN NOT e.disabled AND h.dis IS NOT NULL THEN h.dis ELSE e.disabled_reason END,
					disabled_at = CASE WHEN NOT e.disabled AND h.dis IS NOT NULL THEN $1 ELSE e.disabled_at END
				FROM health h WHERE e.id = h.endpoint_id
			)
			SELECT coalesce((SELECT array_agg(id) FROM upd), '{}'::bigint[]),
				CASE WHEN $3 THEN (SELECT count(*) FROM pg_notify($4, '')) ELSE 0 END`,
		nextDue: `SELECT LEAST(
				(SELECT min(next_attempt_at) FROM {s}.deliveries WHERE state = 1),
				(SELECT min(lease_expires_at) FROM {s}.deliveries WHERE state = 2))`,

		getEvent:    `SELECT id, type, payload, created_at, idempotency_key FROM {s}.events WHERE id = $1`,
		getDelivery: `SELECT ` + deliveryCols + ` FROM {s}.deliveries WHERE id = $1`,
	}
	for _, p := range []*string{&q.createEndpoint, &q.getEndpoint, &q.updateEndpoint, &q.deleteEndpoint,
		&q.insertKeys, &q.selectKeys, &q.updateKeys, &q.insertEvents, &q.insertDeliveries,
		&q.eventConflicts, &q.notify, &q.claim, &q.extend, &q.settle, &q.nextDue, &q.getEvent, &q.getDelivery} {
		*p = r.Replace(*p)
	}
	return q
}
