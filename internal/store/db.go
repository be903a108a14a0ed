// Package store is paybridge's SQL persistence: shops, payments, refunds,
// their append-only audit events, webhook receipts and OAuth states. It
// implements [checkout.Store] and [metrics.StatusCounter].
//
// One code path serves two databases: SQLite (modernc.org/sqlite, pure Go)
// by default, and PostgreSQL (pgx) for several bridge processes. Queries use
// the common SQL subset with numbered $N placeholders. Times are stored as
// BIGINT unix microseconds (UTC) and money as BIGINT minor units with a
// currency code. Gateway credentials, webhook secrets and platform secrets
// are sealed with a [secrets.Keyring] before they reach the database.
//
// Every update of a payment or refund is a compare-and-set on its version,
// made together with its audit events in one transaction ([DB.Apply]).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"paybridge/internal/checkout"
	"paybridge/internal/metrics"
	"paybridge/internal/secrets"
)

// Dialect names returned by [DB.Dialect].
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// migrationsFS holds the schema. The two directories differ only where the
// dialects cannot agree (the identity column of payment_events); a test
// keeps them in step.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

// sqliteBusyTimeout is how long a SQLite connection waits for another
// process's write lock before giving up.
const sqliteBusyTimeout = 10 * time.Second

// DB is the paybridge database. It is safe for concurrent use.
type DB struct {
	dialect string
	// w takes every write. On SQLite it is a single connection, so writes
	// from this process queue in Go instead of failing with SQLITE_BUSY;
	// transactions begin IMMEDIATE so that other processes wait on the
	// busy timeout rather than fail on lock upgrade.
	w *sql.DB
	// r serves reads: a read-only pool on SQLite (WAL lets it read while w
	// writes), the same pool as w on PostgreSQL.
	r *sql.DB
	// ws and rs cache the prepared statements of the hot queries on w and
	// on r (the same cache when r is w).
	ws, rs *stmtCache
	// shops keeps the shops the hot lookups read (see shopCache).
	shops *shopCache
	// group commits concurrent [DB.Apply] calls together on SQLite; nil
	// on PostgreSQL.
	group *groupCommit
	kr    *secrets.Keyring
	now   func() time.Time
	// afterResealRead, when set (tests), runs after [DB.Reseal] reads a
	// page of rows and before it rewrites them.
	afterResealRead func(table string)
}

var (
	_ checkout.Store        = (*DB)(nil)
	_ metrics.StatusCounter = (*DB)(nil)
)

// Open connects to the database named by dsn and checks that it answers.
// It does not migrate; call [DB.Migrate].
//
// Accepted forms:
//
//	sqlite:PATH                  SQLite file, created if missing (sqlite:///abs/path also works)
//	postgres://user@host/db?…    PostgreSQL (postgresql:// also works), any pgx connection URL
//
// kr seals and opens shop secrets and must not be nil.
func Open(ctx context.Context, dsn string, kr *secrets.Keyring) (*DB, error) {
	if kr == nil {
		return nil, errors.New("store: open: a secrets keyring is required")
	}
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		db, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err = openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("store: open: unsupported database URL %q: want sqlite:PATH or postgres://… (postgresql://…)", redactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	db.kr = kr
	db.now = time.Now
	db.shops = newShopCache(versionTrust, time.Now)
	db.ws = &stmtCache{pool: db.w}
	db.rs = db.ws
	if db.r != db.w {
		db.rs = &stmtCache{pool: db.r}
	}
	return db, nil
}

// stmtCache keeps one prepared statement per query text on a pool, made
// the first time the query runs: database/sql prepares it once on each
// connection of the pool and reuses it after that. SQLite then parses
// and plans a hot query once per connection instead of on every call (the
// parser was a fifth of a create's CPU); pgx already keeps a statement
// cache per connection, so on PostgreSQL this only saves it a lookup.
//
// Only constant query texts belong here: the cache never evicts.
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex // held while preparing, so a query is prepared once
	m    sync.Map   // query text → *sql.Stmt
}

// stmt returns the prepared statement for q, preparing it if needed. It
// must not be called while the caller holds a transaction on a
// one-connection pool (SQLite's writer): the prepare would wait for that
// connection. Prepare a transaction's statements before it begins and
// bind them to it with [sql.Tx.StmtContext].
func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := c.m.Load(q); ok {
		return s.(*sql.Stmt), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m.Load(q); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.m.Store(q, s)
	return s, nil
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	var errs []error
	c.m.Range(func(q, s any) bool {
		errs = append(errs, s.(*sql.Stmt).Close())
		c.m.Delete(q)
		return true
	})
	return errors.Join(errs...)
}

