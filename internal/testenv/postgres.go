package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
	"go.uber.org/goleak"

	"paybridge/internal/localsvc"
)

const (
	pgStartAttempts = 3
	pgReadyTimeout  = 60 * time.Second
	pgAdminTimeout  = 30 * time.Second
)

// pgServer is the PostgreSQL server shared by all PostgresURL calls of
// one test process.
type pgServer struct {
	adminURL string // URL of the "postgres" maintenance database
	how      string // for logs: where the server came from
	stop     func() // stops the server and removes its files; nil if not ours
}

var pgShared struct {
	once sync.Once
	srv  *pgServer
	err  error
	mu   sync.Mutex // guards stop
	stop bool       // set once Main has stopped the server
}

var pgDBCounter atomic.Int64

// PostgresURL returns the URL of a fresh, empty database on a real
// PostgreSQL server, in the form
// "postgres://app@127.0.0.1:PORT/DBNAME?sslmode=disable". The database is
// dropped in t.Cleanup.
//
// The server is TEST_DATABASE_URL if set (its role must be allowed to
// CREATE DATABASE; the returned URL keeps its credentials and options and
// only replaces the database name), else one postgres:15 container if a
// Docker engine answers, else one local server from the Debian package
// postgresql (binaries in PG_BINDIR or /usr/lib/postgresql/*/bin). The
// server is started on first use and shared by the whole test process; call
// Main from TestMain to stop it when the tests are done.
func PostgresURL(t testing.TB) string {
	t.Helper()
	Servers(t)
	pgShared.once.Do(func() {
		start := time.Now()
		pgShared.srv, pgShared.err = startPostgres()
		if pgShared.err == nil {
			t.Logf("testenv: PostgreSQL (%s) ready in %v", pgShared.srv.how, time.Since(start).Round(time.Millisecond))
		}
	})
	if pgShared.err != nil {
		t.Fatalf("testenv: no PostgreSQL server: %v", pgShared.err)
	}
	pgShared.mu.Lock()
	stopped := pgShared.stop
	pgShared.mu.Unlock()
	if stopped {
		t.Fatalf("testenv: PostgresURL called after testenv.Main stopped the server")
	}
	return createDatabase(t, pgShared.srv.adminURL)
}

// Main runs the tests of a package, then stops the PostgreSQL server that
// PostgresURL may have started (removing its data directory), then, if
// the tests passed, fails the run when goroutines are left behind
// (go.uber.org/goleak, with opts for the few that are not ours), and exits
// with the tests' status. Every package whose tests start goroutines or
// use PostgresURL calls it:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// The server is stopped before the leak check because its goroutines are
// the process's, not a test's. Without Main the server is still killed
// (Pdeathsig) when the test binary exits, but its temporary directory
// stays until the next test process that starts a local server removes it.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	stopPostgres()
	if code == 0 {
		// Keep-alive connections the tests' clients left in the shared
		// pool are the pool's cache, not a leak: close them. A server
		// left running still shows (its Serve loop and handlers).
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
		// Goroutines that a library stops from a finalizer once their
		// owner is garbage (ulule/limiter's memory store cleaner) stop
		// on a collection.
		runtime.GC()
		runtime.GC()
		// goleak retries for a while, so goroutines that are just
		// finishing (a closed server's connection handlers) are not
		// reported.
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// stopPostgres stops the shared server if this process started one.
func stopPostgres() {
	pgShared.mu.Lock()
	defer pgShared.mu.Unlock()
	if pgShared.stop {
		return
	}
	pgShared.stop = true
	if pgShared.srv != nil && pgShared.srv.stop != nil {
		pgShared.srv.stop()
	}
}

// startPostgres finds or starts the process-wide server.
func startPostgres() (*pgServer, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		if _, err := pgx.ParseConfig(u); err != nil {
			return nil, fmt.Errorf("TEST_DATABASE_URL: %v", err)
		}
		return &pgServer{adminURL: u, how: "TEST_DATABASE_URL"}, nil
	}
	if pool := dockerPool(); pool != nil {
		srv, err := dockerPostgres(pool)
		if err == nil {
			return srv, nil
		}
		fmt.Fprintf(os.Stderr, "testenv: postgres:15 container failed (%v); falling back to local binaries\n", err)
	}
	return localPostgres()
}

// dockerPostgres runs one postgres:15 container for the process.
func dockerPostgres(pool *dockertest.Pool) (*pgServer, error) {
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: "postgres",
		Tag:        "15",
		Env: []string{
			"POSTGRES_USER=app",
			"POSTGRES_DB=postgres",
			"POSTGRES_HOST_AUTH_METHOD=trust",
		},
		Cmd: []string{"postgres",
			"-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=200"},
	}, func(hc *dc.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = dc.RestartPolicy{Name: "no"}
	})
	if err != nil {
		return nil, err
	}
	_ = res.Expire(60 * 60) // reaped by Docker even if Main never runs
	admin := pgURL(res.GetHostPort("5432/tcp"), "postgres")
	if err := pool.Retry(func() error { return pgPing(admin) }); err != nil {
		_ = pool.Purge(res)
		return nil, err
	}
	return &pgServer{adminURL: admin, how: "docker postgres:15", stop: func() { _ = pool.Purge(res) }}, nil
}

// pgURL builds the URL of database db for role app at hostport.
func pgURL(hostport, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("app"),
		Host:     hostport,
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// localPostgres runs initdb and postgres from the Debian binaries
// (localsvc), in a directory marked with this process's pid so that a
// later run removes it if this one dies without running Main.
func localPostgres() (*pgServer, error) {
	for _, parent := range []string{os.TempDir(), "/tmp"} {
		localsvc.RemoveStale(parent, pgDirPrefix, pgOwnerFile)
	}
	pg, err := localsvc.StartPostgresWith(context.Background(), os.TempDir(), localsvc.PostgresOptions{
		Prefix: pgDirPrefix, OwnerFile: pgOwnerFile, Attempts: pgStartAttempts, MaxConnections: 200, ReadyTimeout: pgReadyTimeout})
	if err != nil {
		return nil, fmt.Errorf("%w (install the Debian package postgresql: ./scripts/test installs it when run as root; or set PG_BINDIR or TEST_DATABASE_URL)", err)
	}
	return &pgServer{adminURL: pg.AdminURL(), how: "local " + pg.BinDir(), stop: pg.Stop}, nil
}

const (
	pgDirPrefix = "testenv-pg-"
	pgOwnerFile = "owner.pid"
)

// pgPing connects to url and runs a trivial query.
func pgPing(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// dbName returns a unique, valid database name that hints at the test.
func dbName(t testing.TB) string {
	n := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	n = strings.Trim(n, "_")
	if len(n) > 32 {
		n = n[:32]
	}
	return fmt.Sprintf("t_%s_%d_%d", n, os.Getpid(), pgDBCounter.Add(1))
}

// withDB returns adminURL with its database replaced by db.
func withDB(adminURL, db string) (string, error) {
	u, err := url.Parse(adminURL)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL, got %q", adminURL)
}

// createDatabase creates a fresh database, dropped in t.Cleanup.
func createDatabase(t testing.TB, adminURL string) string {
	t.Helper()
	name := dbName(t)
	dbURL, err := withDB(adminURL, name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if err := pgAdminExec(adminURL, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := pgAdminExec(adminURL, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42601" { // syntax error: server older than 13
			err = pgAdminExec(adminURL, "DROP DATABASE IF EXISTS "+ident)
		}
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// pgAdminExec runs one statement on the maintenance database.
func pgAdminExec(adminURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgAdminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
