// Package pgstore is an idempotency.Store on PostgreSQL (pgx/v5), shared by
// every receiver replica that uses the same database, schema and table.
//
// # Data model
//
// One table (Config.Schema, Config.Table; created by Migrate) with one row
// per key:
//
//	key        text PRIMARY KEY
//	token      text        -- the owner's token
//	state      smallint    -- 1 in progress, 2 done
//	expires_at timestamptz -- lease expiry (in progress) or retention expiry (done)
//
// A row whose expires_at has passed counts as absent: Claim takes it over.
// Prune (or RunPruner) deletes such rows in batches; nothing else needs them
// gone.
//
// # Time
//
// Every expiry is computed and compared with the database's clock
// (statement_timestamp()), never the application's, so receiver hosts with
// skewed clocks agree on when a lease has expired.
//
// # Concurrency
//
// Claim is a single statement: it reads the live row when there is one (a
// duplicate costs a read, no lock and no write), and otherwise runs INSERT …
// ON CONFLICT (key) DO UPDATE … WHERE the existing row has expired: the
// unique index makes concurrent claims of one key serialise, and exactly one
// of them inserts or takes over the row. A claim that lost that race reads
// the winner's row to tell in-progress from done (retrying if the row
// vanished in between). Complete and Release
// are single UPDATE / DELETE statements guarded by the owner's token.
//
// # Exactly-once effects
//
// ClaimTx records a key as done inside the caller's own transaction, so the
// dedupe record commits together with the consumer's write or not at all:
// with one transaction per event, the effect happens exactly once even when
// the event is delivered many times, concurrently, or the process crashes.
//
// Database errors are returned wrapped in idempotency.ErrUnavailable (and
// the pgx error), never as a Claimed result.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookkit/hookkit/idempotency"
)

// DB is the subset of *pgxpool.Pool the store uses; *pgx.Conn satisfies it
// too (but is not safe for concurrent use).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Defaults.
const (
	DefaultSchema     = "hookkit"
	DefaultTable      = "idempotency_claims"
	DefaultPruneBatch = 1000
)

// Config configures New.
type Config struct {
	// Pool is the database handle, usually a *pgxpool.Pool. Required. The
	// store does not close it.
	Pool DB
	// Schema holds the table. Defaults to "hookkit".
	Schema string
	// Table is the table name. Defaults to "idempotency_claims".
	Table string
	// Retention is how long ClaimTx remembers a key. Defaults to
	// idempotency.DefaultRetention (72 h).
	Retention time.Duration
	// PruneBatch is how many expired rows Prune deletes per statement.
	// Defaults to 1000.
	PruneBatch int
}

// ErrNoPool is returned by New when Config.Pool is nil.
var ErrNoPool = errors.New("pgstore: Config.Pool is required")

// ErrInProgress is returned by ClaimTx when the key is held by an unexpired
// Claim (from Store.Claim, possibly on another replica): the event is being
// processed elsewhere. Roll back and let the sender retry later.
var ErrInProgress = errors.New("pgstore: key is claimed by an in-progress Claim; retry later")

// Store is an idempotency.Store on a PostgreSQL table. It is safe for
// concurrent use.
type Store struct {
	db         DB
	schema     string
	table      string // quoted, schema-qualified
	tableBare  string
	lockID     int64
	retention  time.Duration
	pruneBatch int

	tokenPrefix string
	counter     atomic.Uint64

	sqlClaim, sqlState, sqlComplete, sqlRelease, sqlOwner, sqlClaimTx, sqlPrune string
}

var _ idempotency.Store = (*Store)(nil)

