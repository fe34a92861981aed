package pgstore

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookkit/hookkit/retry"
)

// Notify implements sender.Notifier: the returned channel is closed at the next
// change seen by this store — a NOTIFY from any process sharing the database
// (sent on commit by Publish, PublishTx, Replay, releases, reschedules and
// endpoint updates), a write by this process, a (re)connection of the listener,
// or the poll tick every Config.PollInterval, whichever comes first.
func (s *Store) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// signal wakes every waiter of Notify.
func (s *Store) signal() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) poll(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.signal()
		}
	}
}

// listenBackoff spaces out reconnections of the listener: 50 ms growing to 5 s,
// with full jitter, for ever.
var listenBackoff = retry.Exponential{
	Initial:     50 * time.Millisecond,
	Multiplier:  2,
	MaxInterval: 5 * time.Second,
	MaxAttempts: 1 << 30,
	MaxElapsed:  1 << 62,
}

// listen holds one pool connection in LISTEN and turns notifications into
// signals. When the connection breaks it backs off and reconnects.
func (s *Store) listen(ctx context.Context) {
	defer s.done.Done()
	failures := 0
	for {
		connected, err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			failures = 0
		}
		failures++
		delay, _ := listenBackoff.Next(retry.Attempt{N: failures})
		s.logger.WarnContext(ctx, "pgstore: LISTEN connection lost; reconnecting",
			slog.String("channel", s.channel), slog.Any("error", err), slog.Duration("backoff", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenOnce listens until the connection fails or ctx ends. connected reports
// whether LISTEN succeeded (to reset the backoff).
func (s *Store) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil && ctx.Err() == nil {
			// A broken connection must not go back to the pool.
			_ = conn.Conn().Close(context.Background())
		} else if ctx.Err() != nil {
			// Leave LISTEN state behind us before the connection is reused.
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if _, uerr := conn.Exec(uctx, "UNLISTEN *"); uerr != nil {
				_ = conn.Conn().Close(uctx)
			}
			cancel()
		}
		conn.Release()
	}()
	if _, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	// Anything published while we were not listening is found by the dispatchers now.
	s.signal()
	for {
		_, err = conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		s.signal()
	}
}
