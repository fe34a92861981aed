-- hookkit sender outbox, version 1.
-- {{schema}} is replaced by the quoted schema name. Every statement runs in one
-- transaction under an advisory lock (see Migrate).

-- Endpoints. keys holds signing secrets as given: never log this table's rows.
CREATE TABLE {{schema}}.endpoints (
    id              text PRIMARY KEY,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    keys            jsonb,
    event_types     text[],
    headers         jsonb,
    rate_limit      double precision NOT NULL DEFAULT 0,
    max_concurrency integer NOT NULL DEFAULT 0,
    ordered         boolean NOT NULL DEFAULT false,
    timeout_ns      bigint NOT NULL DEFAULT 0,
    disabled        boolean NOT NULL DEFAULT false,
    disabled_reason text NOT NULL DEFAULT '',
    disabled_at     timestamptz,
    metadata        jsonb,
    created_at      timestamptz,
    updated_at      timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    failing_since   timestamptz
);

-- Events: the payload is stored once, however many endpoints receive it.
CREATE TABLE {{schema}}.events (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    payload         bytea NOT NULL,
    created_at      timestamptz,
    idempotency_key text
);
CREATE INDEX events_created_at_idx ON {{schema}}.events (created_at);

-- Idempotency keys of Publish: the first publish's result is kept in result.
CREATE TABLE {{schema}}.idempotency_keys (
    key        text PRIMARY KEY,
    event_id   text NOT NULL,
    created_at timestamptz,
    result     jsonb
);
CREATE INDEX idempotency_keys_event_id_idx ON {{schema}}.idempotency_keys (event_id);
CREATE INDEX idempotency_keys_created_at_idx ON {{schema}}.idempotency_keys (created_at);

-- Deliveries: one event to one endpoint. id (bigserial) is the FIFO order.
-- state: 1 pending, 2 in_flight, 3 delivered, 4 dead (sender.DeliveryState), and
-- 5 paused: pending, but its endpoint is disabled; 6 queued: pending behind the
-- head of an ordered (FIFO) endpoint. Both stay out of the claim's index, so a
-- disabled endpoint's backlog or an ordered endpoint's queue costs claims
-- nothing; they read as pending. Paused deliveries become 1 again when the
-- endpoint is enabled; the next queued one becomes 1 when the one before it is
-- settled.
CREATE TABLE {{schema}}.deliveries (
    id               bigserial PRIMARY KEY,
    event_id         text NOT NULL REFERENCES {{schema}}.events (id),
    event_type       text NOT NULL,
    endpoint_id      text NOT NULL REFERENCES {{schema}}.endpoints (id) ON DELETE CASCADE,
    state            smallint NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text NOT NULL DEFAULT '',
    last_status_code integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT deliveries_state_check CHECK (state BETWEEN 1 AND 6)
);
-- One delivery per event and endpoint; also serves lookups by event.
CREATE UNIQUE INDEX deliveries_event_endpoint_idx ON {{schema}}.deliveries (event_id, endpoint_id);
-- The claim: due pending deliveries in (due time, FIFO) order.
CREATE INDEX deliveries_pending_idx ON {{schema}}.deliveries (next_attempt_at, id) WHERE state = 1;
-- The claim of expired leases, and NextDue.
CREATE INDEX deliveries_in_flight_idx ON {{schema}}.deliveries (lease_expires_at, id) WHERE state = 2;
-- By endpoint and state: an ordered endpoint's oldest pending, in-flight and
-- queued deliveries and whether one holds a live lease; pausing and resuming an
-- endpoint's backlog; listing by endpoint (newest first per state, merged); the
-- ON DELETE CASCADE from endpoints. One index for all of these keeps every
-- publish and claim to one index write for the endpoint.
CREATE INDEX deliveries_endpoint_state_idx ON {{schema}}.deliveries (endpoint_id, state, id);
-- Dead letters by dead-letter time (listing, replay since, prune).
CREATE INDEX deliveries_dead_idx ON {{schema}}.deliveries (updated_at, id) WHERE state = 4;
-- (Delivered deliveries are pruned in id order through the primary key: an index
-- on them would cost every settle a write for the sake of an occasional Prune.)

-- The attempt log. No foreign keys and few indexes: it is appended on every
-- settle. Queries by event or endpoint go through the deliveries' indexes;
-- deletes of deliveries remove their entries explicitly; retention pruning by
-- started_at uses a BRIN index (entries are appended in time order).
CREATE TABLE {{schema}}.attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      bigint NOT NULL,
    event_id         text NOT NULL,
    endpoint_id      text NOT NULL,
    n                integer NOT NULL,
    started_at       timestamptz,
    duration_ns      bigint NOT NULL DEFAULT 0,
    status_code      integer NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    response_snippet text NOT NULL DEFAULT '',
    next_attempt_at  timestamptz,
    outcome          text NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery_idx ON {{schema}}.attempts (delivery_id, id);
CREATE INDEX attempts_started_at_idx ON {{schema}}.attempts USING brin (started_at);
