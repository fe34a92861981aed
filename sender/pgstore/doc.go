// Package pgstore is a PostgreSQL sender.Store (the outbox) on jackc/pgx/v5:
// deliveries survive restarts and many producer instances share one queue.
//
// # Set-up
//
//	pool, _ := pgxpool.New(ctx, "postgres://…")
//	store, err := pgstore.New(pgstore.Config{Pool: pool})
//	if err != nil { … }
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { … } // idempotent, safe from many instances at once
//	s, err := sender.New(sender.Config{Store: store, …})
//
// The tables live in their own schema (Config.Schema, "hookkit" by default),
// created and upgraded by Migrate from versioned SQL files embedded in the
// package (Migrations returns them for external migration tools). Applied
// versions are recorded in <schema>.schema_migrations; concurrent Migrate calls
// serialise on a transaction-level advisory lock.
//
// # How work is claimed
//
// Claim is one statement: it picks due deliveries with SELECT … FOR NO KEY
// UPDATE SKIP LOCKED — pending ones in (next_attempt_at, id) order through a
// partial index on pending rows, and in-flight ones whose lease expired through
// a partial index on lease_expires_at — and leases them to the claiming owner,
// returning each joined with its endpoint and event. Concurrent claimers, in one
// process or many, skip each other's rows instead of waiting, and never receive
// the same delivery. Deliveries of disabled endpoints stay pending. For an
// ordered (FIFO) endpoint only the oldest unsettled delivery (lowest id) is
// claimable, and only while no other delivery of the endpoint holds a live
// lease, so at most one is in flight.
//
// Backlogs that cannot be claimed are kept out of the claim's index, so they
// cost claims nothing however long they grow: the pending deliveries of a
// disabled endpoint are paused (and resume when it is enabled), and those
// queued behind the head of an ordered endpoint wait until the head is
// delivered or dead-lettered. Both read as sender.StatePending.
//
// Settle applies a whole batch of outcomes in one statement (arrays through
// unnest), each guarded by the lease owner and expiry, and concurrent Settle
// calls on one Store are coalesced into one statement; ExtendLeases renews
// leases of long attempts. The payload of an event is stored once however many
// endpoints receive it.
//
// Durability: Publish, PublishTx and PublishBatch commit synchronously, so a
// published event is never lost. Claims and (unless Config.SynchronousSettle)
// settles commit with synchronous_commit off: if the PostgreSQL server itself
// crashes, the last fraction of a second of them may be forgotten, which is the
// same as those leases expiring — the deliveries are claimed and attempted
// again (at-least-once delivery; receivers deduplicate by webhook-id). A
// terminated connection or a crashed sender loses nothing either way.
//
// # Waking dispatchers
//
// Publish, PublishTx, Replay, reschedules, releases and endpoint updates send
// pg_notify in their transaction, so PostgreSQL delivers the notification on
// commit. Every Store keeps one pool connection in LISTEN and turns
// notifications into Notify signals, so a publish reaches an idle dispatcher in
// another process within milliseconds. The listener reconnects with backoff
// when its connection breaks, and Notify also fires every
// Config.PollInterval, so a lost connection delays work by at most that long.
//
// # Transactional publishing
//
// PublishTx writes the event and its deliveries inside the application's own
// pgx.Tx: they commit atomically with the application's data, and a rolled-back
// transaction delivers nothing. Use it through sender.PublishTx and
// sender.SendTx, which add the Sender's validation and fan-out:
//
//	tx, _ := pool.Begin(ctx)
//	// … the application's own writes …
//	res, err := sender.PublishTx(ctx, s, tx, ev)
//	// … commit or roll back: dispatchers wake on commit.
//
// PublishBatch stores many events in one transaction with a few round trips
// whatever their number.
//
// # Secrets
//
// Endpoint signing keys and custom headers are stored as given (the sender
// needs them to sign): protect the database and its backups accordingly. The
// store never logs them.
package pgstore
