// Package receiver is the consuming side of hookkit: HTTP handlers that let
// no forged or replayed webhook through, process each event once even when
// the sender retries, answer fast, and push back instead of dropping work
// when overloaded.
//
// # Two modes
//
// Handler (New) is asynchronous, the default. For each POST it checks, in
// order: method (405 with Allow), body size (413, MaxBodyBytes, read into a
// pooled buffer through http.MaxBytesReader), content type (415 unless
// JSON), source address (403, AllowedSources with Forwarded /
// X-Forwarded-For believed only from TrustedProxies), signature (401 with
// a short reason; any signature.Verifier, Standard Webhooks by default),
// envelope (400), then claims the event id in an idempotency.Store: an
// event already processed is answered 200 with "Hookkit-Duplicate: true"
// and not processed again; one whose claim is held (being processed, here
// or by another replica) is answered 409 with the same header and
// Retry-After: never a 2xx, because a held claim may be orphaned (its holder
// crashed before queueing it), and a 2xx would let the sender forget an
// event nobody processes. A claimed event goes to a bounded Queue and is answered 202
// at once; when the queue is full the claim is released and the answer is
// 503 with Retry-After, so the sender tries again later. A store failure is
// 503 too: an event that was not recorded is never answered 2xx.
//
// Workers take events from the queue and call the EventHandler, usually a
// Router (exact types, "prefix.*" wildcards, a Fallback, and an Unknown
// policy), with typed handlers registered through Handle. Handler errors
// are retried in process with Config.Retry (retry.Do); retry.Permanent
// stops at once and retry.After asks for a minimum delay. Success completes
// the claim; giving up calls the DeadLetter hook and releases the claim, so
// the sender's next redelivery can try again. Panics are recovered as
// *PanicError. The handler's context carries Metadata (MetadataFrom) and is
// cancelled at the Shutdown deadline.
//
// Middleware is synchronous: the same checks, then the next http.Handler is
// called with the event in the request context (EventFrom) and the body
// restored; its 2xx completes the claim, anything else (or a panic, which
// then continues) releases it. A duplicate in progress is answered 409 with
// Retry-After.
//
// # Delivery guarantees
//
//   - Handler with the default MemoryQueue: an event answered 202 is
//     processed by this process (retried, then dead-lettered if it keeps
//     failing) unless the process dies, or Shutdown's deadline passes,
//     first; then it is lost, because the sender saw a 2xx. Use it where
//     losing an event in a crash is acceptable, or reconcile from the
//     sender's API.
//   - Handler with a durable Queue (receiver/pginbox, a PostgreSQL inbox):
//     the 202 is sent only after the event is committed in PostgreSQL; an
//     event that could not be stored, or an inbox over its MaxPending, is
//     answered 503 so the sender retries. Workers in any replica claim
//     stored events with FOR UPDATE SKIP LOCKED under a lease that is
//     renewed while the worker lives; a consumer that crashes stops renewing
//     and its events are claimed again after the lease expires, by another
//     replica or the restarted process. Processing is at least once across
//     crashes; an event runs twice only if a consumer dies between the
//     handler's success and the Ack. Use idempotency/pgstore's ClaimTx inside
//     the handler's own transaction for an exactly-once effect.
//   - Middleware: the sender is answered only after your handler finished,
//     so a crash means no 2xx and the sender retries: at-least-once, with
//     the handler's latency on the request.
//
// In every mode the idempotency store keeps a redelivered event id from
// being processed again for the Retention window, and from being processed
// twice at the same time while its claim's lease (ClaimLease) lasts; a
// shared Redis or PostgreSQL store extends this across replicas. A handler
// that outlives the lease may run concurrently with a redelivery: size
// ClaimLease above the longest processing, retries included.
//
// # Providers
//
// Config.Provider switches the pipeline to another sender's scheme: GitHub,
// Stripe, Shopify, Slack and StandardWebhooks presets take a verifier from
// the signature package and define the dedupe key and event type; the raw
// payload is the event's Data. The CloudEvents abuse-protection handshake
// (OPTIONS with WebHook-Request-Origin) is answered when Config.Handshake
// is set; origins match exactly and no callback URL is ever called.
//
// # Observability
//
// Config.Observer receives accepted, rejected (with the reason),
// duplicate, processed (with its duration), failed and dead-lettered
// events; Config.Logger receives slog records. Neither ever sees secrets,
// signatures or bodies.
//
// # Testing
//
// Package receivertest builds correctly signed requests for hookkit
// events and for each provider scheme.
package receiver
