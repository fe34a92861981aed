package pgstore

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
// name (for example "0001_init.sql"), SQL the statement text with the schema
// placeholder {{schema}} still in it.
type Migration = pgmigrate.Migration

// Migrations returns the embedded migrations in version order, for tools that
// apply schemas themselves (the SQL contains the placeholder {{schema}} for the
// quoted schema name).
func Migrations() ([]Migration, error) {
	ms, err := pgmigrate.Load(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return ms, nil
}

// Migrate creates the schema and applies every embedded migration not applied
// yet, in one transaction. It is idempotent and safe to run from several
// instances at once: a transaction-level advisory lock keyed on the schema name
// serialises concurrent runs, and applied versions are recorded in the
// schema_migrations table. Call it at start-up, before the first use of the
// store (or apply Migrations with your own migration tool).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	applied, err := pgmigrate.Apply(ctx, s.pool, pgmigrate.Plan{
		Migrations:   ms,
		LockKey:      "hookkit.sender.migrate." + s.schemaName,
		Schema:       s.schemaName,
		VersionTable: pgx.Identifier{s.schemaName, "schema_migrations"},
		Render:       func(sql string) string { return strings.ReplaceAll(sql, "{{schema}}", s.schema) },
	})
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	for _, m := range applied {
		s.logger.InfoContext(ctx, "pgstore: applied migration", slog.String("schema", s.schemaName), slog.String("migration", m.Name))
	}
	return nil
}