// groupCommit writes concurrent [DB.Apply] calls on SQLite's one writer
// connection in one transaction, each in a savepoint of its own, and
// answers each once that transaction has committed: one commit (and one
// fsync) for the batch instead of one each, with every guarantee of
// separate transactions kept. A change that fails rolls back to its
// savepoint alone; a caller is told of success only after the commit
// that holds its change, and of an error only when nothing of its change
// was written.
//
// There is no goroutine of its own: the first caller to find no batch
// being written writes the waiting ones (its own first), then hands the
// turn to the oldest caller still waiting, so no caller writes for
// others for more than one batch. (Hand-written: database/sql has no
// group commit, and the SQLite drivers neither.)
type groupCommit struct {
	db      *DB
	mu      sync.Mutex
	queue   []*pendingChange
	writing bool
}

// maxGroup bounds the changes of one batch.
const maxGroup = 64

// groupTimeout bounds a batch's statements, whatever the callers'
// contexts (a caller whose context ends while it waits is dropped before
// its change runs).
const groupTimeout = 30 * time.Second

// txWrite is a write a groupCommit can make: a change of [DB.Apply], or
// a bookkeeping update.
type txWrite interface {
	// run makes the write in tx; on error the caller undoes it.
	run(ctx context.Context, tx *sql.Tx) error
	// reflect tells the caller's values, once committed.
	reflect()
}

// pendingChange is one caller waiting in a groupCommit.
type pendingChange struct {
	ctx  context.Context
	w    txWrite
	err  error
	done chan struct{} // closed when err is final
	turn chan struct{} // closed when it is this caller's turn to write
}

// apply writes w with the next batch and returns its outcome.
func (g *groupCommit) apply(ctx context.Context, w txWrite) error {
	p := &pendingChange{ctx: ctx, w: w, done: make(chan struct{}), turn: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.writing {
		g.mu.Unlock()
		select {
		case <-p.done:
			return p.err
		case <-p.turn:
		}
		g.mu.Lock()
	}
	// This caller's turn: it is first in the queue.
	g.writing = true
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	g.write(batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		close(g.queue[0].turn)
	} else {
		g.writing = false
		g.queue = nil
	}
	g.mu.Unlock()
	return p.err
}

// write runs the batch in one transaction and settles every caller in it.
func (g *groupCommit) write(batch []*pendingChange) {
	settle := func(ps []*pendingChange, err error) {
		for _, p := range ps {
			if p.err == nil {
				p.err = err
			}
		}
	}
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	live := make([]*pendingChange, 0, len(batch))
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = fmt.Errorf("store: apply: %w", err)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var sp [3]*sql.Stmt // savepoint, release, rollback to
	if len(live) > 1 {
		for i, q := range []string{"SAVEPOINT change", "RELEASE change", "ROLLBACK TO change"} {
			var err error
			if sp[i], err = g.db.ws.stmt(ctx, q); err != nil {
				settle(live, fmt.Errorf("store: apply: %w", err))
				return
			}
		}
	}
	tx, err := g.db.w.BeginTx(ctx, nil)
	if err != nil {
		settle(live, fmt.Errorf("store: apply: begin: %w", err))
		return
	}
	if len(live) == 1 {
		// Alone: no savepoint needed.
		if live[0].err = live[0].w.run(ctx, tx); live[0].err != nil {
			_ = tx.Rollback()
			return
		}
	} else {
		exec := func(s *sql.Stmt) error {
			_, err := tx.StmtContext(ctx, s).ExecContext(ctx)
			return err
		}
		for _, p := range live {
			if err := exec(sp[0]); err != nil {
				_ = tx.Rollback()
				settle(live, fmt.Errorf("store: apply: savepoint: %w", err))
				return
			}
			if p.err = p.w.run(ctx, tx); p.err != nil {
				err = exec(sp[2])
			}
			if err == nil {
				err = exec(sp[1])
			}
			if err != nil {
				// The transaction cannot go on (SQLite rolls it back
				// whole on some errors): nothing of the batch is written.
				_ = tx.Rollback()
				settle(live, fmt.Errorf("store: apply: savepoint: %w", err))
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		settle(live, fmt.Errorf("store: apply: commit: %w", err))
		return
	}
	for _, p := range live {
		if p.err == nil {
			p.w.reflect()
		}
	}
}

// errRow is a row whose Scan fails with err (a query that could not be
// prepared).
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// queryRow runs a one-row read on the reader pool through the statement
// cache.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	s, err := db.rs.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return s.QueryRowContext(ctx, args...)
}

// query runs a read on the reader pool through the statement cache.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := db.rs.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// exec runs a write outside any transaction on the writer pool through the
// statement cache.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := db.ws.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	path = strings.TrimPrefix(path, "//") // sqlite:///abs/path
	switch {
	case path == "":
		return nil, errors.New("store: open: empty SQLite path: want sqlite:PATH")
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		return nil, errors.New("store: open: in-memory SQLite is not supported (the read and write pools would see different databases); use a file, e.g. in a temporary directory")
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("store: open: SQLite path %q must not contain '?' or '#'", path)
	}
	// synchronous(FULL): in WAL mode SQLite then syncs the log at every
	// commit, so a write the bridge answered for (a payment whose pay
	// link went out, a notification's claim before its 2xx) survives a
	// power cut or a kernel crash, not only the process dying; NORMAL
	// would lose the last commits before a checkpoint. The cost, one
	// fsync per commit, is shared by concurrent writers: see groupCommit.
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)", sqliteBusyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first: it creates the file and switches it to WAL,
	// which is persistent, before any reader connects.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite %s: journal mode is %q, want wal (err: %v)", path, mode, err)
	}
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open SQLite %s (reader): %w", path, err)
	}
	db := &DB{dialect: DialectSQLite, w: w, r: r}
	db.group = &groupCommit{db: db}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL %s: %w", redactDSN(dsn), err)
	}
	p.SetMaxOpenConns(20)
	p.SetMaxIdleConns(10)
	p.SetConnMaxIdleTime(5 * time.Minute)
	p.SetConnMaxLifetime(time.Hour)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL %s: %w", redactDSN(dsn), err)
	}
	return &DB{dialect: DialectPostgres, w: p, r: p}, nil
}

