package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	kr := testKeyring(t)
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"empty", "", "want sqlite:PATH or postgres://"},
		{"mysql", "mysql://u@h/db", "want sqlite:PATH or postgres://"},
		{"bare path", "/var/lib/bridge.db", "want sqlite:PATH or postgres://"},
		{"empty sqlite path", "sqlite:", "empty SQLite path"},
		{"memory", "sqlite::memory:", "in-memory SQLite is not supported"},
		{"query in path", "sqlite:/tmp/x.db?mode=ro", "must not contain"},
		{"password not echoed", "mysql://u:hunter2@h/db", "u:xxxxx@h/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(ctx, tc.dsn, kr)
			if err == nil {
				db.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := Open(ctx, sqliteDSN(t), nil); err == nil {
		t.Fatal("nil keyring accepted")
	}
	t.Run("unreachable postgres, password not echoed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := Open(ctx, "postgres://app:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", kr)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("sqlite triple slash", func(t *testing.T) {
		db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"), kr)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:pw@host:5432/db?sslmode=disable": "postgres://app:xxxxx@host:5432/db?sslmode=disable",
		"postgres://app@host/db":                         "postgres://app@host/db",
		"postgres://host/db?x=a@b":                       "postgres://host/db?x=a@b",
		"postgres://a:p@ss@host/db":                      "postgres://a:xxxxx@host/db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSQLiteSettings(t *testing.T) {
	db := openMigrated(t, sqliteDSN(t))
	ctx := context.Background()
	if db.Dialect() != DialectSQLite {
		t.Fatalf("Dialect = %s", db.Dialect())
	}
	for _, tc := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds())},
	} {
		for _, h := range []struct {
			name string
			q    func(string) (string, error)
		}{
			{"writer", func(p string) (s string, err error) { err = db.w.QueryRowContext(ctx, "PRAGMA "+p).Scan(&s); return }},
			{"reader", func(p string) (s string, err error) { err = db.r.QueryRowContext(ctx, "PRAGMA "+p).Scan(&s); return }},
		} {
			got, err := h.q(tc.pragma)
			if err != nil || got != tc.want {
				t.Errorf("%s: PRAGMA %s = %q, %v; want %q", h.name, tc.pragma, got, err, tc.want)
			}
		}
	}
	if _, err := db.r.ExecContext(ctx, `DELETE FROM shops`); err == nil {
		t.Error("reader pool accepted a write")
	}
	if got := db.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool size %d, want 1", got)
	}
}