// New returns a Store using cfg. It does not contact the database; call
// Migrate once (at start-up, from any number of instances) to create the
// table.
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, ErrNoPool
	}
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.PruneBatch <= 0 {
		cfg.PruneBatch = DefaultPruneBatch
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("pgstore: reading random bytes: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("hookkit/idempotency\x00" + cfg.Schema + "\x00" + cfg.Table))
	t := pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	s := &Store{
		db:          cfg.Pool,
		schema:      cfg.Schema,
		table:       t,
		tableBare:   cfg.Table,
		lockID:      int64(h.Sum64()),
		retention:   idempotency.RetentionOrDefault(cfg.Retention),
		pruneBatch:  cfg.PruneBatch,
		tokenPrefix: hex.EncodeToString(rnd[:]) + ".",
	}
	const micro = ` * interval '1 microsecond'`
	// claimSQL reads a live row first, so a duplicate is answered by a read
	// that neither locks nor writes; otherwise the upsert decides, and
	// PostgreSQL's unique index lets exactly one concurrent claim win. It
	// returns 0 when the caller won, else the live row's state; no row when
	// it lost the race to a row its snapshot cannot see yet.
	claimSQL := func(state string) string {
		return `WITH cur AS (
  SELECT state FROM ` + t + ` WHERE key = $1 AND expires_at > statement_timestamp()
), ins AS (
  INSERT INTO ` + t + ` AS t (key, token, state, expires_at)
  SELECT $1::text, $2::text, ` + state + `, statement_timestamp() + $3::bigint` + micro + `
  WHERE NOT EXISTS (SELECT 1 FROM cur)
  ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, state = EXCLUDED.state, expires_at = EXCLUDED.expires_at
  WHERE t.expires_at <= statement_timestamp()
  RETURNING 0::smallint AS state
)
SELECT state FROM ins UNION ALL SELECT state FROM cur`
	}
	s.sqlClaim = claimSQL("1")
	s.sqlClaimTx = claimSQL("2")
	s.sqlState = `SELECT state FROM ` + t + ` WHERE key = $1 AND expires_at > statement_timestamp()`
	s.sqlComplete = `UPDATE ` + t + ` SET state = 2, expires_at = statement_timestamp() + $3::bigint` + micro + `
WHERE key = $1 AND token = $2 AND state = 1 AND expires_at > statement_timestamp()`
	s.sqlRelease = `DELETE FROM ` + t + ` WHERE key = $1 AND token = $2 AND state = 1 AND expires_at > statement_timestamp()`
	s.sqlOwner = `SELECT token = $2, state FROM ` + t + ` WHERE key = $1 AND expires_at > statement_timestamp()`
	s.sqlPrune = `WITH doomed AS (
  SELECT key FROM ` + t + ` WHERE expires_at <= statement_timestamp()
  ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
DELETE FROM ` + t + ` AS t USING doomed WHERE t.key = doomed.key AND t.expires_at <= statement_timestamp()`
	return s, nil
}

// Table returns the quoted, schema-qualified table name.
func (s *Store) Table() string { return s.table }

// Migrate creates the schema, table and index if they do not exist. It is
// idempotent and safe to run from several instances at once: a transaction
// advisory lock serialises concurrent runs.
func (s *Store) Migrate(ctx context.Context) (err error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	idx := pgx.Identifier{s.tableBare + "_expires_at_idx"}.Sanitize()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(` + strconv.FormatInt(s.lockID, 10) + `)`,
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (
  key        text        PRIMARY KEY,
  token      text        NOT NULL,
  state      smallint    NOT NULL CHECK (state IN (1, 2)),
  expires_at timestamptz NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + s.table + ` (expires_at)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: migrate: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

func (s *Store) token() string {
	return s.tokenPrefix + strconv.FormatUint(s.counter.Add(1), 36)
}

func micros(d time.Duration) int64 {
	us := (d + time.Microsecond - 1) / time.Microsecond
	if us < 1 {
		us = 1
	}
	return int64(us)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("pgstore: %s: %w: %w", op, idempotency.ErrUnavailable, err)
}

// maxRaces bounds how often Claim retries when the row it conflicted with
// disappears before it can be read (released or pruned in between).
const maxRaces = 10

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (idempotency.Claim, error) {
	if err := idempotency.ValidateKey(key); err != nil {
		return idempotency.Claim{}, err
	}
	lease = idempotency.LeaseOrDefault(lease)
	for range maxRaces {
		tok := s.token()
		var state int16
		err := s.db.QueryRow(ctx, s.sqlClaim, key, tok, micros(lease)).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			// Our snapshot saw no live row, but a concurrent claim inserted
			// or renewed one first: read it with a fresh snapshot.
			err = s.db.QueryRow(ctx, s.sqlState, key).Scan(&state)
		}
		switch {
		case err == nil && state == 0:
			return idempotency.Claim{State: idempotency.Claimed, Token: tok}, nil
		case err == nil && state == 2:
			return idempotency.Claim{State: idempotency.Done}, nil
		case err == nil:
			return idempotency.Claim{State: idempotency.InProgress}, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return idempotency.Claim{}, unavailable("claim", err)
		}
		// The row expired, was released or pruned in between: try again.
	}
	return idempotency.Claim{}, fmt.Errorf("pgstore: claim: %w: key changed state %d times in a row", idempotency.ErrUnavailable, maxRaces)
}

// Complete implements idempotency.Store.
func (s *Store) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if err := idempotency.ValidateKey(key); err != nil {
		return err
	}
	if token == "" {
		return idempotency.ErrNotOwner
	}
	tag, err := s.db.Exec(ctx, s.sqlComplete, key, token, micros(idempotency.RetentionOrDefault(retention)))
	if err != nil {
		return unavailable("complete", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return s.whyNot(ctx, "complete", key, token, true)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := idempotency.ValidateKey(key); err != nil {
		return err
	}
	if token == "" {
		return idempotency.ErrNotOwner
	}
	tag, err := s.db.Exec(ctx, s.sqlRelease, key, token)
	if err != nil {
		return unavailable("release", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return s.whyNot(ctx, "release", key, token, false)
}

// whyNot explains why an owner-guarded statement changed nothing.
func (s *Store) whyNot(ctx context.Context, op, key, token string, completing bool) error {
	var mine bool
	var state int16
	err := s.db.QueryRow(ctx, s.sqlOwner, key, token).Scan(&mine, &state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return idempotency.ErrNotFound
	case err != nil:
		return unavailable(op, err)
	case mine && state == 2 && completing:
		return nil // already completed by this token
	default:
		return idempotency.ErrNotOwner
	}
}

// ClaimTx records key as done inside tx, the caller's own transaction, and
// reports whether the caller should apply its effect: true when the key was
// new (or expired), false when it was already done. The record commits with
// tx, or disappears with its rollback, so with one transaction per event the
// effect is applied exactly once however often the event arrives. The
// record is kept for Config.Retention.
//
// A concurrent ClaimTx of the same key blocks on the row until this
// transaction ends, then returns false (committed) or true (rolled back).
// When an unexpired Store.Claim holds the key, ClaimTx returns ErrInProgress.
// Under REPEATABLE READ or SERIALIZABLE isolation a concurrent duplicate
// fails with a serialization error instead of false: retry the transaction.
func (s *Store) ClaimTx(ctx context.Context, tx pgx.Tx, key string) (bool, error) {
	if err := idempotency.ValidateKey(key); err != nil {
		return false, err
	}
	for range maxRaces {
		var state int16
		err := tx.QueryRow(ctx, s.sqlClaimTx, key, s.token(), micros(s.retention)).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			// A concurrent transaction inserted the key and committed while
			// we waited for it: read it with a fresh snapshot.
			err = tx.QueryRow(ctx, s.sqlState, key).Scan(&state)
		}
		switch {
		case err == nil && state == 0:
			return true, nil
		case err == nil && state == 2:
			return false, nil
		case err == nil:
			return false, ErrInProgress
		case !errors.Is(err, pgx.ErrNoRows):
			return false, unavailable("claim in transaction", err)
		}
	}
	return false, fmt.Errorf("pgstore: claim in transaction: %w: key changed state %d times in a row", idempotency.ErrUnavailable, maxRaces)
}

// Prune deletes expired rows (lapsed leases, completed keys past their
// retention) in batches of Config.PruneBatch and returns how many it
// deleted. Expired rows are already ignored by every operation; pruning only
// reclaims space. Run it periodically (see RunPruner); concurrent runs skip
// each other's rows.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Exec(ctx, s.sqlPrune, s.pruneBatch)
		if err != nil {
			return total, unavailable("prune", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(s.pruneBatch) {
			return total, nil
		}
	}
}

// RunPruner calls Prune every interval until ctx is done, and returns
// ctx's error. Errors from Prune are passed to onError when it is not nil
// and otherwise ignored (the next run tries again). Run it in a goroutine
// you own.
func (s *Store) RunPruner(ctx context.Context, interval time.Duration, onError func(error)) error {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := s.Prune(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