// redactDSN hides the password of a URL-style DSN, for error messages.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		if len(dsn) > 40 {
			return dsn[:40] + "…"
		}
		return dsn
	}
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at < 0 || (slash >= 0 && slash < at) {
		return dsn
	}
	user, _, hasPw := strings.Cut(rest[:at], ":")
	if !hasPw {
		return dsn
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers (for readiness probes).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.dialect, err)
	}
	if db.r != db.w {
		if err := db.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s (reader): %w", db.dialect, err)
		}
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.ws.close()
	if db.rs != db.ws {
		err = errors.Join(err, db.rs.close())
	}
	err = errors.Join(err, db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Migrate applies the embedded migrations that the database lacks. It is
// idempotent. On PostgreSQL it holds goose's advisory session lock, so
// processes migrating at the same time apply each migration once. goose has
// no lock for SQLite: there, migrate from one process at a time (the server
// at start-up, or the CLI's migrate command).
func (db *DB) Migrate(ctx context.Context) error {
	var (
		dialect goose.Dialect
		dir     string
		opts    = []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	)
	switch db.dialect {
	case DialectSQLite:
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	case DialectPostgres:
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrationsFS, dir)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	p, err := goose.NewProvider(dialect, db.w, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", db.dialect, err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration version (0 before
// the first [DB.Migrate]).
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		if isMissingTable(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v.Int64, nil
}

// isUniqueViolation reports whether err is a unique or primary key
// violation, on either driver.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKeyViolation reports whether err is a foreign key violation.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func isMissingTable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "42P01"
	}
	return strings.Contains(err.Error(), "no such table")
}

// writeErr maps constraint violations to the checkout errors.
func writeErr(what string, err error) error {
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("store: %s: %w: %w", what, checkout.ErrDuplicate, err)
	case isForeignKeyViolation(err):
		return fmt.Errorf("store: %s: referenced row %w: %w", what, checkout.ErrNotFound, err)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// Times are stored as unix microseconds, UTC; the zero time as NULL where
// the column allows it.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// limitOrDefault bounds list queries: limit <= 0 means 100, and no list
// returns more than 10 000 rows.
func limitOrDefault(limit int) int {
	switch {
	case limit <= 0:
		return 100
	case limit > 10000:
		return 10000
	}
	return limit
}
