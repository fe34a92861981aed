package retry

import (
	"net/http"
	"slices"
	"time"
)

// DefaultMaxRetryAfter is the ceiling a zero [Classifier] puts on an endpoint's Retry-After.
const DefaultMaxRetryAfter = 24 * time.Hour

// Classifier turns an HTTP response or transport error into an [Outcome]. The zero value is
// ready to use and safe for concurrent use; do not modify its fields while it is in use.
//
// The classes, in the order they are decided:
//
//	err != nil and no response       PermanentFailure if errors.As finds an error made by [Permanent],
//	                                 otherwise Retry (timeouts, refused connections, TLS
//	                                 failures, DNS failures and the caller's own cancellation
//	                                 alike; see [Outcome.CallerCanceled])
//	2xx                              Delivered (only 2xx: a 3xx is not a delivery)
//	410                              Gone
//	a code in PermanentStatuses      PermanentFailure
//	429, 502, 503, 504               Throttle, with Retry-After honoured
//	anything else (1xx, 3xx, 4xx, 5xx, odd codes)  Retry
//
// When both a response and an error are given (net/http does this only when CheckRedirect
// fails), the response decides and the error is kept in Outcome.Err.
type Classifier struct {
	// PermanentStatuses are statuses that will not be retried (Kind PermanentFailure), for
	// endpoints known to answer, say, 400 for payloads they will never accept. 2xx and 410
	// listed here are ignored. Defaults to none: every failure is retried, as Svix does.
	PermanentStatuses []int
	// MaxRetryAfter caps the delay an endpoint may ask for with Retry-After. Defaults to
	// [DefaultMaxRetryAfter] (24 h). Negative values are treated as the default.
	MaxRetryAfter time.Duration
	// Now is the clock used to resolve HTTP-date Retry-After values. Defaults to time.Now.
	Now func() time.Time
}

// Classify classifies with the zero [Classifier].
func Classify(resp *http.Response, err error) Outcome {
	return Classifier{}.Classify(resp, err)
}

// Classify classifies one attempt's result. resp's body is not read or closed.
func (c Classifier) Classify(resp *http.Response, err error) Outcome {
	if resp == nil {
		if err == nil {
			return Outcome{Kind: Retry, Err: ErrNoResponse}
		}
		if IsPermanent(err) {
			return Outcome{Kind: PermanentFailure, Err: err}
		}
		return Outcome{Kind: Retry, Err: err}
	}
	code := resp.StatusCode
	o := Outcome{StatusCode: code, Err: err}
	switch {
	case code >= 200 && code <= 299:
		o.Kind = Delivered
	case code == http.StatusGone:
		o.Kind = Gone
	case slices.Contains(c.PermanentStatuses, code):
		o.Kind = PermanentFailure
	case IsThrottleStatus(code):
		o.Kind = Throttle
		o.RetryAfter = c.retryAfter(resp.Header)
	default:
		o.Kind = Retry
	}
	return o
}

// retryAfter returns the clamped Retry-After of h, 0 when absent or invalid.
func (c Classifier) retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	d, ok := ParseRetryAfter(v, now())
	if !ok {
		return 0
	}
	limit := c.MaxRetryAfter
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	return min(d, limit)
}

// IsThrottleStatus reports whether code asks the sender to slow down: 429, 502, 503 or 504.
func IsThrottleStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
