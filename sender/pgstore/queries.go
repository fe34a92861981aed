package pgstore

import "strings"

// queries holds the store's SQL with the schema substituted.
type queries struct {
	createEndpoint, getEndpoint, updateEndpoint, deleteEndpoint                     string
	insertKeys, selectKeys, updateKeys                                              string
	insertEvents, insertDeliveries, eventConflicts, notify                          string
	claim, claimPlan, extend, settle, settleLean, asyncCommit, genericPlan, nextDue string
	getEvent, getDelivery                                                           string
}

const deliveryCols = `id, event_id, event_type, endpoint_id, state, attempts, next_attempt_at,
	lease_owner, lease_expires_at, last_error, last_status_code, created_at, updated_at`

// claimable is the filter shared by both halves of the claim: the endpoint is
// enabled, and for an ordered endpoint the delivery is its oldest unsettled one
// and no other delivery of the endpoint holds a live lease. Each subquery reads
// the first entries of one (endpoint_id, state) range of the partial index
// deliveries_endpoint_state_idx, however many deliveries the endpoint has. (min(id)
// rather than NOT EXISTS (… id < d.id), which lets the planner walk the primary
// key backwards over every settled delivery.)
const claimable = `EXISTS (
		SELECT 1 FROM {s}.endpoints e
		WHERE e.id = d.endpoint_id AND NOT e.disabled
		  AND (NOT e.ordered OR (
			d.id = LEAST(
				(SELECT min(p.id) FROM {s}.deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.state = 1),
				(SELECT min(p.id) FROM {s}.deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.state = 2),
				(SELECT min(p.id) FROM {s}.deliveries p WHERE p.endpoint_id = d.endpoint_id AND p.state = 6))
			AND NOT EXISTS (
				SELECT 1 FROM {s}.deliveries q
				WHERE q.endpoint_id = d.endpoint_id AND q.state = 2 AND q.lease_expires_at > $1 AND q.id <> d.id))))`

