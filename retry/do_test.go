package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errFlaky = errors.New("flaky")

// doBundle runs retry.Do in a goroutine against a fake clock.
type doBundle struct {
	clock   *clock.Fake
	calls   chan int // attempt numbers, as fn is called
	notify  chan time.Duration
	done    chan error
	results []error // what fn returns on each call; nil beyond the end
}

func setupDo(t *testing.T, ctx context.Context, p retry.Policy, results ...error) *doBundle {
	t.Helper()
	b := &doBundle{
		clock:   clock.NewFake(now),
		calls:   make(chan int, 100),
		notify:  make(chan time.Duration, 100),
		done:    make(chan error, 1),
		results: results,
	}
	n := 0
	cfg := retry.DoConfig{
		Policy: p,
		Clock:  b.clock,
		Notify: func(err error, next time.Duration) { b.notify <- next },
	}
	go func() {
		b.done <- retry.Do(ctx, cfg, func(context.Context) error {
			n++
			b.calls <- n
			if n <= len(b.results) {
				return b.results[n-1]
			}
			return nil
		})
	}()
	return b
}

// result waits for Do to return, failing the test instead of hanging.
func (b *doBundle) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-b.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return")
		return nil
	}
}

// step waits for attempt n, then for the wait after it, and advances the clock by want.
func (b *doBundle) step(t *testing.T, n int, want time.Duration) {
	t.Helper()
	require.Equal(t, n, <-b.calls)
	require.Equal(t, want, <-b.notify, "delay after attempt %d", n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.clock.BlockUntilContext(ctx, 1), "Do never armed its timer")
	b.clock.Advance(want)
}

func constant(d time.Duration, attempts int) retry.Policy {
	return retry.Schedule{Delays: append([]time.Duration{0}, repeat(d, attempts-1)...)}
}

func repeat(d time.Duration, n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = d
	}
	return s
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	b := setupDo(t, context.Background(), constant(time.Second, 5), errFlaky, errFlaky)
	b.step(t, 1, time.Second)
	b.step(t, 2, time.Second)
	require.Equal(t, 3, <-b.calls)
	require.NoError(t, b.result(t))
}

func TestDoReturnsTheLastErrorWhenThePolicyStops(t *testing.T) {
	t.Parallel()
	last := errors.New("third failure")
	b := setupDo(t, context.Background(), constant(time.Second, 3), errFlaky, errFlaky, last)
	b.step(t, 1, time.Second)
	b.step(t, 2, time.Second)
	require.Equal(t, 3, <-b.calls)
	require.Equal(t, last, b.result(t))
	require.Empty(t, b.notify, "Notify is not called for the final error")
}

func TestDoStopsOnPermanent(t *testing.T) {
	t.Parallel()
	cause := &fs.PathError{Op: "open", Path: "/nope", Err: fs.ErrNotExist}
	b := setupDo(t, context.Background(), constant(time.Second, 5), errFlaky, fmt.Errorf("loading: %w", retry.Permanent(cause)))
	b.step(t, 1, time.Second)
	require.Equal(t, 2, <-b.calls)
	err := b.result(t)
	require.EqualError(t, err, "loading: open /nope: file does not exist", "fn's error is returned unchanged")
	require.True(t, retry.IsPermanent(err))
	require.ErrorIs(t, err, fs.ErrNotExist, "the cause is visible to errors.Is")
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe, "the cause is visible to errors.As")
	require.Empty(t, b.calls, "no attempt after a permanent error")
}

func TestDoWaitsAtLeastTheDurationGivenToAfter(t *testing.T) {
	t.Parallel()
	b := setupDo(t, context.Background(), constant(time.Second, 5),
		retry.After(time.Minute, errFlaky),      // longer than the schedule: wait a minute
		retry.After(time.Millisecond, errFlaky), // shorter: the schedule wins
	)
	b.step(t, 1, time.Minute)
	b.step(t, 2, time.Second)
	require.Equal(t, 3, <-b.calls)
	require.NoError(t, b.result(t))
}

func TestDoStopsWhenTheContextEndsWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	b := setupDo(t, ctx, constant(time.Hour, 5), errFlaky)
	require.Equal(t, 1, <-b.calls)
	<-b.notify
	b.clock.BlockUntil(1)
	cancel()
	err := b.result(t)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, errFlaky, "the last attempt's error is kept")
	require.Empty(t, b.calls)
}

func TestDoDoesNotCallFnWithAnEndedContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := retry.Do(ctx, retry.DoConfig{}, func(context.Context) error { called = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, called)
}

func TestDoUsesMaxElapsedOnTheInjectedClock(t *testing.T) {
	t.Parallel()
	p := retry.Exponential{Initial: time.Minute, Multiplier: 1, MaxInterval: time.Minute, MaxAttempts: 100, MaxElapsed: 150 * time.Second, Rand: fixed(0.5)}
	results := make([]error, 10)
	for i := range results {
		results[i] = errFlaky
	}
	b := setupDo(t, context.Background(), p, results...)
	b.step(t, 1, 30*time.Second)
	b.step(t, 2, 30*time.Second)
	b.step(t, 3, 30*time.Second)
	b.step(t, 4, 30*time.Second)
	b.step(t, 5, 30*time.Second) // the 6th attempt starts at exactly 150 s
	require.Equal(t, 6, <-b.calls)
	require.ErrorIs(t, b.result(t), errFlaky)
}

func TestDoRefusesAnInvalidPolicy(t *testing.T) {
	t.Parallel()
	called := false
	err := retry.Do(context.Background(), retry.DoConfig{Policy: retry.Exponential{Initial: time.Second}}, func(context.Context) error {
		called = true
		return nil
	})
	require.ErrorIs(t, err, retry.ErrInvalidPolicy)
	require.False(t, called)
}

func TestDoWithTheDefaultPolicyOnTheRealClock(t *testing.T) {
	t.Parallel()
	// The default policy's first waits are below 100 ms and 200 ms; this keeps the test short.
	n := 0
	err := retry.Do(context.Background(), retry.DoConfig{}, func(context.Context) error {
		n++
		if n < 3 {
			return errFlaky
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

func TestPermanentAndAfterWrapping(t *testing.T) {
	t.Parallel()
	require.NoError(t, retry.Permanent(nil))
	require.NoError(t, retry.After(time.Second, nil))

	p := retry.Permanent(errFlaky)
	require.True(t, retry.IsPermanent(p))
	require.True(t, retry.IsPermanent(fmt.Errorf("wrapped: %w", p)))
	require.ErrorIs(t, p, errFlaky)
	require.Equal(t, errFlaky.Error(), p.Error())
	require.False(t, retry.IsPermanent(errFlaky))
	require.False(t, retry.IsPermanent(nil))

	a := retry.After(time.Minute, errFlaky)
	require.ErrorIs(t, a, errFlaky)
	require.Equal(t, errFlaky.Error(), a.Error())
	d, ok := retry.RetryAfterOf(fmt.Errorf("wrapped: %w", a))
	require.True(t, ok)
	require.Equal(t, time.Minute, d)
	_, ok = retry.RetryAfterOf(errFlaky)
	require.False(t, ok)
	d, _ = retry.RetryAfterOf(retry.After(-time.Second, errFlaky))
	require.Zero(t, d, "a negative After is treated as 0")
}
