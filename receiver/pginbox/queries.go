package pginbox

// queries holds the inbox's SQL, built once per table.
type queries struct {
	enqueue, count, claim, nextDue, delete, release, releaseMany, extend, stats string
}

// Durations travel as bigint microseconds; times are the database's
// (statement_timestamp()), so consumers with skewed clocks agree on leases.
func buildQueries(t string) queries {
	const us = `::bigint * interval '1 microsecond'`
	return queries{
		// One statement, one implicit transaction: the NOTIFY is delivered
		// when the row commits.
		enqueue: `WITH ins AS (
  INSERT INTO ` + t + ` (event_id, event_type, event_time, resource_url, data, provider, token, header, received_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  RETURNING id
)
SELECT pg_notify($10, '') FROM ins`,
		// Bounded: never reads more than MaxPending+1 index entries.
		count: `SELECT count(*) FROM (SELECT 1 FROM ` + t + ` LIMIT $1) AS s`,
		// The claim: the oldest claimable rows through the (available_at, id)
		// index; rows locked by a concurrent claim are skipped, not waited
		// for. Claiming sets available_at to the lease expiry.
		claim: `WITH picked AS (
  SELECT id FROM ` + t + `
  WHERE available_at <= statement_timestamp()
  ORDER BY available_at, id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE ` + t + ` AS t
SET lease_owner = $2, attempts = t.attempts + 1, available_at = statement_timestamp() + $3` + us + `
FROM picked WHERE t.id = picked.id
RETURNING t.id, t.attempts, t.event_id, t.event_type, t.event_time, t.resource_url, t.data,
  t.provider, t.token, t.header, t.received_at`,
		nextDue: `SELECT (extract(epoch FROM min(available_at) - statement_timestamp()) * 1000000)::bigint FROM ` + t,
		delete:  `DELETE FROM ` + t + ` WHERE id = $1 AND attempts = $2 AND lease_owner = $3`,
		release: `WITH r AS (
  UPDATE ` + t + ` SET lease_owner = NULL, available_at = statement_timestamp()
  WHERE id = $1 AND attempts = $2 AND lease_owner = $3
  RETURNING 1
)
SELECT pg_notify($4, '') FROM r LIMIT 1`,
		releaseMany: `WITH r AS (
  UPDATE ` + t + ` AS t SET lease_owner = NULL, available_at = statement_timestamp()
  FROM unnest($1::bigint[], $2::integer[]) AS h(id, attempts)
  WHERE t.id = h.id AND t.attempts = h.attempts AND t.lease_owner = $3
  RETURNING 1
)
SELECT pg_notify($4, '') FROM r LIMIT 1`,
		extend: `UPDATE ` + t + ` AS t SET available_at = statement_timestamp() + $3` + us + `
FROM unnest($1::bigint[], $2::integer[]) AS h(id, attempts)
WHERE t.id = h.id AND t.attempts = h.attempts AND t.lease_owner = $4
RETURNING t.id`,
		stats: `SELECT count(*) FILTER (WHERE available_at <= statement_timestamp()),
  count(*) FILTER (WHERE available_at > statement_timestamp()),
  min(enqueued_at), coalesce(max(attempts), 0)
FROM ` + t,
	}
}
