package sender

import (
	"context"
	"time"

	"github.com/hookkit/hookkit/retry"
)

// Observer receives what the dispatcher does: the seam for metrics, tracing and operational
// webhooks (for example notifying a customer that their endpoint was disabled).
//
// Methods are called synchronously from the dispatcher's workers, possibly concurrently, after
// the store has recorded the change. They must be safe for concurrent use, return quickly and
// not block; a panic in an Observer is recovered and logged. Embed [NopObserver] to implement
// only the methods you need:
//
//	type deadLetterAlert struct{ sender.NopObserver }
//
//	func (deadLetterAlert) DeadLettered(ctx context.Context, r sender.AttemptReport) { … }
type Observer interface {
	// AttemptFinished is called after every HTTP attempt, whatever its outcome.
	AttemptFinished(ctx context.Context, r AttemptReport)
	// Delivered is called when an endpoint accepted a delivery (2xx).
	Delivered(ctx context.Context, r AttemptReport)
	// RetryScheduled is called when a failed attempt is to be retried at r.NextAttemptAt.
	RetryScheduled(ctx context.Context, r AttemptReport)
	// DeadLettered is called when a delivery becomes a dead letter (retries exhausted,
	// permanent failure, or the endpoint answered 410 Gone); r.Reason says why.
	DeadLettered(ctx context.Context, r AttemptReport)
	// EndpointDisabled is called when the sender disabled an endpoint on its own: it answered
	// 410 Gone, or it kept failing for longer than Config.DisableAfter.
	EndpointDisabled(ctx context.Context, r EndpointReport)
	// EndpointRecovered is called when an endpoint that was failing accepts a delivery again.
	// When several of its deliveries succeed at once it may be called more than once.
	EndpointRecovered(ctx context.Context, r EndpointReport)
}

// AttemptReport describes one attempt and what the sender decided after it.
type AttemptReport struct {
	// DeliveryID, EventID, EventType and EndpointID identify the delivery.
	DeliveryID DeliveryID
	EventID    string
	EventType  string
	EndpointID string
	// Attempt is the attempt's number, starting at 1.
	Attempt int
	// Outcome is the attempt's classification.
	Outcome retry.Kind
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Err is the transport error or a description of a non-2xx answer; nil on delivery.
	Err error
	// StartedAt is when the attempt started and Duration how long it took.
	StartedAt time.Time
	Duration  time.Duration
	// NextAttemptAt is when the delivery will be attempted again (RetryScheduled only).
	NextAttemptAt time.Time
	// RetryAfter is the delay the endpoint asked for with Retry-After (clamped to the
	// Classifier's MaxRetryAfter), 0 when it sent none. The next attempt is no sooner than
	// both this and the retry schedule.
	RetryAfter time.Duration
	// Reason says why a delivery was dead-lettered (DeadLettered only).
	Reason string
}

// EndpointReport describes a change of an endpoint's health.
type EndpointReport struct {
	// EndpointID is the endpoint.
	EndpointID string
	// At is when the change happened.
	At time.Time
	// Reason says why the endpoint was disabled (EndpointDisabled only).
	Reason string
	// FailingSince is when the endpoint's current (EndpointDisabled) or past
	// (EndpointRecovered) run of failures began.
	FailingSince time.Time
}

// NopObserver is an Observer that does nothing. Embed it in your own Observer to implement only
// some methods.
type NopObserver struct{}

var _ Observer = NopObserver{}

// AttemptFinished does nothing.
func (NopObserver) AttemptFinished(context.Context, AttemptReport) {}

// Delivered does nothing.
func (NopObserver) Delivered(context.Context, AttemptReport) {}

// RetryScheduled does nothing.
func (NopObserver) RetryScheduled(context.Context, AttemptReport) {}

// DeadLettered does nothing.
func (NopObserver) DeadLettered(context.Context, AttemptReport) {}

// EndpointDisabled does nothing.
func (NopObserver) EndpointDisabled(context.Context, EndpointReport) {}

// EndpointRecovered does nothing.
func (NopObserver) EndpointRecovered(context.Context, EndpointReport) {}
