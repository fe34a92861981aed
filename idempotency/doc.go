// Package idempotency records which webhook events (or any keys) are being
// processed or have been processed, so that a receiver processes each event
// once even when the sender delivers it several times.
//
// # The protocol
//
// A consumer calls Store.Claim with the event id and a lease before it
// processes the event:
//
//   - Claimed: it owns the key until the lease expires. It processes the event
//     and then calls Complete with the claim's token (the key is then Done for
//     the retention, DefaultRetention by default), or Release when it gives up,
//     so that a redelivery can try again at once.
//   - InProgress: another worker or replica holds an unexpired lease. The
//     event is being processed; do not process it again.
//   - Done: the event was processed within the retention: a duplicate.
//
// If the owner crashes, its lease expires and the key can be claimed again:
// processing is at least once across crashes and at most once at a time.
// Complete and Release by anyone but the current owner fail with ErrNotOwner
// (another caller re-claimed the key after the lease expired) or ErrNotFound
// (nobody holds the key); either way the caller lost ownership, so choose a
// lease comfortably longer than processing takes.
//
// A Store error means nothing was claimed: do not process the event, and make
// the sender retry (HTTP 503). ErrFull (a bounded memory store full of
// in-progress claims) and ErrUnavailable (a server-backed store failed) are
// such errors; ErrInvalidKey means the key itself is unacceptable
// (see ValidateKey).
//
// Zero or negative leases and retentions mean DefaultLease and
// DefaultRetention.
//
// # Stores
//
// MemoryStore (NewMemoryStore) serves one process: sharded, with lazy and
// periodic expiry and a bounded size, in which the oldest completed keys are
// evicted first and in-progress claims never are. For several replicas use
// a shared store: package redisstore (Redis, SET NX PX and Lua scripts) or
// package pgstore (PostgreSQL; its ClaimTx also dedupes inside the consumer's
// own transaction for an exactly-once effect). Package storetest is the
// conformance suite every Store implementation passes.
package idempotency
