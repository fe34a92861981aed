package receiver

import (
	"context"
	"time"
)

// Observer receives the receiver's events, for metrics and tracing. Every
// field is optional; nil fields are skipped. The functions are called
// synchronously on the request path (Accepted, Rejected, Duplicate) or on a
// worker (the rest), so they must be fast and safe for concurrent use. The
// info never contains secrets, signatures or bodies.
type Observer struct {
	// Accepted is called when a request passed every check and its event was
	// claimed and handed off (Handler) or passed to the next handler
	// (Middleware).
	Accepted func(ctx context.Context, info Info)
	// Rejected is called for every request answered with an error status,
	// before or after verification.
	Rejected func(ctx context.Context, r Rejection)
	// Duplicate is called for an event that was already processed
	// (inProgress false, answered 200) or whose claim is held (inProgress
	// true, answered 409 with Retry-After).
	Duplicate func(ctx context.Context, info Info, inProgress bool)
	// Processed is called when a handler succeeded, after the event's claim
	// was completed (a redelivery from then on is answered 200 as a
	// duplicate); info.Duration is the time from the first attempt's start
	// to the success.
	Processed func(ctx context.Context, info Info)
	// Failed is called for each failed handler attempt, with its error.
	Failed func(ctx context.Context, info Info, err error)
	// DeadLettered is called when the receiver gives up on an event
	// (retries exhausted or a permanent error), after the DeadLetter hook.
	DeadLettered func(ctx context.Context, info Info, err error)
}

// Info describes one event for an Observer.
type Info struct {
	// ID is the event id (the dedupe key).
	ID string
	// Type is the event type.
	Type string
	// Provider is the Provider's Name ("hookkit" for the default).
	Provider string
	// Attempt is the handler attempt, starting at 1; 0 on the request path.
	Attempt int
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
	// Duration is the processing time (Processed, DeadLettered) or the
	// attempt's duration (Failed); 0 on the request path.
	Duration time.Duration
}

// Rejection describes a refused request.
type Rejection struct {
	// Status is the HTTP status answered (4xx, or 503).
	Status int
	// Reason is the short, fixed reason sent in the body, e.g.
	// "signature: no matching signature".
	Reason string
	// Err is the underlying error, if any (never contains secret material).
	Err error
	// Provider is the Provider's Name.
	Provider string
	// RemoteAddr is the request's RemoteAddr.
	RemoteAddr string
}
