// Package retry decides what happens after a webhook delivery attempt: whether it was
// delivered, and if not, whether and when to try again.
//
// It has three parts.
//
// Classification. [Classify] (or a configured [Classifier]) turns an *http.Response or a
// transport error into an [Outcome] of one [Kind]: Delivered (2xx only — a 3xx is a failure and
// redirects are never followed), Retry (5xx, 408, 3xx, other 4xx, timeouts, connection errors),
// Throttle (429, 502, 503, 504, honouring Retry-After in both its delay-seconds and HTTP-date
// forms, clamped to [0, MaxRetryAfter]), Gone (410: disable the endpoint) and
// PermanentFailure (statuses you list, none by default, or errors wrapped by [Permanent]). The caller's own context cancellation is classified
// Retry, never as a failure of the endpoint; see [Outcome.CallerCanceled].
//
// Schedules. A [Policy] maps the attempts made so far to the delay before the next one, or
// stop. Policies hold no state and are safe for concurrent use, so a sender can store the
// attempt count with each delivery and ask again after a restart. [Default] is the Standard
// Webhooks / Svix schedule (at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ±20 %
// jitter); [Schedule] is any fixed list; [Exponential] is exponential backoff with full jitter,
// every limit set on purpose. Jitter comes from an injectable Rand so tests are exact.
// [Next] combines a policy with an outcome and is the single decision a sender makes.
//
// In-process retries. [Do] retries a function on cenkalti/backoff/v4 under a Policy — for a
// receiver's handler or a store reconnect. Inside the function, wrap an error with [Permanent]
// to stop, or with [After] to wait at least a given time.
package retry
