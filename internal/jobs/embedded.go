package jobs

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// clockStep is how often the embedded server's clock follows the wall clock.
const clockStep = 200 * time.Millisecond

// Embedded is an in-process Redis-compatible server (miniredis) for running
// the bridge with no Redis: `go run ./cmd/bridge` with no BRIDGE_REDIS_URL.
//
// Its contents live in memory only: a restart loses every queued, retrying
// and archived task. That is safe because the database is the outbox: every
// task follows a committed write recording the need for it, and the
// reconciler, which runs soon after start, finds those rows (open payments,
// final but unsynced payments, pending refunds) and enqueues them again.
// What a restart does lose is the archive's history, and the wait between
// retries (work that was waiting for an hour may run sooner).
//
// miniredis does not expire keys by itself: key TTLs only shrink when it
// is told that time passed (FastForward). Embedded therefore tells it, every
// 200 ms, how much wall time went by, so that TTL-based features (asynq's
// Unique locks, server heartbeats) behave as on a real Redis, to within that
// step. (It does not call SetTime: left unset, miniredis reads time.Now()
// for TIME and EXPIREAT, which is already the wall clock; SetTime would
// freeze it between ticks. Nor does it use miniredis' ClockTTL, which
// advances TTLs on every command by sorting every key, too slow once the
// queue holds thousands of tasks.) Completed-task Retention and the archive
// limits are kept by asynq itself against the client's clock, not by TTLs.
//
// This clock is the wall clock, not Config.Clock: it stands for the clock
// of a Redis server, and asynq, which sets the TTLs and due times, reads
// the wall clock too.
//
// It is meant for one process: run a real Redis to share a queue between
// processes.
type Embedded struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// StartEmbedded starts an embedded server on 127.0.0.1 at a random port.
// Close it when done.
func StartEmbedded() (*Embedded, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("jobs: start embedded redis: %w", err)
	}
	e := &Embedded{mr: mr, stop: make(chan struct{})}
	e.wg.Add(1)
	go e.tick()
	return e, nil
}

// tick advances miniredis' clock by the wall time elapsed, every clockStep.
func (e *Embedded) tick() {
	defer e.wg.Done()
	t := time.NewTicker(clockStep)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			now := time.Now()
			if d := now.Sub(last); d > 0 {
				e.mr.FastForward(d) // expires keys whose TTL ran out
			}
			last = now
		}
	}
}

// Addr is the server's host:port, for asynq.RedisClientOpt{Addr: …}.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// Close stops the server; its contents are lost. It is safe to call more
// than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.wg.Wait()
		e.mr.Close()
	})
}
