package retry_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/retry"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration, layout string) string { return now.Add(d).Format(layout) }
	const rfc850 = "Monday, 02-Jan-06 15:04:05 GMT"
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"delay-seconds", "120", 120 * time.Second, true},
		{"zero seconds", "0", 0, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"surrounding whitespace", "\t 5 \t", 5 * time.Second, true},
		{"the largest representable seconds", strconv.FormatInt((1<<63-1)/int64(time.Second), 10), time.Duration((1<<63-1)/int64(time.Second)) * time.Second, true},
		{"one more second than representable", strconv.FormatInt((1<<63-1)/int64(time.Second)+1, 10), 0, false},
		{"a huge number", "184467440737095516160000", 0, false},
		{"an IMF-fixdate in the future", at(time.Hour, http.TimeFormat), time.Hour, true},
		{"an IMF-fixdate in the past", at(-time.Hour, http.TimeFormat), 0, true},
		{"an IMF-fixdate equal to now", at(0, http.TimeFormat), 0, true},
		{"an obsolete RFC 850 date", at(2*time.Minute, rfc850), 2 * time.Minute, true},
		{"an obsolete asctime date", at(3*time.Minute, time.ANSIC), 3 * time.Minute, true},
		{"a date too far ahead to represent", "Fri, 31 Dec 9999 23:59:59 GMT", 0, false},
		{"empty", "", 0, false},
		{"only spaces", "   ", 0, false},
		{"negative", "-1", 0, false},
		{"explicitly positive", "+1", 0, false},
		{"fractional", "1.5", 0, false},
		{"hex", "0x10", 0, false},
		{"digits then garbage", "10s", 0, false},
		{"inner space", "1 0", 0, false},
		{"a word", "later", 0, false},
		{"an RFC 3339 date", now.Add(time.Hour).Format(time.RFC3339), 0, false},
		{"a date with garbage appended", at(time.Hour, http.TimeFormat) + "x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retry.ParseRetryAfter(tt.value, now)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{
		"0", "120", "-1", "1.5", "", " 7 ", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retry.ParseRetryAfter(v, now)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v, false: want 0 when not ok", v, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v: negative", v, d)
		}
		if d == 1<<63-1 {
			t.Fatalf("ParseRetryAfter(%q) = %v: saturated value accepted", v, d)
		}
		// The classifier never hands out more than its clamp.
		resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}}}
		o := retry.Classifier{Now: func() time.Time { return now }}.Classify(resp, nil)
		if o.RetryAfter < 0 || o.RetryAfter > retry.DefaultMaxRetryAfter || o.RetryAfter != min(d, retry.DefaultMaxRetryAfter) {
			t.Fatalf("Classify with Retry-After %q gave %v, parse gave %v", v, o.RetryAfter, d)
		}
	})
}
