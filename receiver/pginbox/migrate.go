package pginbox

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hookkit/hookkit/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema change, embedded in the package: Version
// orders migrations (the number the file name starts with), Name is the file
// name, SQL the statement text with its placeholders still in it: {{table}}
// (the quoted, schema-qualified table) and {{available_idx}} (the quoted name
// of the claim index).
type Migration = pgmigrate.Migration

// Migrations returns the embedded migrations in version order, for tools
// that apply schemas themselves.
func Migrations() ([]Migration, error) {
	ms, err := pgmigrate.Load(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pginbox: %w", err)
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
	repl := strings.NewReplacer(
		"{{table}}", in.table,
		"{{available_idx}}", pgx.Identifier{in.cfg.Table + "_available_idx"}.Sanitize(),
	)
	applied, err := pgmigrate.Apply(ctx, in.pool, pgmigrate.Plan{
		Migrations:   ms,
		LockKey:      "hookkit.receiver.inbox.migrate." + in.cfg.Schema + "." + in.cfg.Table,
		Schema:       in.cfg.Schema,
		VersionTable: pgx.Identifier{in.cfg.Schema, in.cfg.Table + "_migrations"},
		Render:       repl.Replace,
	})
	if err != nil {
		return fmt.Errorf("pginbox: migrate: %w", err)
	}
	for _, m := range applied {
		in.log.InfoContext(ctx, "pginbox: applied migration",
			slog.String("table", in.table), slog.String("migration", m.Name))
	}
	return nil
}
