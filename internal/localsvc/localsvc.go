// Package localsvc starts throwaway PostgreSQL and Redis servers from the
// local Debian binaries, on loopback ports, for programs that are not tests
// (the load tool). internal/testenv does the same for tests but is built on
// package testing, which a command must not link; this package holds only
// what a command needs: start, create a database, stop.
package localsvc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Proc is a started server process.
type Proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
	err  error
}

// Start starts cmd with its output kept for error messages and
// Pdeathsig=SIGKILL, so that the process dies with the caller. Pdeathsig
// fires when the forking OS thread exits, so the fork happens on a goroutine
// locked to its thread for the child's whole life.
func Start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	w := lockedWriter{p}
	if cmd.Stdout == nil {
		cmd.Stdout = w
	}
	if cmd.Stderr == nil {
		cmd.Stderr = w
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the child
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.done)
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

type lockedWriter struct{ p *Proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.p.out.Len() > 1<<20 { // bounded, for chatty processes
		w.p.out.Reset()
	}
	return w.p.out.Write(b)
}

// Output returns the last lines the process printed.
func (p *Proc) Output(lines int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := strings.Split(strings.TrimRight(p.out.String(), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process exited (exec.Cmd.Wait's error); valid once Done
// is closed.
func (p *Proc) Err() error { return p.err }

// Stop sends sig, waits up to grace, then kills the process.
func (p *Proc) Stop(sig os.Signal, grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %v after %v: killed", filepath.Base(p.cmd.Path), grace, sig)
}

// WaitReady calls ready every 20ms until it succeeds, the process exits or
// timeout passes.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready: %v\n%s", filepath.Base(p.cmd.Path), p.err, err, p.Output(20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v: %v\n%s", filepath.Base(p.cmd.Path), timeout, err, p.Output(20))
		case <-tick.C:
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Redis is a running redis-server with persistence off.
type Redis struct {
	// Addr is its host:port on 127.0.0.1.
	Addr string
	proc *Proc
}

// StartRedis starts redis-server (from PATH) in dir.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (install the Debian package redis-server): %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning")
	cmd.Dir = dir
	p, err := Start(cmd)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, 10*time.Second, func(ctx context.Context) error { return PingRedis(ctx, addr) }); err != nil {
		_ = p.Stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return &Redis{Addr: addr, proc: p}, nil
}

// Pid is the server's process id.
func (r *Redis) Pid() int { return r.proc.Pid() }

// Stop kills the server: nothing in it is worth keeping.
func (r *Redis) Stop() { _ = r.proc.Stop(syscall.SIGKILL, 5*time.Second) }

// PingRedis sends an inline PING to the Redis at addr and expects +PONG
// (no client library needed).
func PingRedis(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Postgres is a running PostgreSQL server, trust-authenticated for the
// role app, with durability off (fsync, synchronous_commit), as in the
// tests.
type Postgres struct {
	adminURL string
	bindir   string
	base     string
	proc     *Proc
}

// PostgresOptions say how [StartPostgresWith] lays out and starts its
// server; the zero value is what [StartPostgres] uses.
type PostgresOptions struct {
	// Prefix starts the name of the server's directory. Default
	// "localsvc-pg-".
	Prefix string
	// OwnerFile, when set, is a file written in the directory with the
	// caller's pid, so that a later run can remove the directories of
	// processes that died without stopping their server ([RemoveStale]).
	OwnerFile string
	// Attempts is how many free ports are tried when the server does not
	// come up on one (another process may take a port between its probe
	// and the bind). Default 1.
	Attempts int
	// MaxConnections is the server's max_connections. Default 300.
	MaxConnections int
	// ReadyTimeout bounds the wait for the server to answer. Default 60 s.
	ReadyTimeout time.Duration
}

// StartPostgres runs initdb and postgres from PG_BINDIR or
// /usr/lib/postgresql/*/bin (newest first) in a new directory under
// parent, which Stop removes. As root, the server runs as the postgres
// user (initdb refuses root), and the directory is made in /tmp instead
// when that user cannot reach parent.
func StartPostgres(ctx context.Context, parent string) (*Postgres, error) {
	return StartPostgresWith(ctx, parent, PostgresOptions{})
}

// StartPostgresWith is [StartPostgres] laid out as opts says.
func StartPostgresWith(ctx context.Context, parent string, opts PostgresOptions) (*Postgres, error) {
	if opts.Prefix == "" {
		opts.Prefix = "localsvc-pg-"
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 1
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 300
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	bindir, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil && !searchable(parent) {
		parent = "/tmp"
	}
	base, err := os.MkdirTemp(parent, opts.Prefix)
	if err != nil {
		return nil, err
	}
	if opts.OwnerFile != "" {
		if err := os.WriteFile(filepath.Join(base, opts.OwnerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			_ = os.RemoveAll(base)
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(base)
		}
	}()
	if cred != nil {
		if err := os.Chown(base, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(base, "data")
	initdb := exec.Command(filepath.Join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "app", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = base
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	ip, err := Start(initdb)
	if err != nil {
		return nil, err
	}
	<-ip.Done()
	if ip.err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", ip.err, ip.Output(20))
	}
	var lastErr error
	for range opts.Attempts {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(filepath.Join(bindir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", base,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections="+strconv.Itoa(opts.MaxConnections))
		cmd.Dir = base
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		p, err := Start(cmd)
		if err != nil {
			return nil, err
		}
		admin := pgURL(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "postgres")
		err = p.WaitReady(ctx, opts.ReadyTimeout, func(ctx context.Context) error { return pgExec(ctx, admin, "SELECT 1") })
		if err == nil {
			ok = true
			return &Postgres{adminURL: admin, bindir: bindir, base: base, proc: p}, nil
		}
		_ = p.Stop(syscall.SIGKILL, time.Second)
		lastErr = fmt.Errorf("%v\n%s", err, p.Output(20))
	}
	return nil, fmt.Errorf("postgres did not start: %w", lastErr)
}

// AdminURL is the URL of the server's postgres database, for role app.
func (pg *Postgres) AdminURL() string { return pg.adminURL }

// BinDir is the directory of the PostgreSQL binaries the server runs.
func (pg *Postgres) BinDir() string { return pg.bindir }

// RemoveStale removes the server directories under parent (named with
// prefix) whose owner file names a process that no longer runs: left by
// callers that died without stopping their servers (Pdeathsig already
// killed the servers).
func RemoveStale(parent, prefix, ownerFile string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // being set up, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// Pid is the postmaster's process id.
func (pg *Postgres) Pid() int { return pg.proc.Pid() }

// CreateDatabase creates database name and returns its URL.
func (pg *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := pgExec(ctx, pg.adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(pg.adminURL)
	return pgURL(u.Host, name), nil
}

// Stop shuts the server down at once (SIGQUIT) and removes its files.
func (pg *Postgres) Stop() {
	_ = pg.proc.Stop(syscall.SIGQUIT, 10*time.Second)
	_ = os.RemoveAll(pg.base)
}

func pgURL(hostport, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("app"), Host: hostport, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func pgExec(ctx context.Context, dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func pgBinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BINDIR=%s has no initdb: %w", d, err)
		}
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", errors.New("initdb not found in /usr/lib/postgresql/*/bin or PATH: install the Debian package postgresql or set PG_BINDIR")
	}
	major := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return major(matches[i]) > major(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// searchable reports whether every directory from dir up to / lets others
// through (o+x), so that another user can reach a subdirectory.
func searchable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}