// The settle statements, built from shared parts: settle also maintains the
// endpoints' health and parks the backlog of an endpoint it disables;
// settleLean (Store.skipHealth) leaves endpoints alone. Both take the same
// parameters: $1 notify?, $2 channel, $3 health granularity, then one array per
// column of the settlements (several Settle calls coalesced: owner and now per
// item).
const (
	settleInput = `WITH input AS (
				SELECT * FROM unnest($4::bigint[], $5::text[], $6::timestamptz[], $7::smallint[],
					$8::timestamptz[], $9::text[], $10::smallint[], $11::text[], $12::boolean[],
					$13::timestamptz[], $14::bigint[], $15::integer[], $16::text[], $17::text[],
					$18::timestamptz[], $19::text[])
				WITH ORDINALITY AS i(id, owner, now, kind, next_at, err, health, disable, has_att,
					a_started, a_dur, a_status, a_err, a_snip, a_next, a_outcome, ord)
			`
	// settleUpdHead opens the delivery update; a settle statement follows it with
	// its state expression (settleStateParking or settleState) and settleUpdTail.
	settleUpdHead = `), upd AS (
				UPDATE {s}.deliveries d SET
`
	// settleStateParking: back to pending, or paused if its endpoint is (being)
	// disabled by this batch.
	settleStateParking = `					state = CASE i.kind WHEN 1 THEN 3 WHEN 4 THEN 4 ELSE CASE WHEN i.disable <> ''
						OR (SELECT x.disabled FROM {s}.endpoints x WHERE x.id = d.endpoint_id)
						OR EXISTS (SELECT 1 FROM input j JOIN {s}.deliveries dj ON dj.id = j.id
							WHERE j.disable <> '' AND dj.endpoint_id = d.endpoint_id)
						THEN 5 ELSE 1 END END,
`
	// settleState: back to pending, or paused if its endpoint is disabled.
	settleState = `					state = CASE i.kind WHEN 1 THEN 3 WHEN 4 THEN 4 ELSE CASE
						WHEN (SELECT x.disabled FROM {s}.endpoints x WHERE x.id = d.endpoint_id)
						THEN 5 ELSE 1 END END,
`
	settleUpdTail = `					attempts = d.attempts + CASE WHEN i.has_att THEN 1 ELSE 0 END,
					next_attempt_at = CASE WHEN i.kind IN (2, 3) THEN i.next_at ELSE d.next_attempt_at END,
					lease_owner = NULL,
					lease_expires_at = NULL,
					last_error = CASE WHEN i.kind IN (2, 4) THEN i.err ELSE d.last_error END,
					last_status_code = CASE WHEN i.has_att THEN i.a_status ELSE d.last_status_code END,
					updated_at = i.now
				FROM input i
				-- "+ 0" keeps the planner on primary-key lookups: with the partial
				-- in-flight index in reach it may scan every live lease instead.
				WHERE d.id = i.id AND d.state + 0 = 2 AND d.lease_owner = i.owner AND d.lease_expires_at > i.now
				RETURNING d.id, d.event_id, d.endpoint_id, d.attempts
			`
	settleAttempts = `), att AS (
				INSERT INTO {s}.attempts (delivery_id, event_id, endpoint_id, n, started_at, duration_ns,
					status_code, error, response_snippet, next_attempt_at, outcome)
				SELECT u.id, u.event_id, u.endpoint_id, u.attempts, i.a_started, i.a_dur, i.a_status,
					i.a_err, i.a_snip, i.a_next, i.a_outcome
				FROM upd u JOIN input i ON i.id = u.id
				WHERE i.has_att
				ORDER BY i.ord
			`
	settleHealth = `), hi AS (
				SELECT u.endpoint_id, i.*,
					max(i.ord) FILTER (WHERE i.health = 1) OVER (PARTITION BY u.endpoint_id) AS last_succ_ord
				FROM upd u JOIN input i ON i.id = u.id
				WHERE i.health <> 0 OR i.disable <> ''
			), health AS (
				SELECT endpoint_id,
					max(now) FILTER (WHERE health = 1) AS succ_at,
					max(now) FILTER (WHERE health = 2) AS fail_at,
					(array_agg(health ORDER BY ord DESC) FILTER (WHERE health <> 0))[1] AS last_h,
					min(now) FILTER (WHERE health = 2 AND ord > coalesce(last_succ_ord, 0)) AS failing_from,
					bool_or(health = 1) AS succ,
					(array_agg(disable ORDER BY ord) FILTER (WHERE disable <> ''))[1] AS dis,
					(array_agg(now ORDER BY ord) FILTER (WHERE disable <> ''))[1] AS dis_at
				FROM hi GROUP BY endpoint_id
			), ep AS (
				UPDATE {s}.endpoints e SET
					last_success_at = coalesce(h.succ_at, e.last_success_at),
					last_failure_at = coalesce(h.fail_at, e.last_failure_at),
					failing_since = CASE h.last_h
						WHEN 1 THEN NULL
						WHEN 2 THEN CASE WHEN h.succ THEN h.failing_from ELSE coalesce(e.failing_since, h.failing_from) END
						ELSE e.failing_since END,
					disabled = e.disabled OR h.dis IS NOT NULL,
					disabled_reason = CASE WHEN NOT e.disabled AND h.dis IS NOT NULL THEN h.dis ELSE e.disabled_reason END,
					disabled_at = CASE WHEN NOT e.disabled AND h.dis IS NOT NULL THEN h.dis_at ELSE e.disabled_at END
				FROM health h WHERE e.id = h.endpoint_id
				-- Skip rewriting a busy endpoint's row when only a recent timestamp would move
				-- ($3 = Config.HealthGranularity): every settle would otherwise queue on it.
				AND NOT (
					h.dis IS NULL
					AND (h.succ_at IS NULL OR coalesce(e.last_success_at, '-infinity') > h.succ_at - $3::interval)
					AND (h.fail_at IS NULL OR coalesce(e.last_failure_at, '-infinity') > h.fail_at - $3::interval)
					AND (h.last_h IS NULL
						OR (h.last_h = 1 AND e.failing_since IS NULL)
						OR (h.last_h = 2 AND NOT h.succ AND e.failing_since IS NOT NULL))
				)
			), park AS (
				-- An endpoint disabled here: pause its pending backlog (see migration 0001).
				UPDATE {s}.deliveries d SET state = 5
				FROM health h WHERE h.dis IS NOT NULL AND d.endpoint_id = h.endpoint_id AND d.state = 1
			`
	settlePromote = `), promote AS (
				-- The next queued delivery of an ordered endpoint whose head was just settled
				-- (delivered or dead) becomes claimable, unless another one already is.
				UPDATE {s}.deliveries q SET state = 1
				FROM (SELECT DISTINCT u.endpoint_id FROM upd u JOIN input i ON i.id = u.id
						JOIN {s}.endpoints x ON x.id = u.endpoint_id
						WHERE i.kind IN (1, 4) AND i.disable = '' AND x.ordered AND NOT x.disabled) f
				WHERE q.id = (SELECT min(p.id) FROM {s}.deliveries p WHERE p.endpoint_id = f.endpoint_id AND p.state = 6)
					AND NOT EXISTS (SELECT 1 FROM {s}.deliveries r WHERE r.endpoint_id = f.endpoint_id AND r.state = 1)
				RETURNING 1
			)`
)

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
			WHERE id = $1 RETURNING id, disabled, ordered),
			-- The pending backlog (states 1, 5, 6; see migration 0001): paused (5) while the
			-- endpoint is disabled; otherwise, for an ordered endpoint, only its oldest
			-- unsettled delivery is claimable (1) and the others queue (6); for an
			-- unordered one everything is claimable.
			head AS (SELECT LEAST(
				(SELECT min(id) FROM {s}.deliveries WHERE endpoint_id = $1 AND state = 1),
				(SELECT min(id) FROM {s}.deliveries WHERE endpoint_id = $1 AND state = 2),
				(SELECT min(id) FROM {s}.deliveries WHERE endpoint_id = $1 AND state = 5),
				(SELECT min(id) FROM {s}.deliveries WHERE endpoint_id = $1 AND state = 6)) AS id),
			p AS (UPDATE {s}.deliveries d SET state = CASE
					WHEN u.disabled THEN 5
					WHEN u.ordered AND d.id <> head.id THEN 6
					ELSE 1 END
				FROM u, head
				WHERE d.endpoint_id = u.id AND d.state IN (1, 5, 6) AND d.state <> CASE
					WHEN u.disabled THEN 5
					WHEN u.ordered AND d.id <> head.id THEN 6
					ELSE 1 END)
			SELECT count(*) FROM u, LATERAL (SELECT pg_notify($19, '')) n`,
		deleteEndpoint: `WITH a AS (DELETE FROM {s}.attempts
				WHERE delivery_id IN (SELECT id FROM {s}.deliveries WHERE endpoint_id = $1)),
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
			SELECT u.e, u.t, u.ep,
				-- Paused for a disabled endpoint; queued behind an ordered endpoint's head.
				CASE WHEN x.disabled THEN 5
					WHEN x.ordered AND (row_number() OVER (PARTITION BY u.ep ORDER BY u.ord) > 1
						OR EXISTS (SELECT 1 FROM {s}.deliveries q WHERE q.endpoint_id = u.ep AND q.state IN (1, 2, 5, 6)))
					THEN 6 ELSE 1 END,
				u.n, u.c, u.c
			FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
				WITH ORDINALITY AS u(e, t, ep, n, c, ord)
			LEFT JOIN {s}.endpoints x ON x.id = u.ep
			ORDER BY u.ord
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
		// Run before claim in the same implicit transaction. The planner settings:
		// without them, stale or missing statistics (a queue filled faster than
		// autovacuum analyzes it) make the planner read every due delivery (a bitmap
		// scan, a hash join with endpoints) and sort them, instead of reading the
		// first few in index order and stopping at the limit; the generic plan
		// spares planning on every call. synchronous_commit off: a claim that a
		// PostgreSQL crash forgets is a lease that expired at once — the delivery is
		// claimed again, exactly as after a dispatcher crash — so the claim does not
		// wait for the WAL flush. Publishes and settles stay synchronous.
		claimPlan: `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true),
			set_config('enable_mergejoin', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true),
			set_config('synchronous_commit', 'off', true)`,
		// Run before settle (unless Config.SynchronousSettle) in the same implicit
		// transaction: asynchronous commit, and the generic plan (the statement's
		// plan does not depend on its arguments; planning it on every call costs
		// about as much as running it).
		asyncCommit: `SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`,
		genericPlan: `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`,
		extend: `UPDATE {s}.deliveries SET lease_expires_at = $4
			WHERE id = ANY($1::bigint[]) AND state + 0 = 2 AND lease_owner = $2 AND lease_expires_at > $3
			RETURNING id`,
		// $1 notify?, $2 channel, $3 health granularity, then one array per column of
		// the settlements (several Settle calls coalesced: owner and now per item).
		// settle and settleLean: see settleInput.
		settle: settleInput + settleUpdHead + settleStateParking + settleUpdTail + settleAttempts +
			settleHealth + settlePromote + `
			SELECT coalesce((SELECT array_agg(id) FROM upd), '{}'::bigint[]),
				CASE WHEN $1 OR EXISTS (SELECT 1 FROM promote) THEN (SELECT count(*) FROM pg_notify($2, '')) ELSE 0 END`,
		// settleLean is settle without the endpoint health part, for batches whose
		// health changes are all skipped (see Store.skipHealth); $3 is unused.
		settleLean: settleInput + settleUpdHead + settleState + settleUpdTail + settleAttempts +
			settlePromote + `
			SELECT coalesce((SELECT array_agg(id) FROM upd), '{}'::bigint[]),
				CASE WHEN ($1 OR EXISTS (SELECT 1 FROM promote)) AND $3::interval IS NOT NULL THEN (SELECT count(*) FROM pg_notify($2, '')) ELSE 0 END`,
		nextDue: `SELECT LEAST(
				(SELECT min(next_attempt_at) FROM {s}.deliveries WHERE state = 1),
				(SELECT min(lease_expires_at) FROM {s}.deliveries WHERE state = 2))`,

		getEvent:    `SELECT id, type, payload, created_at, idempotency_key FROM {s}.events WHERE id = $1`,
		getDelivery: `SELECT ` + deliveryCols + ` FROM {s}.deliveries WHERE id = $1`,
	}
	for _, p := range []*string{&q.createEndpoint, &q.getEndpoint, &q.updateEndpoint, &q.deleteEndpoint,
		&q.insertKeys, &q.selectKeys, &q.updateKeys, &q.insertEvents, &q.insertDeliveries,
		&q.eventConflicts, &q.notify, &q.claim, &q.claimPlan, &q.extend, &q.settle, &q.settleLean, &q.asyncCommit, &q.genericPlan, &q.nextDue, &q.getEvent, &q.getDelivery} {
		*p = r.Replace(*p)
	}
	return q
}
