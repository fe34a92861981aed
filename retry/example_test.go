package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/retry"
)

// The default schedule, printed with the jitter source pinned to the middle of its range.
// In production Rand is left nil and each delay varies by ±20 %.
func ExampleDefault() {
	p := retry.Schedule{
		Delays: retry.DefaultDelays(),
		Jitter: retry.DefaultJitter,
		Rand:   func() float64 { return 0.5 }, // no jitter, for a deterministic output
	}
	for n := 1; ; n++ {
		d, ok := p.Next(retry.Attempt{N: n})
		if !ok {
			fmt.Printf("after attempt %d: stop\n", n)
			break
		}
		fmt.Printf("after attempt %d: wait %v\n", n, d)
	}
	// Output:
	// after attempt 1: wait 5s
	// after attempt 2: wait 5m0s
	// after attempt 3: wait 30m0s
	// after attempt 4: wait 2h0m0s
	// after attempt 5: wait 5h0m0s
	// after attempt 6: wait 10h0m0s
	// after attempt 7: wait 10h0m0s
	// after attempt 8: stop
}

// A 429 with Retry-After: the endpoint's wait beats the 5 s the schedule has after attempt 1.
func ExampleClassifier_Classify() {
	resp := &http.Response{
		StatusCode: http.StatusTooManyRequests,
		Header:     http.Header{"Retry-After": {"120"}},
	}
	o := retry.Classify(resp, nil)
	fmt.Println(o.Kind, o.StatusCode, o.RetryAfter)

	p := retry.Schedule{Delays: retry.DefaultDelays(), Jitter: retry.DefaultJitter, Rand: func() float64 { return 0.5 }}
	d, ok := retry.Next(p, retry.Attempt{N: 1, Outcome: o})
	fmt.Println(d, ok)

	gone := retry.Classify(&http.Response{StatusCode: http.StatusGone}, nil)
	_, ok = retry.Next(p, retry.Attempt{N: 1, Outcome: gone})
	fmt.Println(gone.Kind, ok)
	// Output:
	// throttle 429 2m0s
	// 2m0s true
	// gone false
}

func ExampleParseRetryAfter() {
	now := time.Date(2015, 10, 21, 7, 27, 0, 0, time.UTC)
	fmt.Println(retry.ParseRetryAfter("120", now))
	fmt.Println(retry.ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now))
	fmt.Println(retry.ParseRetryAfter("-1", now))
	// Output:
	// 2m0s true
	// 1m0s true
	// 0s false
}

// Do retries a flaky operation and stops at once on an error marked Permanent.
func ExampleDo() {
	errBadInput := errors.New("bad input")
	policy := retry.Schedule{Delays: []time.Duration{0, time.Millisecond, time.Millisecond, time.Millisecond}}

	calls := 0
	err := retry.Do(context.Background(), retry.DoConfig{
		Policy: policy,
		Notify: func(err error, next time.Duration) { fmt.Printf("attempt failed: %v; retrying in %v\n", err, next) },
	}, func(ctx context.Context) error {
		calls++
		switch calls {
		case 1:
			return errors.New("connection reset")
		case 2:
			return retry.Permanent(errBadInput)
		}
		return nil
	})
	fmt.Println(calls, err, errors.Is(err, errBadInput), retry.IsPermanent(err))
	// Output:
	// attempt failed: connection reset; retrying in 1ms
	// 2 bad input true true
}

func ExampleExponential() {
	p := retry.Exponential{
		Initial:     time.Second,
		Multiplier:  2,
		MaxInterval: 30 * time.Second,
		MaxAttempts: 6,
		MaxElapsed:  10 * time.Minute,
		Rand:        func() float64 { return 0.5 }, // full jitter: the delay is Rand() × cap
	}
	if err := retry.Validate(p); err != nil {
		panic(err)
	}
	for n := 1; ; n++ {
		d, ok := p.Next(retry.Attempt{N: n})
		if !ok {
			fmt.Println("stop")
			break
		}
		fmt.Println(d)
	}
	// Output:
	// 500ms
	// 1s
	// 2s
	// 4s
	// 8s
	// stop
}
