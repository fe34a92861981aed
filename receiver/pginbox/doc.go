// Package pginbox is a durable receiver.Queue on PostgreSQL (jackc/pgx/v5):
// the receiver records each accepted webhook in a table before it answers
// 202, and workers in any number of processes claim the recorded events the
// way the sender's dispatcher claims deliveries. Plug it into receiver.New:
//
//	pool, _ := pgxpool.New(ctx, "postgres://…")
//	inbox, err := pginbox.New(ctx, pginbox.Config{Pool: pool})
//	if err != nil { … }
//	if err := inbox.Migrate(ctx); err != nil { … } // idempotent, safe from many instances at once
//	h, err := receiver.New(receiver.Config{Keys: keys, Handler: router, Queue: inbox, Store: store})
//	// … h.Shutdown(ctx) closes the inbox.
//
// # Delivery guarantees
//
// With the default receiver.MemoryQueue, "202 Accepted" means the event was
// verified, its id claimed in the idempotency store and the event put in a
// channel in this process's memory. If the process dies (crash, OOM kill,
// deploy past Shutdown's deadline) before the handler completes, the event is
// lost: the sender saw a 2xx and never retries it. Nor does the claim help: it
// is never completed, so with a memory idempotency store it vanishes with the
// process, and with a shared store (Redis, PostgreSQL) it stays "in progress"
// until the receiver's ClaimLease expires, during which every redelivery is
// answered 202 as a duplicate in progress and dropped too: a manual replay,
// a sender that timed out before reading the 202, and even the sender's own
// retry when the process died after the claim but before the answer was
// written. Only a redelivery after the lease expired is processed. The
// memory queue suits events you can afford to lose or can reconcile from the
// sender's API.
//
// With this inbox, "202 Accepted" means the event is committed in PostgreSQL:
// Enqueue returns nil only after the INSERT committed (as durable as your
// server's synchronous_commit setting makes any commit), and an event that
// could not be stored is answered 503, so the sender retries it. If the
// process dies after the commit but before the 202 is written, the sender
// retries: with a shared idempotency store the retry finds the claim in
// progress and is answered 202, and the stored row is processed all the same;
// with a memory store the claim died with the process, so the retry is stored
// again and the event is processed twice.
//
// Every stored event is then processed at least once, across crashes of any
// consumer: a worker holds a dequeued event under a lease that the inbox
// renews while the worker lives, and a consumer that dies stops renewing, so
// the event becomes claimable again at most Config.Lease later, by another
// replica or by the restarted process. The row is deleted only by the Ack
// after the handler succeeded (or the receiver dead-lettered the event).
//
// The receiver completes the idempotency claim after the handler succeeds and
// then acks the inbox row. Apart from the case above, an event is therefore
// processed twice only when a consumer dies, or loses its database connection for longer than the lease,
// between the handler's success and the Ack's commit: the row survives, is
// claimed again, and the handler runs again (the dedupe happened on the
// request path, not at dequeue). Make handlers idempotent for that window, or
// make the effect exactly-once by recording the event id in the same database
// transaction as the effect (idempotency/pgstore's ClaimTx). Two further
// remarks:
//
//   - Set the receiver's ClaimLease above the longest time an event may wait
//     in the inbox plus its processing (a backlog, an outage of all
//     consumers). While the claim holds, a redelivery of the same event is
//     answered as a duplicate; once it expired, a redelivery is stored again
//     (at-least-once, possibly twice) and Complete with the old token fails
//     (the receiver logs "processed but not recorded").
//   - At Shutdown the receiver releases the claims of unprocessed events and
//     acks them Abandoned: the inbox returns those rows to the queue, and
//     they are processed after the restart or by another replica.
//
// # How work is claimed
//
// One table (Config.Schema, Config.Table) holds a row per stored event: the
// event's id, type, time, resource URL and data byte for byte (for a provider
// preset, the raw payload), the provider's name, the idempotency token, the
// request headers (all but Config.OmitHeaders, so credentials never reach the
// database), the time received, and the claim count, lease owner and
// available_at. A row is claimable when available_at has passed: it is the
// enqueue time while the row waits, and the lease expiry while a consumer
// holds it, so an expired lease needs no sweeper. Times come back in UTC with
// PostgreSQL's microsecond precision.
//
// Dequeue claims with one statement, UPDATE … FROM (SELECT … ORDER BY
// available_at, id LIMIT n FOR UPDATE SKIP LOCKED), through an index on
// (available_at, id): concurrent consumers in one process or many skip each
// other's rows instead of waiting, and never receive the same row. A claim
// takes rows for the Dequeue callers waiting at that moment, up to
// Config.BatchSize, so a busy replica does not sit on work that an idle one
// could do. Ack deletes the row (Processed, DeadLettered) or makes it due at
// once (Abandoned); both are guarded by the owner and claim count, so a
// consumer whose lease was taken over gets ErrLeaseLost instead of touching
// the new holder's claim. Times are the database's, so consumers with skewed
// clocks agree on leases.
//
// # Waking consumers
//
// Enqueue and Ack(Abandoned) send pg_notify in their statement, delivered on
// commit. Every Inbox keeps one connection of its own in LISTEN, so an idle
// Dequeue in any process wakes within milliseconds of an Enqueue anywhere.
// The listener reconnects with backoff (50 ms to 5 s, jittered) when its
// connection breaks, and idle callers also look for work every
// Config.PollInterval and at the next lease expiry, so a lost connection
// delays work by at most that long.
//
// # Back-pressure
//
// Config.MaxPending bounds the stored rows: beyond it Enqueue fails with an
// error wrapping receiver.ErrQueueFull, the receiver releases the claim and
// answers 503 with Retry-After, and the sender retries later. The check reads
// an estimate (a bounded count, refreshed at most every second, plus this
// process's own enqueues and acks), never a count per request.
//
// # Schema
//
// Migrate creates the schema and table from versioned SQL files embedded in
// the package (Migrations returns them for external migration tools),
// records applied versions in <schema>.<table>_migrations, and serialises
// concurrent runs on a transaction-level advisory lock. Only this package of
// the receiver imports pgx.
package pginbox
