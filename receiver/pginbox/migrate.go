package pginbox

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema change, embedded in the package.
type Migration struct {
	// Version orders migrations; it is the number the file name starts with.
	Version int
	// Name is the file name, for example "0001_init.sql".
	Name string
	// SQL is the statement text with its placeholders still in it:
	// {{table}} (the quoted, schema-qualified table) and {{available_idx}}
	// (the quoted name of the claim index).
	SQL string
}

// Migrations returns the embedded migrations in version order, for tools
// that apply schemas themselves.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pginbox: migration file %q must start with a positive version number and '_'", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("pginbox: two migrations with version %d", ms[i].Version)
		}
	}
	return ms, nil
}

// Migrate creates the schema and applies every embedded migration not yet
// applied to this inbox's table, in one transaction. It is idempotent and
// safe to run from several instances at once: a transaction-level advisory
// lock keyed on the schema and table serialises concurrent runs, and applied
// versions are recorded in <schema>.<table>_migrations (a table of its own,
// so the inbox never collides with the version records of other hookkit
// stores sharing the schema). Call it at start-up, before the first Enqueue
// or Dequeue.
func (in *Inbox) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	tx, err := in.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pginbox: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"hookkit.receiver.inbox.migrate."+in.cfg.Schema+"."+in.cfg.Table); err != nil {
		return fmt.Errorf("pginbox: migrate: advisory lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{in.cfg.Schema}.Sanitize()); err != nil {
		return fmt.Errorf("pginbox: migrate: create schema: %w", err)
	}
	versions := pgx.Identifier{in.cfg.Schema, in.cfg.Table + "_migrations"}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versions+` (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pginbox: migrate: create %s: %w", versions, err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM `+versions)
	if err != nil {
		return fmt.Errorf("pginbox: migrate: read versions: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("pginbox: migrate: read versions: %w", err)
	}
	applied := make(map[int]bool, len(got))
	for _, v := range got {
		applied[int(v)] = true
	}
	repl := strings.NewReplacer(
		"{{table}}", in.table,
		"{{available_idx}}", pgx.Identifier{in.cfg.Table + "_available_idx"}.Sanitize(),
	)
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, repl.Replace(m.SQL)); err != nil {
			return fmt.Errorf("pginbox: migrate: apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+versions+` (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("pginbox: migrate: record %s: %w", m.Name, err)
		}
		in.log.InfoContext(ctx, "pginbox: applied migration",
			slog.String("table", in.table), slog.String("migration", m.Name))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pginbox: migrate: commit: %w", err)
	}
	return nil
}
