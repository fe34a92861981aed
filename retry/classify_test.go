package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/retry"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func response(code int, retryAfter ...string) *http.Response {
	h := http.Header{}
	for _, v := range retryAfter {
		h.Add("Retry-After", v)
	}
	return &http.Response{StatusCode: code, Header: h}
}

func TestClassifyStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code int
		want retry.Kind
	}{
		{"200 OK is delivered", 200, retry.Delivered},
		{"201 Created is delivered", 201, retry.Delivered},
		{"202 Accepted is delivered", 202, retry.Delivered},
		{"204 No Content is delivered", 204, retry.Delivered},
		{"299 is delivered", 299, retry.Delivered},
		{"1xx is not delivered", 100, retry.Retry},
		{"300 is a retryable failure, not a delivery", 300, retry.Retry},
		{"301 redirect is a retryable failure", 301, retry.Retry},
		{"302 redirect is a retryable failure", 302, retry.Retry},
		{"304 is a retryable failure", 304, retry.Retry},
		{"307 redirect is a retryable failure", 307, retry.Retry},
		{"308 redirect is a retryable failure", 308, retry.Retry},
		{"400 is retried by default", 400, retry.Retry},
		{"401 is retried by default", 401, retry.Retry},
		{"403 is retried by default", 403, retry.Retry},
		{"404 is retried by default", 404, retry.Retry},
		{"408 Request Timeout is retried", 408, retry.Retry},
		{"409 is retried by default", 409, retry.Retry},
		{"410 Gone disables the endpoint", 410, retry.Gone},
		{"413 is retried by default", 413, retry.Retry},
		{"422 is retried by default", 422, retry.Retry},
		{"429 Too Many Requests throttles", 429, retry.Throttle},
		{"500 is retried", 500, retry.Retry},
		{"501 is retried", 501, retry.Retry},
		{"502 Bad Gateway throttles", 502, retry.Throttle},
		{"503 Service Unavailable throttles", 503, retry.Throttle},
		{"504 Gateway Timeout throttles", 504, retry.Throttle},
		{"505 is retried", 505, retry.Retry},
		{"599 is retried", 599, retry.Retry},
		{"an out-of-range 0 status is retried", 0, retry.Retry},
		{"an out-of-range 999 status is retried", 999, retry.Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := retry.Classify(response(tt.code), nil)
			require.Equal(t, tt.want, o.Kind, "got %v", o.Kind)
			require.Equal(t, tt.code, o.StatusCode)
			require.NoError(t, o.Err)
			require.Zero(t, o.RetryAfter)
		})
	}
}

func TestClassifierPermanentStatuses(t *testing.T) {
	t.Parallel()
	c := retry.Classifier{PermanentStatuses: []int{400, 422, 429, 200, 410}}
	tests := []struct {
		name string
		code int
		want retry.Kind
	}{
		{"a listed 400 is a permanent failure", 400, retry.PermanentFailure},
		{"a listed 422 is a permanent failure", 422, retry.PermanentFailure},
		{"a listed 429 is a permanent failure, overriding throttle", 429, retry.PermanentFailure},
		{"an unlisted 401 is still retried", 401, retry.Retry},
		{"a listed 200 is still delivered", 200, retry.Delivered},
		{"a listed 410 is still gone", 410, retry.Gone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, c.Classify(response(tt.code), nil).Kind)
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestClassifyTransportErrors(t *testing.T) {
	t.Parallel()
	urlErr := func(err error) error { return &url.Error{Op: "Post", URL: "https://example.com/hook", Err: err} }
	tests := []struct {
		name     string
		err      error
		want     retry.Kind
		canceled bool
	}{
		{"a timeout is retried", urlErr(timeoutError{}), retry.Retry, false},
		{"a client deadline is retried", urlErr(context.DeadlineExceeded), retry.Retry, false},
		{"a refused connection is retried", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errors.New("connection refused"))}), retry.Retry, false},
		{"a DNS failure is retried", urlErr(&net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}), retry.Retry, false},
		{"an EOF is retried", urlErr(errors.New("EOF")), retry.Retry, false},
		{"the caller's cancellation is retried and flagged", urlErr(context.Canceled), retry.Retry, true},
		{"an error wrapped by Permanent is a permanent failure", urlErr(retry.Permanent(errors.New("address refused by policy"))), retry.PermanentFailure, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := retry.Classify(nil, tt.err)
			require.Equal(t, tt.want, o.Kind)
			require.Zero(t, o.StatusCode)
			require.Equal(t, tt.err, o.Err)
			require.Equal(t, tt.canceled, o.CallerCanceled())
		})
	}
}

