package retry

import (
	"net/http"
	"strings"
	"time"
)

// maxSeconds is the largest delay-seconds value that fits in a time.Duration.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// ParseRetryAfter parses a Retry-After header value (RFC 9110 §10.2.3) relative to now.
//
// It accepts delay-seconds (one or more ASCII digits) and an HTTP-date in any of the three
// forms [http.ParseTime] accepts. Surrounding spaces and tabs are ignored. An HTTP-date in the
// past yields 0 (retry at once), ok. Anything else — empty, signed, fractional, garbage, or a
// value too large for a [time.Duration] (about 292 years) — yields 0, false.
//
// The result is not clamped; [Classifier] clamps it to MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0, false
	}
	if isDigit(v[0]) {
		var n int64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !isDigit(c) {
				// Could still be a date? HTTP-dates start with a day name, never a digit.
				return 0, false
			}
			n = n*10 + int64(c-'0')
			if n > maxSeconds {
				return 0, false
			}
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0, true
	case d == 1<<63-1: // saturated: too far in the future to represent
		return 0, false
	}
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
