// Package sender delivers webhooks: durably, with retries, to many endpoints, without letting
// one slow or dead endpoint hold up the others, and without following a customer's URL into
// your own network.
//
// # Publishing
//
// A [Sender] publishes an [event.Event] to every enabled endpoint subscribed to its type
// ([Sender.Publish]) or to one endpoint ([Sender.Send]). The event is validated (by an optional
// [event.Catalog] in [Config]), encoded once and stored once together with one [Delivery] per
// endpoint, atomically: an invalid or oversized event stores nothing. [WithIdempotencyKey] makes
// a publish idempotent: the same key returns the first result and stores nothing new.
//
//	s, err := sender.New(sender.Config{}) // memory store, default retry schedule
//	ep, err := s.CreateEndpoint(ctx, sender.Endpoint{URL: "https://example.com/hooks", EventTypes: []string{"invoice.*"}})
//	go s.Run(ctx)
//	e, err := event.New("invoice.paid", invoice)
//	res, err := s.Publish(ctx, e, sender.WithIdempotencyKey(invoice.ID))
//	…
//	err = s.Shutdown(ctx)
//
// # Delivery
//
// [Sender.Run] dispatches: it claims due deliveries from the [Store] in batches, with a lease
// that a heartbeat renews while attempts run, and is woken at once by a publish (stores that
// implement [Notifier]) or polls every [Config.PollInterval]. Between the claim and the attempt
// sits each endpoint's gate: a concurrency cap ([Endpoint.MaxConcurrency]), a rate limit
// ([Endpoint.RateLimit]) and a circuit breaker ([BreakerConfig]). The gate never blocks a worker:
// a delivery it turns away is rescheduled for when the endpoint can take it, without using up
// an attempt. So an endpoint that hangs until its timeout occupies at most its own concurrency
// cap, never the whole pool ([Config.Workers]).
//
// Each attempt POSTs the stored bytes with a fresh webhook-timestamp and Standard Webhooks
// signature (every active key of the endpoint signs, so secrets rotate with overlap:
// [Sender.RotateSecret]), webhook-id set to the event id (the same on every attempt and
// endpoint, for receivers to deduplicate), Content-Type application/json,
// User-Agent hookkit/[Version] and the endpoint's custom headers. Redirects are not followed
// (a 3xx is a failure), the response body is read up to [Config.MaxResponseBytes] and its
// start kept in the attempt log, the timeout is per endpoint (15 s by default).
//
// The outcome is settled through package retry: delivered; retried at a time the
// [retry.Policy] decides (the Standard Webhooks schedule by default), never earlier than the
// endpoint's Retry-After; 410 Gone dead-letters the delivery and disables the endpoint; retries
// exhausted or a permanent failure dead-letter it. An endpoint failing without a success for
// [Config.DisableAfter] (5 days by default) is disabled. Dead letters can be listed and replayed
// ([Sender.Replay], [Sender.ReplayEndpoint], [Sender.ReplaySince]): a replay is a new series of
// attempts with the same event id.
//
// # Security
//
// Connections are dialled through an SSRF guard that refuses private, loopback, link-local,
// CGNAT, multicast and cloud-metadata addresses after DNS resolution, on the address actually
// dialled, so DNS rebinding cannot dodge it. Allow what you trust with
// [Config.AllowPrivateNetworks], [Config.AllowedNetworks] or [Config.AllowedHosts]. A refused
// address dead-letters the delivery with [ErrDestinationBlocked]. Two settings bypass the
// guard: a forward proxy (the proxy dials, not the sender: make it refuse internal addresses
// itself) set on [Config.Transport], and a [Config.HTTPClient] of your own unless its transport
// dials with [Config.DialContext].
//
// Signing keys and custom header values are secrets: they are never logged, never stored in
// the attempt log, and redacted when an [Endpoint] is printed. URLs carrying credentials are
// refused, and URL query strings are left out of logs and errors.
//
// # Operations
//
// [Sender.Run] blocks until its context ends or [Sender.Shutdown] is called; Shutdown stops
// claiming, lets in-flight attempts finish until its deadline and returns the leases of the
// rest to the store, so another sender (or the next start) attempts them without losing an
// attempt. An [Observer] receives every attempt, delivery, retry, dead letter and endpoint
// health change (the seam for metrics and operational webhooks); [log/slog] receives structured
// logs ([Config.Logger]).
//
// Tests drive a Sender's retry schedule, rate limits and breakers without sleeping by passing
// sendertest.NewClock as [Config.Clock].
//
// The [MemoryStore] is the default store; it needs no set-up but does not survive a restart.
// Database-backed stores (sender/pgstore) implement the same [Store] interface and pass the
// same conformance suite (sender/storetest). Package sender/sendertest provides a scriptable
// webhook endpoint for tests.
package sender
