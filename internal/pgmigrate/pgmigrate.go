// Package pgmigrate applies the versioned SQL migrations embedded in hookkit's
// PostgreSQL adapters (sender/pgstore, receiver/pginbox): one transaction,
// serialised across instances by an advisory lock, applied versions recorded
// in a table of the adapter's choosing. Users never import it; each adapter
// exposes Migrate and its Migrations.
package pgmigrate

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Migration is one versioned schema change.
type Migration struct {
	// Version orders migrations; it is the number the file name starts with.
	Version int
	// Name is the file name, for example "0001_init.sql".
	Name string
	// SQL is the statement text with the adapter's placeholders still in it.
	SQL string
}

// Load reads the migrations in dir of fsys, in version order. Every file name
// must start with a positive version number and '_'; versions must be unique.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q must start with a positive version number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Beginner starts transactions; *pgxpool.Pool and *pgx.Conn implement it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Plan says what Apply does.
type Plan struct {
	// Migrations to apply, in version order (from Load).
	Migrations []Migration
	// LockKey names the transaction-level advisory lock that serialises
	// concurrent runs (hashed with hashtextextended).
	LockKey string
	// Schema is the (unquoted) schema created if it does not exist.
	Schema string
	// VersionTable is the schema-qualified table recording applied versions.
	VersionTable pgx.Identifier
	// Render replaces the adapter's placeholders in a migration's SQL.
	Render func(sql string) string
}

// Apply creates the schema and the version table, then applies every migration
// of p not yet recorded, in one transaction. It is idempotent and safe to run
// from several instances at once. It returns the migrations it applied.
func Apply(ctx context.Context, db Beginner, p Plan) (applied []Migration, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, p.LockKey); err != nil {
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{p.Schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create schema %q: %w", p.Schema, err)
	}
	versions := p.VersionTable.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versions+` (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create %s: %w", versions, err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM `+versions)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	done := make(map[int]bool, len(got))
	for _, v := range got {
		done[int(v)] = true
	}
	for _, m := range p.Migrations {
		if done[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, p.Render(m.SQL)); err != nil {
			return nil, fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+versions+` (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("record %s: %w", m.Name, err)
		}
		applied = append(applied, m)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return applied, nil
}
