package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
)

// Default retry ladders. The delay before retry n (n = 0 for the first
// retry) is ladder[n], and the last element repeats beyond the list.
var (
	// DefaultConfirmRetryDelays is the short ladder of payment:confirm:
	// 5s, 10s, 30s, 1m, 2m, 5m (then every 5m). With the default
	// ConfirmMaxRetry of 8 a confirm gives up after about 19 minutes; the
	// reconciler keeps re-checking open payments after that.
	DefaultConfirmRetryDelays = []time.Duration{
		5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute,
	}
	// DefaultSyncRetryDelays is the long ladder of store:sync and
	// refund:process: 5s, 10s, 30s, 1m, 2m, 5m, 12m, 38m, then hourly.
	// With the default 31 retries the last attempt comes about a day after
	// the first (59 minutes for the first eight steps, then 23 hourly ones),
	// as DESIGN §4 asks: a store down overnight is still caught up.
	DefaultSyncRetryDelays = []time.Duration{
		5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute,
		12 * time.Minute, 38 * time.Minute, time.Hour,
	}
)

// Config tunes the queue and the worker. The zero value is usable: every
// zero field takes the default its comment names.
type Config struct {
	// Concurrency is how many tasks one worker runs at once. Default 10.
	Concurrency int

	// ConfirmRetryDelays is the payment:confirm ladder.
	// Default DefaultConfirmRetryDelays.
	ConfirmRetryDelays []time.Duration
	// ConfirmMaxRetry is how many times a confirm is retried before it is
	// archived. Default 8.
	ConfirmMaxRetry int
	// ConfirmUniqueFor is how long a second immediate confirm of the same
	// payment is absorbed, and the window within which delayed confirms due
	// at about the same time are one (see Queue.EnqueueConfirm). Default
	// 10s; whole seconds, at least 1s.
	ConfirmUniqueFor time.Duration

	// SyncRetryDelays is the store:sync ladder (BRIDGE_SYNC_RETRY_DELAYS).
	// Default DefaultSyncRetryDelays.
	SyncRetryDelays []time.Duration
	// SyncMaxRetry is how many times a store sync is retried before it is
	// archived and the core is told (Core.SyncGaveUp). Default 31 (about a
	// day on the default ladder).
	SyncMaxRetry int

	// RefundRetryDelays is the refund:process ladder.
	// Default DefaultSyncRetryDelays.
	RefundRetryDelays []time.Duration
	// RefundMaxRetry is how many times a refund task is retried before it
	// is archived. Default 31.
	RefundMaxRetry int

	// ReconcileInterval is the reconciler's period, in whole seconds.
	// Default 1m; at least 1s.
	ReconcileInterval time.Duration
	// NoScheduler stops the worker from running the reconciler trigger.
	// Default false: every worker process runs it, which is safe because
	// each period's task has one id (see Worker). Set it on workers that
	// should only consume.
	NoScheduler bool

	// EnqueueTimeout bounds every enqueue. Default 3s.
	EnqueueTimeout time.Duration
	// ShutdownTimeout is how long Shutdown waits for running tasks before
	// putting them back in their queue. Default 10s.
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often due scheduled and retry tasks
	// are moved to their queue. Default 1s (asynq's is 5s: a retry of a
	// store sync was up to 5 s late); tests set it low. asynq stores due
	// times in whole seconds whatever this is.
	DelayedTaskCheckInterval time.Duration
	// TaskCheckInterval is how long an idle worker waits before polling
	// empty queues again: the latency of a queue hop when the worker is
	// idle. Default 20ms (asynq's is 1s, which was most of the time between
	// a notification and the store's update); an idle worker then asks
	// Redis about 50 times a second, which costs Redis next to nothing.
	TaskCheckInterval time.Duration

	// Logger receives the package's logs and asynq's own. Default
	// slog.Default().
	Logger *slog.Logger
	// Clock tells the time and makes the timers of the reconciler trigger:
	// which period it is, and when the next one starts. Default: the real
	// clock (clockwork.NewRealClock). Tests pass a clockwork.FakeClock to
	// step through periods without waiting for them. Due times of delayed
	// and retried tasks are not read from it: asynq compares those with the
	// wall clock of the Redis client and server.
	Clock clockwork.Clock
}

// withDefaults returns a copy of c with every zero field set.
func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
	if len(c.ConfirmRetryDelays) == 0 {
		c.ConfirmRetryDelays = DefaultConfirmRetryDelays
	}
	if c.ConfirmMaxRetry <= 0 {
		c.ConfirmMaxRetry = 8
	}
	if c.ConfirmUniqueFor <= 0 {
		c.ConfirmUniqueFor = 10 * time.Second
	}
	c.ConfirmUniqueFor = max(c.ConfirmUniqueFor.Round(time.Second), time.Second)
	if len(c.SyncRetryDelays) == 0 {
		c.SyncRetryDelays = DefaultSyncRetryDelays
	}
	if c.SyncMaxRetry <= 0 {
		c.SyncMaxRetry = 31
	}
	if len(c.RefundRetryDelays) == 0 {
		c.RefundRetryDelays = DefaultSyncRetryDelays
	}
	if c.RefundMaxRetry <= 0 {
		c.RefundMaxRetry = 31
	}
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = time.Minute
	}
	c.ReconcileInterval = max(c.ReconcileInterval.Round(time.Second), time.Second)
	if c.EnqueueTimeout <= 0 {
		c.EnqueueTimeout = 3 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.DelayedTaskCheckInterval <= 0 {
		c.DelayedTaskCheckInterval = time.Second
	}
	if c.TaskCheckInterval <= 0 {
		c.TaskCheckInterval = 20 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	return c
}

// ladderDelay is the delay before retry n (0-based) on ladder: ladder[n],
// or its last element beyond its end.
func ladderDelay(ladder []time.Duration, n int) time.Duration {
	if len(ladder) == 0 {
		return 0
	}
	return ladder[min(max(n, 0), len(ladder)-1)]
}

// ParseDelays parses a comma-separated list of Go durations ("5s,10s,1m"),
// the format of BRIDGE_SYNC_RETRY_DELAYS. Spaces around items are ignored.
// Every item must be a positive duration; an empty list is an error.
func ParseDelays(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("retry delays: empty list")
	}
	items := strings.Split(s, ",")
	out := make([]time.Duration, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("retry delays: item %d is empty", i+1)
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("retry delays: item %d %q: %w", i+1, item, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry delays: item %d %q: must be positive", i+1, item)
		}
		out = append(out, d)
	}
	return slices.Clip(out), nil
}
