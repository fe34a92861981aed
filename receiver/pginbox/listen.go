package pginbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookkit/hookkit/retry"
)

// listenBackoff spaces out reconnections of the listener: 50 ms growing to
// 5 s, with full jitter, for ever.
var listenBackoff = retry.Exponential{
	Initial:     50 * time.Millisecond,
	Multiplier:  2,
	MaxInterval: 5 * time.Second,
	MaxAttempts: 1 << 30,
	MaxElapsed:  1 << 62,
}

// listen keeps a dedicated connection in LISTEN and wakes waiting Dequeue
// callers on every notification. The outcome of the first connection goes
// to first. When the connection breaks it backs off and reconnects.
func (in *Inbox) listen(ctx context.Context, first chan<- error) {
	defer in.bg.Done()
	failures := 0
	for {
		connected, err := in.listenOnce(ctx, first)
		if ctx.Err() != nil || (first != nil && !connected) {
			return // stopping, or New reports the failure
		}
		first = nil
		if connected {
			failures = 0
		}
		failures++
		delay, _ := listenBackoff.Next(retry.Attempt{N: failures})
		in.log.WarnContext(ctx, "pginbox: LISTEN connection lost; reconnecting",
			slog.String("channel", in.channel), slog.Any("error", err), slog.Duration("backoff", delay))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenOnce listens until the connection fails or ctx ends. connected
// reports whether LISTEN succeeded (to reset the backoff).
func (in *Inbox) listenOnce(ctx context.Context, first chan<- error) (connected bool, err error) {
	cfg := in.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerApp
	defer func() {
		if first != nil && err != nil {
			first <- err
		}
	}()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{in.channel}.Sanitize()); err != nil {
		return false, err
	}
	if first != nil {
		first <- nil
	}
	// Whatever was enqueued while we were not listening is found now.
	in.mu.Lock()
	in.broadcastLocked()
	in.mu.Unlock()
	for {
		if _, err = conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		in.mu.Lock()
		if in.waiters > 0 {
			in.broadcastLocked()
		}
		in.mu.Unlock()
	}
}

// poll wakes waiting Dequeue callers every PollInterval.
func (in *Inbox) poll(ctx context.Context) {
	defer in.bg.Done()
	t := time.NewTicker(in.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.mu.Lock()
			if in.waiters > 0 {
				in.broadcastLocked()
			}
			in.mu.Unlock()
		}
	}
}

// startHeartbeatLocked starts the heartbeat goroutine unless it runs. It runs
// while the inbox holds leases, so an idle inbox has no heartbeat goroutine.
func (in *Inbox) startHeartbeatLocked() {
	if in.hb || len(in.leases) == 0 {
		return
	}
	in.hb = true
	go in.heartbeat()
}

func (in *Inbox) kickLocked() {
	select {
	case in.hbKick <- struct{}{}:
	default:
	}
}

// heartbeat renews the leases of the rows this inbox holds every Lease/3,
// and exits when it holds none.
func (in *Inbox) heartbeat() {
	every := in.cfg.Lease / 3
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		renew := false
		select {
		case <-t.C:
			renew = true
		case <-in.hbKick:
		}
		in.mu.Lock()
		if len(in.leases) == 0 {
			in.hb = false
			in.mu.Unlock()
			return
		}
		if !renew {
			in.mu.Unlock()
			continue
		}
		ids := make([]int64, 0, len(in.leases))
		claims := make([]int32, 0, len(in.leases))
		for id, l := range in.leases {
			ids = append(ids, id)
			claims = append(claims, l.claims)
		}
		in.mu.Unlock()
		in.extend(ids, claims, every)
		t.Reset(every)
	}
}

// extend renews the given leases and drops the ones this inbox lost.
func (in *Inbox) extend(ids []int64, claims []int32, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), max(timeout, time.Second))
	defer cancel()
	rows, err := in.pool.Query(ctx, in.q.extend, ids, claims, micros(in.cfg.Lease), in.cfg.Owner)
	if err != nil {
		in.log.Warn("pginbox: lease renewal failed; retrying", slog.Int("leases", len(ids)), slog.String("error", err.Error()))
		return
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		in.log.Warn("pginbox: lease renewal failed; retrying", slog.Int("leases", len(ids)), slog.String("error", err.Error()))
		return
	}
	if len(kept) == len(ids) {
		return
	}
	ok := make(map[int64]bool, len(kept))
	for _, id := range kept {
		ok[id] = true
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, id := range ids {
		if ok[id] {
			continue
		}
		l := in.leases[id]
		if l == nil || l.claims != claims[i] {
			continue // acked meanwhile
		}
		delete(in.leases, id)
		in.log.Warn("pginbox: lease lost; another consumer may process the delivery too (raise Lease?)",
			slog.Int64("id", id))
		if !l.handed {
			for j, c := range in.buf {
				if c.id == id {
					in.buf = append(in.buf[:j], in.buf[j+1:]...)
					break
				}
			}
		}
	}
}
