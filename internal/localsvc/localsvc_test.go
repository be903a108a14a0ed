package localsvc_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"paybridge/internal/localsvc"
	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := localsvc.StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", r.Addr, err)
	}
	conn.Close()
	if host, _, _ := net.SplitHostPort(r.Addr); host != "127.0.0.1" {
		t.Errorf("Redis listens on %s, want loopback", r.Addr)
	}
	r.Stop()
	if conn, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("Redis still answers at %s after Stop", r.Addr)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The caller's directory is one the postgres user cannot reach when
	// the tests run as root (t.TempDir is 0700): StartPostgres copes.
	pg, err := localsvc.StartPostgres(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	u, err := pg.CreateDatabase(ctx, "app_test")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect %s: %v", u, err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "app_test" {
		t.Errorf("current_database() = %q, %v; want app_test", db, err)
	}
	if _, err := pg.CreateDatabase(ctx, "app_test"); err == nil {
		t.Errorf("creating app_test twice: no error")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pg.Pid())); err != nil {
		t.Errorf("the postmaster %d is not running: %v", pg.Pid(), err)
	}
}
