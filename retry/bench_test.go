package retry_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hookkit/hookkit/retry"
)

var (
	sinkOutcome retry.Outcome
	sinkDelay   time.Duration
)

func BenchmarkClassify(b *testing.B) {
	cases := []struct {
		name string
		resp *http.Response
		err  error
	}{
		{"200", response(200), nil},
		{"500", response(500), nil},
		{"429-seconds", response(429, "120"), nil},
		{"503-date", response(503, now.Add(time.Minute).Format(http.TimeFormat)), nil},
		{"error", nil, errors.New("connection refused")},
	}
	c := retry.Classifier{PermanentStatuses: []int{400}, Now: func() time.Time { return now }}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkOutcome = c.Classify(bc.resp, bc.err)
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	policies := []struct {
		name string
		p    retry.Policy
	}{
		{"default", retry.Default()},
		{"exponential", retry.DefaultDoPolicy()},
	}
	a := retry.Attempt{N: 3, Elapsed: time.Second, Outcome: retry.Outcome{Kind: retry.Throttle, RetryAfter: time.Second}}
	for _, bp := range policies {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkDelay, _ = retry.Next(bp.p, a)
			}
		})
	}
}