func TestClassifyNothingIsARetryWithErrNoResponse(t *testing.T) {
	t.Parallel()
	o := retry.Classify(nil, nil)
	require.Equal(t, retry.Retry, o.Kind)
	require.ErrorIs(t, o.Err, retry.ErrNoResponse)
}

func TestClassifyResponseWithErrorIsDecidedByTheResponse(t *testing.T) {
	t.Parallel()
	// net/http returns both when CheckRedirect refuses a redirect.
	err := errors.New("stopped after 0 redirects")
	o := retry.Classify(response(302), err)
	require.Equal(t, retry.Retry, o.Kind)
	require.Equal(t, 302, o.StatusCode)
	require.Equal(t, err, o.Err)
	require.False(t, o.CallerCanceled())
}

func TestClassifyRetryAfter(t *testing.T) {
	t.Parallel()
	c := retry.Classifier{Now: func() time.Time { return now }}
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name       string
		classifier retry.Classifier
		resp       *http.Response
		want       time.Duration
	}{
		{"429 with delay-seconds", c, response(429, "120"), 2 * time.Minute},
		{"503 with delay-seconds", c, response(503, "7"), 7 * time.Second},
		{"502 with an HTTP-date", c, response(502, date(90*time.Second)), 90 * time.Second},
		{"504 with an HTTP-date in the past means now", c, response(504, date(-time.Hour)), 0},
		{"429 with zero seconds", c, response(429, "0"), 0},
		{"429 without the header", c, response(429), 0},
		{"429 with garbage is ignored", c, response(429, "soon"), 0},
		{"429 with a negative value is ignored", c, response(429, "-5"), 0},
		{"429 with surrounding spaces", c, response(429, " 30 "), 30 * time.Second},
		{"429 asking for a week is clamped to the 24 h default", c, response(429, strconv.Itoa(7*24*3600)), 24 * time.Hour},
		{"429 with a date a year ahead is clamped to 24 h", c, response(429, date(365*24*time.Hour)), 24 * time.Hour},
		{"429 with a huge number is ignored (not ok)", c, response(429, "99999999999999999999"), 0},
		{"a custom MaxRetryAfter clamps", retry.Classifier{MaxRetryAfter: time.Minute}, response(503, "3600"), time.Minute},
		{"a negative MaxRetryAfter means the default", retry.Classifier{MaxRetryAfter: -1}, response(503, "90000"), 24 * time.Hour},
		{"Retry-After on a 500 is not a throttle and is ignored", c, response(500, "60"), 0},
		{"Retry-After on a 200 is ignored", c, response(200, "60"), 0},
		{"only the first Retry-After header counts", c, response(429, "10", "20"), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.classifier.Classify(tt.resp, nil)
			require.Equal(t, tt.want, o.RetryAfter)
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[retry.Kind]string{
		retry.Delivered:        "delivered",
		retry.Retry:            "retry",
		retry.Throttle:         "throttle",
		retry.Gone:             "gone",
		retry.PermanentFailure: "permanent",
		0:                      "Kind(0)",
		42:                     "Kind(42)",
	} {
		require.Equal(t, want, k.String())
		require.Equal(t, want, fmt.Sprint(k))
	}
}

func TestIsThrottleStatus(t *testing.T) {
	t.Parallel()
	for code := 0; code < 1000; code++ {
		want := code == 429 || code == 502 || code == 503 || code == 504
		require.Equal(t, want, retry.IsThrottleStatus(code), "status %d", code)
	}
}
