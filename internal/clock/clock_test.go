package clock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// received returns the value waiting on c, if any, without blocking.
func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeNowAndSince(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	require.Equal(t, start, f.Now())
	f.Advance(90 * time.Second)
	require.Equal(t, start.Add(90*time.Second), f.Now())
	require.Equal(t, 90*time.Second, f.Since(start))
	f.Advance(-time.Hour)
	require.Equal(t, start.Add(90*time.Second), f.Now(), "a negative Advance does not move time back")
}

func TestFakeTimerFiresOnlyWhenDue(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(10 * time.Second)
	require.Equal(t, 1, f.Pending())

	f.Advance(9 * time.Second)
	_, ok := received(tm.C())
	require.False(t, ok, "the timer fired early")

	f.Advance(time.Second)
	v, ok := received(tm.C())
	require.True(t, ok, "the timer did not fire when due")
	require.Equal(t, start.Add(10*time.Second), v)
	require.Equal(t, 0, f.Pending())
	require.False(t, tm.Stop(), "Stop after firing reports false")
}

func TestFakeAdvanceFiresTimersInOrderAtTheirDueTime(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	// Timers created out of order; two share a due time (creation order breaks the tie).
	due := []time.Duration{30 * time.Second, 10 * time.Second, 20 * time.Second, 10 * time.Second}
	timers := make([]clock.Timer, len(due))
	for i, d := range due {
		timers[i] = f.NewTimer(d)
	}
	f.Advance(time.Minute)
	for i, tm := range timers {
		v, ok := received(tm.C())
		require.True(t, ok, "timer %d did not fire", i)
		require.Equal(t, start.Add(due[i]), v, "timer %d saw the wrong time", i)
	}
	require.Equal(t, start.Add(time.Minute), f.Now())
}

func TestFakeNowDuringAdvanceIsEachTimersDueTime(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	a, b := f.NewTimer(time.Second), f.NewTimer(3*time.Second)
	f.Advance(2 * time.Second)
	va, _ := received(a.C())
	require.Equal(t, start.Add(time.Second), va)
	_, ok := received(b.C())
	require.False(t, ok)
	f.Advance(2 * time.Second)
	vb, _ := received(b.C())
	require.Equal(t, start.Add(3*time.Second), vb)
}

func TestFakeTimerWithNonPositiveDurationFiresAtOnce(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	for _, d := range []time.Duration{0, -time.Second} {
		tm := f.NewTimer(d)
		v, ok := received(tm.C())
		require.True(t, ok, "a %v timer did not fire at once", d)
		require.Equal(t, start, v)
		require.Equal(t, 0, f.Pending())
	}
}

func TestFakeTimerStop(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	require.True(t, tm.Stop(), "Stop of an armed timer reports true")
	require.False(t, tm.Stop(), "a second Stop reports false")
	require.Equal(t, 0, f.Pending())
	f.Advance(time.Hour)
	_, ok := received(tm.C())
	require.False(t, ok, "a stopped timer fired")
}

func TestFakeTimerStopDropsAnUnreceivedValue(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	require.False(t, tm.Stop())
	_, ok := received(tm.C())
	require.False(t, ok, "a stale value was received after Stop, unlike time.Timer since Go 1.23")
}

func TestFakeTimerReset(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	require.True(t, tm.Reset(5*time.Second), "Reset of an armed timer reports true")
	f.Advance(4 * time.Second)
	_, ok := received(tm.C())
	require.False(t, ok, "the timer fired at its old due time")
	f.Advance(time.Second)
	_, ok = received(tm.C())
	require.True(t, ok)

	require.False(t, tm.Reset(time.Second), "Reset of a fired timer reports false")
	require.Equal(t, 1, f.Pending())
	f.Advance(time.Second)
	v, ok := received(tm.C())
	require.True(t, ok, "a re-armed timer did not fire")
	require.Equal(t, start.Add(6*time.Second), v)
}

func TestFakeTimerResetDropsAnUnreceivedValue(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	tm.Reset(time.Minute)
	_, ok := received(tm.C())
	require.False(t, ok, "the value from before Reset was still there")
}

func TestFakeSet(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Hour)
	f.Set(start.Add(-time.Hour))
	require.Equal(t, start.Add(-time.Hour), f.Now(), "Set may move time backwards")
	_, ok := received(tm.C())
	require.False(t, ok)
	f.Set(start.Add(time.Hour))
	v, ok := received(tm.C())
	require.True(t, ok, "Set forward fires due timers")
	require.Equal(t, start.Add(time.Hour), v)
}

func TestFakeBlockUntilWaitsForTimersToBeArmed(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	done := make(chan error, 1)
	go func() {
		done <- clock.Sleep(context.Background(), f, time.Minute)
	}()
	f.BlockUntil(1)
	select {
	case <-done:
		t.Fatal("Sleep returned before the clock moved")
	default:
	}
	f.Advance(time.Minute)
	require.NoError(t, <-done)
}

func TestFakeBlockUntilContextGivesUp(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, f.BlockUntilContext(ctx, 1), context.Canceled)
	require.NoError(t, f.BlockUntilContext(context.Background(), 0), "zero pending timers are always reached")
}

func TestSleep(t *testing.T) {
	t.Parallel()

	t.Run("returns the context error when canceled while waiting", func(t *testing.T) {
		t.Parallel()
		f := clock.NewFake(start)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- clock.Sleep(ctx, f, time.Hour) }()
		f.BlockUntil(1)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Equal(t, 0, f.Pending(), "Sleep left its timer armed")
	})

	t.Run("returns at once for a non-positive duration", func(t *testing.T) {
		t.Parallel()
		f := clock.NewFake(start)
		require.NoError(t, clock.Sleep(context.Background(), f, 0))
		require.NoError(t, clock.Sleep(context.Background(), f, -time.Second))
	})

	t.Run("checks the context first", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, clock.Sleep(ctx, clock.Real(), 0), context.Canceled)
	})

	t.Run("waits on the real clock", func(t *testing.T) {
		t.Parallel()
		c := clock.Real()
		t0 := c.Now()
		require.NoError(t, clock.Sleep(context.Background(), c, time.Millisecond))
		require.GreaterOrEqual(t, c.Since(t0), time.Millisecond)
	})
}

func TestRealTimer(t *testing.T) {
	t.Parallel()
	c := clock.OrReal(nil)
	tm := c.NewTimer(time.Hour)
	require.True(t, tm.Reset(time.Millisecond))
	<-tm.C()
	require.False(t, tm.Stop())
}

func TestFakeIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Millisecond)
				tm.Reset(time.Millisecond)
				tm.Stop()
				_ = f.Now()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 0, f.Pending())
}
