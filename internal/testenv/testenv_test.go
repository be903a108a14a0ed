package testenv

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func TestMain(m *testing.M) { Main(m) }

func TestRedisAddr(t *testing.T) {
	start := time.Now()
	a := RedisAddr(t)
	t.Logf("first Redis ready in %v at %s", time.Since(start).Round(time.Millisecond), a)
	start = time.Now()
	b := RedisAddr(t)
	t.Logf("second Redis ready in %v at %s", time.Since(start).Round(time.Millisecond), b)
	for _, addr := range []string{a, b} {
		if err := redisPing(addr); err != nil {
			t.Fatalf("PING %s: %v", addr, err)
		}
	}
	if os.Getenv("TEST_REDIS_ADDR") == "" && a == b {
		t.Fatalf("two calls returned the same server %s", a)
	}
	// Prove the servers are separate: a key set on one is absent on the other.
	if got := redisCmd(t, a, "SET k v"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	if got := redisCmd(t, a, "GET k"); got != "$1" {
		t.Fatalf("GET on a: %q", got)
	}
	if os.Getenv("TEST_REDIS_ADDR") == "" {
		if got := redisCmd(t, b, "GET k"); got != "$-1" {
			t.Fatalf("GET on b: %q, want nil", got)
		}
	}
}

// redisCmd sends one inline command and returns the first reply line.
func redisCmd(t *testing.T, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	for i := range line {
		if line[i] == '\r' {
			return line[:i]
		}
	}
	return line
}

func TestPostgresURL(t *testing.T) {
	start := time.Now()
	a := PostgresURL(t)
	t.Logf("first database (server start included) in %v: %s", time.Since(start).Round(time.Millisecond), a)
	start = time.Now()
	b := PostgresURL(t)
	t.Logf("second database in %v: %s", time.Since(start).Round(time.Millisecond), b)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
	for i, u := range []string{a, b} {
		db, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("database %s is not empty: %d tables", u, n)
		}
		if _, err := db.Exec(`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO items (name) VALUES ($1)`, fmt.Sprint("row", i)); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := db.QueryRow(`SELECT name FROM items WHERE id = 1`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint("row", i); name != want {
			t.Fatalf("got %q, want %q", name, want)
		}
	}
}

func TestPostgresURLParallel(t *testing.T) {
	for i := 0; i < 4; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db, err := sql.Open("pgx", PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE t (x int)`); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// page writes its text from JavaScript after a timer, so the text is in
// the DOM only if a real browser ran the script.
const page = `<!doctype html><html><head><title>t</title></head><body>
<p id="out">static</p>
<script>
setTimeout(function () {
  document.getElementById("out").textContent = "written-" + "by-" + "javascript";
}, 300);
</script></body></html>`

func TestDumpDOM(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	start := time.Now()
	dom := DumpDOM(t, srv.URL)
	t.Logf("DumpDOM took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(dom, `<p id="out">written-by-javascript</p>`) {
		t.Fatalf("DOM lacks the text the script writes:\n%s", dom)
	}
}

func TestScreenshot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><body style="background:#c00"><h1>hello</h1></body></html>`)
	}))
	defer srv.Close()
	png := filepath.Join(t.TempDir(), "shot.png")
	Screenshot(t, srv.URL, png, 320, 200)
	b, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	// The IHDR chunk holds width and height as big-endian uint32 at 16..24.
	if len(b) < 24 || !bytes.Equal(b[1:4], []byte("PNG")) {
		t.Fatalf("not a PNG")
	}
	w := int(b[16])<<24 | int(b[17])<<16 | int(b[18])<<8 | int(b[19])
	h := int(b[20])<<24 | int(b[21])<<16 | int(b[22])<<8 | int(b[23])
	if w != 320 || h != 200 {
		t.Fatalf("screenshot is %dx%d, want 320x200", w, h)
	}
}

func TestDockerProbe(t *testing.T) {
	start := time.Now()
	pool, err := probeDocker()
	took := time.Since(start)
	t.Logf("docker probe: available=%v in %v (%v)", pool != nil, took, err)
	if took > dockerProbeTimeout+time.Second {
		t.Fatalf("docker probe took %v", took)
	}
	// dockerPool caches one probe: later calls answer at once, the same way.
	first := dockerPool()
	start = time.Now()
	if again := dockerPool(); again != first {
		t.Fatalf("probe answer not cached")
	}
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Fatalf("cached probe took %v", d)
	}
	if (first == nil) != (pool == nil) {
		t.Fatalf("cached probe says available=%v, fresh probe says %v", first != nil, pool != nil)
	}
	_, sockErr := os.Stat("/var/run/docker.sock")
	if os.Getenv("DOCKER_HOST") == "" && os.IsNotExist(sockErr) && pool != nil {
		t.Fatalf("no /var/run/docker.sock and no DOCKER_HOST, yet the probe says Docker is available")
	}
}
