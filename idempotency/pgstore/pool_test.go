package pgstore_test

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookkit/hookkit/idempotency/pgstore"
)

// connPool is a minimal connection pool over pgx.Conn implementing
// pgstore.DB for these tests. Applications pass a *pgxpool.Pool; the tests
// avoid pgxpool only because the module's go.mod does not list its
// dependency (jackc/puddle) yet.
type connPool struct {
	cfg   *pgx.ConnConfig
	slots chan *pgx.Conn // nil entries are free slots without a connection
	mu    sync.Mutex
	all   []*pgx.Conn
}

var _ pgstore.DB = (*connPool)(nil)

func newConnPool(url string, size int) (*connPool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	p := &connPool{cfg: cfg, slots: make(chan *pgx.Conn, size)}
	for range size {
		p.slots <- nil
	}
	return p, nil
}

func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	var c *pgx.Conn
	select {
	case c = <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c != nil && !c.IsClosed() {
		return c, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		p.slots <- nil
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

func (p *connPool) release(c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I' {
		_ = c.Close(context.Background())
		p.slots <- nil
		return
	}
	p.slots <- c
}

func (p *connPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.all {
		_ = c.Close(context.Background())
	}
}

func (p *connPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer p.release(c)
	return c.Exec(ctx, sql, args...)
}

func (p *connPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := p.acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return &releasingRow{row: c.QueryRow(ctx, sql, args...), release: func() { p.release(c) }}
}

func (p *connPool) Begin(ctx context.Context) (pgx.Tx, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		p.release(c)
		return nil, err
	}
	return &releasingTx{Tx: tx, release: func() { p.release(c) }}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type releasingRow struct {
	row     pgx.Row
	release func()
}

func (r *releasingRow) Scan(dest ...any) error {
	defer r.release()
	return r.row.Scan(dest...)
}

type releasingTx struct {
	pgx.Tx
	release func()
	once    sync.Once
}

func (t *releasingTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.once.Do(t.release)
	return err
}

func (t *releasingTx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	t.once.Do(t.release)
	return err
}
