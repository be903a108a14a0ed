package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"

	"paybridge/internal/localsvc"
)

// redisStartAttempts is how often a local redis-server is tried on a new
// port when the previous one was taken between probing and binding.
const redisStartAttempts = 3

// RedisAddr returns the host:port of a Redis server for this test.
//
// If TEST_REDIS_ADDR is set, that address is returned as is: the server is
// shared and may hold data, so the caller must FLUSHALL (or use its own
// database index or key prefix) if it needs an empty one. Otherwise each
// call starts a fresh, empty server, from the redis:7 image if a Docker
// engine answers, else from the local redis-server binary (Debian package
// redis-server) on a free loopback port with persistence off, and stops it
// in t.Cleanup.
func RedisAddr(t testing.TB) string {
	t.Helper()
	Servers(t)
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		return addr
	}
	if pool := dockerPool(); pool != nil {
		addr, err := dockerRedis(t, pool)
		if err == nil {
			return addr
		}
		t.Logf("testenv: redis:7 container failed (%v); falling back to local redis-server", err)
	}
	return localRedis(t)
}

// dockerRedis runs a redis:7 container removed in t.Cleanup.
func dockerRedis(t testing.TB, pool *dockertest.Pool) (string, error) {
	res, err := pool.RunWithOptions(&dockertest.RunOptions{
		Repository: "redis",
		Tag:        "7",
		Cmd:        []string{"redis-server", "--save", "", "--appendonly", "no"},
	}, func(hc *dc.HostConfig) {
		hc.AutoRemove = true
		hc.RestartPolicy = dc.RestartPolicy{Name: "no"}
	})
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { _ = pool.Purge(res) })
	_ = res.Expire(30 * 60) // reaped by Docker even if the cleanup never runs
	addr := res.GetHostPort("6379/tcp")
	if err := pool.Retry(func() error { return redisPing(addr) }); err != nil {
		return "", err
	}
	return addr, nil
}

// localRedis starts redis-server from PATH, stopped in t.Cleanup.
func localRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testenv: redis-server not found in PATH and no Docker engine answers: "+
			"install the Debian package redis-server (./scripts/test installs it when run as root), "+
			"or set TEST_REDIS_ADDR: %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < redisStartAttempts; attempt++ {
		port, err := localsvc.FreePort()
		if err != nil {
			t.Fatalf("testenv: no free loopback port: %v", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin,
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--daemonize", "no",
			"--protected-mode", "no",
			"--loglevel", "warning",
		)
		cmd.Dir = dir
		c, err := localsvc.Start(cmd)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		err = c.WaitReady(context.Background(), 10*time.Second, func(context.Context) error { return redisPing(addr) })
		if err == nil {
			// Nothing in the server is worth keeping: kill it outright,
			// which is faster than a graceful SIGTERM shutdown.
			t.Cleanup(func() { _ = c.Stop(syscall.SIGKILL, 5*time.Second) })
			return addr
		}
		_ = c.Stop(syscall.SIGKILL, time.Second)
		lastErr = fmt.Errorf("%v\n%s", err, c.Output(20))
	}
	t.Fatalf("testenv: redis-server did not start: %v", lastErr)
	return ""
}

// redisPing sends an inline PING and expects +PONG, so testenv needs no
// Redis client library.
func redisPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
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
		return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
	}
	return nil
}
