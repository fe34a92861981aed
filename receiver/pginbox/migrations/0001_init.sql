-- hookkit receiver inbox, version 1.
-- {{table}} is replaced by the quoted, schema-qualified table name and
-- {{available_idx}} by the quoted name of its claim index. Every statement
-- runs in one transaction under an advisory lock (see Migrate).

-- One row per accepted delivery, deleted once it is processed or
-- dead-lettered. A row is claimable when available_at has passed: it is the
-- enqueue time (or the time it was returned) while the row waits, and the
-- lease expiry while a consumer (lease_owner) holds it, so an expired lease
-- makes the row claimable again without any sweeper.
CREATE TABLE {{table}} (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    event_time   timestamptz,
    resource_url text NOT NULL DEFAULT '',
    data         bytea NOT NULL,          -- the event's data, byte for byte (a provider's raw payload)
    provider     text NOT NULL DEFAULT '',
    token        text NOT NULL DEFAULT '', -- the idempotency claim's token
    header       bytea,                    -- request headers (see header.go for the encoding)
    received_at  timestamptz,
    enqueued_at  timestamptz NOT NULL DEFAULT statement_timestamp(),
    attempts     integer NOT NULL DEFAULT 0, -- how many times the row was claimed
    lease_owner  text,
    available_at timestamptz NOT NULL DEFAULT statement_timestamp()
);

-- The claim: claimable rows in (available_at, id) order, and the next due time.
CREATE INDEX {{available_idx}} ON {{table}} (available_at, id);