// TestSQLiteTwoProcesses writes from two DB handles on one file, as two
// bridge processes (server and CLI) would: busy_timeout and BEGIN
// IMMEDIATE must turn lock contention into waiting, never SQLITE_BUSY.
func TestSQLiteTwoProcesses(t *testing.T) {
	dsn := sqliteDSN(t)
	a := openMigrated(t, dsn)
	b := openMigrated(t, dsn) // also: Migrate on an up-to-date file
	ctx := ctxT(t)
	mustShop(t, a, "s1")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 10 {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				id := fmt.Sprintf("p-%d-%d", w, i)
				p := basicPayment("s1", id, id)
				if err := db.Apply(ctx, checkout.Change{NewPayment: p, Events: []checkout.Event{{Kind: "created"}}}); err != nil {
					errs <- err
					return
				}
				p.Status = checkout.StatusRedirected
				if err := db.Apply(ctx, checkout.Change{Payment: p}); err != nil {
					errs <- err
					return
				}
				if _, err := db.RecordReceipt(ctx, "x", id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts, err := b.CountPaymentsByStatus(ctx)
	if err != nil || counts["redirected"] != 50 {
		t.Fatalf("counts %v, %v; want 50 redirected", counts, err)
	}
}

// TestSQLiteListIndexes checks that the reconciler's list queries use
// their indexes (payments_open is partial: the query must repeat its WHERE
// clause verbatim).
func TestSQLiteListIndexes(t *testing.T) {
	db := openMigrated(t, sqliteDSN(t))
	ctx := context.Background()
	for _, tc := range []struct{ where, index string }{
		{`WHERE status NOT IN ` + finalStatuses + ` AND updated_at < $1 ORDER BY updated_at, id LIMIT $2`, "payments_open"},
		{`WHERE sync_state = 'unsynced' AND status IN ` + finalStatuses + ` AND updated_at < $1 ORDER BY updated_at, id LIMIT $2`, "payments_status_sync"},
	} {
		rows, err := db.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT id FROM payments `+tc.where, int64(1), 10)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		rows.Close()
		if !strings.Contains(plan.String(), tc.index) {
			t.Errorf("plan for %s does not use %s:\n%s", tc.where, tc.index, plan.String())
		}
	}
}

// TestMigrationsInSync keeps the two dialects' migrations identical except
// for the lines that must differ.
func TestMigrationsInSync(t *testing.T) {
	allowed := map[string]string{ // sqlite line → postgres line
		"    id          INTEGER PRIMARY KEY AUTOINCREMENT,":                        "    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,",
		"-- Schema v1. Kept identical to ../postgres/00001_init.sql except for the": "-- Schema v1. Kept identical to ../sqlite/00001_init.sql except for the",
	}
	// Triggers cannot be written alike in both dialects: these files only
	// have to exist in both.
	dialectSpecific := map[string]bool{"00010_payment_status_triggers.sql": true, "00011_shop_version.sql": true}
	sqliteFiles, _ := fs.Glob(migrationsFS, "migrations/sqlite/*.sql")
	pgFiles, _ := fs.Glob(migrationsFS, "migrations/postgres/*.sql")
	if len(sqliteFiles) == 0 || len(sqliteFiles) != len(pgFiles) {
		t.Fatalf("migrations: sqlite %v, postgres %v", sqliteFiles, pgFiles)
	}
	for i := range sqliteFiles {
		if filepath.Base(sqliteFiles[i]) != filepath.Base(pgFiles[i]) {
			t.Fatalf("migration %d: %s vs %s", i, sqliteFiles[i], pgFiles[i])
		}
		if dialectSpecific[filepath.Base(sqliteFiles[i])] {
			continue
		}
		a, _ := fs.ReadFile(migrationsFS, sqliteFiles[i])
		b, _ := fs.ReadFile(migrationsFS, pgFiles[i])
		al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
		if len(al) != len(bl) {
			t.Fatalf("%s: %d lines vs %d", filepath.Base(sqliteFiles[i]), len(al), len(bl))
		}
		for j := range al {
			if al[j] != bl[j] && allowed[al[j]] != bl[j] {
				t.Errorf("%s line %d differs:\n sqlite:   %s\n postgres: %s", filepath.Base(sqliteFiles[i]), j+1, al[j], bl[j])
			}
		}
	}
	// The partial index must list the statuses the queries use.
	a, _ := fs.ReadFile(migrationsFS, "migrations/sqlite/00001_init.sql")
	if !strings.Contains(string(a), "WHERE status NOT IN "+finalStatuses+";") {
		t.Errorf("payments_open index does not match finalStatuses %s", finalStatuses)
	}
}

// TestPostgresConcurrentMigrate migrates one fresh database from several
// processes at once: goose's advisory lock must serialise them.
func TestPostgresConcurrentMigrate(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := ctxT(t)
	const n = 4
	dbs := make([]*DB, n)
	for i := range dbs {
		db, err := Open(ctx, url, testKeyring(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	if v, err := dbs[0].SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("SchemaVersion before = %d, %v", v, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, db := range dbs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = db.Migrate(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if v, err := dbs[0].SchemaVersion(ctx); err != nil || v != latestMigration(t) {
		t.Fatalf("SchemaVersion = %d, %v; want 1", v, err)
	}
	if dbs[0].Dialect() != DialectPostgres {
		t.Fatalf("Dialect = %s", dbs[0].Dialect())
	}
}
