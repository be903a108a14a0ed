package testenv

import (
	"context"
	"os"
	"os/exec"
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

// localRedis starts redis-server from PATH (localsvc), stopped in
// t.Cleanup; a port taken between its probe and the bind is retried.
func localRedis(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testenv: redis-server not found in PATH and no Docker engine answers: "+
			"install the Debian package redis-server (./scripts/test installs it when run as root), "+
			"or set TEST_REDIS_ADDR: %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for range redisStartAttempts {
		r, err := localsvc.StartRedis(context.Background(), dir)
		if err == nil {
			t.Cleanup(r.Stop)
			return r.Addr
		}
		lastErr = err
	}
	t.Fatalf("testenv: redis-server did not start: %v", lastErr)
	return ""
}

// redisPing is localsvc.PingRedis with a 3 s bound.
func redisPing(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return localsvc.PingRedis(ctx, addr)
}
