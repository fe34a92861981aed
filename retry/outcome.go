package retry

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Kind is the class of an attempt's outcome. The zero value is not a valid Kind; [Next]
// treats it like [Retry].
type Kind int

const (
	// Delivered: the endpoint answered 2xx. Nothing more to do.
	Delivered Kind = iota + 1
	// Retry: a failure worth retrying on the policy's schedule (5xx, 408, 3xx, other 4xx by
	// default, timeouts, connection errors).
	Retry
	// Throttle: the endpoint asked to slow down (429, 502, 503, 504). Retry no sooner than
	// both the schedule and the endpoint's Retry-After allow.
	Throttle
	// Gone: the endpoint answered 410 Gone; it wants no more deliveries. Disable it.
	Gone
	// PermanentFailure: retrying cannot help (a status in [Classifier.PermanentStatuses], or
	// an error wrapped with [Permanent]). Dead-letter the delivery. (It is not named Permanent
	// because that name is the [Permanent] function.)
	PermanentFailure
)

// String returns the lower-case name of k ("delivered", "retry", ...), or "Kind(n)".
func (k Kind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Throttle:
		return "throttle"
	case Gone:
		return "gone"
	case PermanentFailure:
		return "permanent"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is the classified result of one delivery attempt.
type Outcome struct {
	// Kind is what to do next.
	Kind Kind
	// StatusCode is the HTTP status of the response, 0 when there was none.
	StatusCode int
	// RetryAfter is the endpoint's Retry-After, already clamped to
	// [0, Classifier.MaxRetryAfter]. Set only for Throttle outcomes that carried a valid header.
	RetryAfter time.Duration
	// Err is the transport error, nil when a response arrived (see [ErrNoResponse]).
	Err error
}

// CallerCanceled reports whether the attempt ended because the caller's context was canceled
// (for example the sender shutting down). Such an outcome is classified [Retry] so that no
// delivery is lost, but it says nothing about the endpoint: a sender should not count it
// against the endpoint's health or its attempt budget.
func (o Outcome) CallerCanceled() bool {
	return o.StatusCode == 0 && o.Err != nil && errors.Is(o.Err, context.Canceled)
}

// ErrNoResponse is the Outcome.Err when Classify is given neither a response nor an error.
var ErrNoResponse = errors.New("retry: no response and no error (bug in the caller)")
