package testenv

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
)

// dockerProbeTimeout bounds the one Docker ping done per process.
const dockerProbeTimeout = 3 * time.Second

var docker struct {
	once sync.Once
	pool *dockertest.Pool
	err  error
}

// dockerPool returns a dockertest pool connected to a Docker engine that
// answered a ping, or nil when there is none. The probe runs once per
// process; its answer is cached.
func dockerPool() *dockertest.Pool {
	docker.once.Do(func() { docker.pool, docker.err = probeDocker() })
	return docker.pool
}

// probeDocker connects to the Docker engine named by DOCKER_HOST (or the
// default socket) and pings it. dockertest.NewPool alone does not connect,
// so the ping is the real test.
func probeDocker() (*dockertest.Pool, error) {
	if os.Getenv("TESTENV_NO_DOCKER") != "" {
		return nil, errDockerDisabled
	}
	pool, err := dockertest.NewPool("")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerProbeTimeout)
	defer cancel()
	if err := pool.Client.PingWithContext(ctx); err != nil {
		return nil, err
	}
	pool.MaxWait = 2 * time.Minute
	return pool, nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errDockerDisabled = constError("docker disabled by TESTENV_NO_DOCKER")
