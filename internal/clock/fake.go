package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Fake is a manually driven Clock for tests. Its time moves only through [Fake.Advance] and
// [Fake.Set]; timers fire synchronously inside those calls, earliest first (ties in creation
// order), each one seeing Now equal to its due time. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	pending []*fakeTimer
	changed chan struct{} // closed and replaced whenever pending changes
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

var _ Clock = (*Fake)(nil)

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Since returns f.Now().Sub(t).
func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

// NewTimer returns a timer due at Now()+d. A d <= 0 fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d)
	return t
}

// Advance moves the time forward by d (d < 0 is treated as 0), firing every timer that falls due
// on the way, in order.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceTo(f.now.Add(d))
}

// Set moves the time to t. Moving forward fires due timers as Advance does; moving backwards
// fires nothing.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		f.now = t
		return
	}
	f.advanceTo(t)
}

// Pending returns the number of timers armed and not yet fired or stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// BlockUntil waits until at least n timers are pending. Use it before Advance so the code
// under test has armed its timer; it never sleeps on wall time. Prefer [Fake.BlockUntilContext]
// when a bug could leave the test hanging.
func (f *Fake) BlockUntil(n int) {
	_ = f.BlockUntilContext(context.Background(), n)
}

// BlockUntilContext is BlockUntil with a way out: it returns ctx.Err() if ctx ends first.
func (f *Fake) BlockUntilContext(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		ok, ch := len(f.pending) >= n, f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// advanceTo fires due timers in order and sets now to target. f.mu is held.
func (f *Fake) advanceTo(target time.Time) {
	for len(f.pending) > 0 {
		next := f.pending[0] // pending is kept sorted
		if next.when.After(target) {
			break
		}
		if next.when.After(f.now) {
			f.now = next.when
		}
		f.remove(next)
		next.fire(f.now)
	}
	f.now = target
}

// arm schedules t at now+d, firing it at once when d <= 0. f.mu is held.
func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	if d <= 0 {
		t.fire(f.now)
		return
	}
	f.seq++
	t.when, t.seq, t.active = f.now.Add(d), f.seq, true
	i, _ := slices.BinarySearchFunc(f.pending, t, func(a, b *fakeTimer) int {
		if c := a.when.Compare(b.when); c != 0 {
			return c
		}
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	f.pending = slices.Insert(f.pending, i, t)
	f.notify()
}

// remove unschedules t, reporting whether it was pending. f.mu is held.
func (f *Fake) remove(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	t.active = false
	if i := slices.Index(f.pending, t); i >= 0 {
		f.pending = slices.Delete(f.pending, i, i+1)
	}
	f.notify()
	return true
}

func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	when   time.Time
	seq    uint64
	active bool // guarded by f.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// fire delivers now without blocking. f.mu is held.
func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.c <- now:
	default:
	}
}

// drain drops a delivered but unreceived value, so none is seen after Stop or Reset.
func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.f.remove(t)
	t.drain()
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.f.remove(t)
	t.drain()
	t.f.arm(t, d)
	return was
}
