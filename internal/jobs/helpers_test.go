package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/testenv"
)

// backend is a Redis-compatible server the same tests run against.
type backend struct {
	name  string
	start func(t *testing.T) asynq.RedisConnOpt
}

var backends = []backend{
	{"redis", realRedis},
	{"embedded", embeddedRedis},
}

// sharedDB hands out database indexes when TEST_REDIS_ADDR names one shared
// server, so that parallel tests do not take each other's tasks.
var sharedDB atomic.Int32

func realRedis(t *testing.T) asynq.RedisConnOpt {
	opt := asynq.RedisClientOpt{Addr: testenv.RedisAddr(t)}
	if os.Getenv("TEST_REDIS_ADDR") != "" {
		opt.DB = int(sharedDB.Add(1) % 16)
		rc := redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB})
		defer rc.Close()
		if err := rc.FlushDB(context.Background()).Err(); err != nil {
			t.Fatalf("flush shared redis db %d: %v", opt.DB, err)
		}
	}
	return opt
}

func embeddedRedis(t *testing.T) asynq.RedisConnOpt {
	e, err := StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return asynq.RedisClientOpt{Addr: e.Addr()}
}

// onBackends runs f on every backend, in parallel subtests, each with a
// fresh server.
func onBackends(t *testing.T, f func(t *testing.T, opt asynq.RedisConnOpt)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.start(t))
		})
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("JOBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig retries at the next forwarder check (asynq keeps due times in
// whole seconds, so a 1 ms delay is due at once) and polls quickly.
func testConfig() Config {
	fast := []time.Duration{time.Millisecond}
	return Config{
		ConfirmRetryDelays:       fast,
		SyncRetryDelays:          fast,
		RefundRetryDelays:        fast,
		DelayedTaskCheckInterval: 200 * time.Millisecond,
		TaskCheckInterval:        100 * time.Millisecond,
		ShutdownTimeout:          3 * time.Second,
		NoScheduler:              true,
		Logger:                   testLogger(),
	}
}

func startWorker(t *testing.T, opt asynq.RedisConnOpt, core Core, cfg Config) *Worker {
	t.Helper()
	w := NewWorker(opt, core, cfg)
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

func newQueue(t *testing.T, opt asynq.RedisConnOpt, cfg Config) *Queue {
	t.Helper()
	q := NewQueue(opt, cfg)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func newAdmin(t *testing.T, opt asynq.RedisConnOpt) *Admin {
	t.Helper()
	a := NewAdmin(opt)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// waitFor waits until cond holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.EventuallyTrue(t, d, what, cond)
}

// waitIdle waits until no queue of this package holds a task that could
// still run: what ran is then all that will run, and the test may count.
func waitIdle(t *testing.T, opt asynq.RedisConnOpt) {
	t.Helper()
	testenv.QueueIdle(t, opt, Queues, 10*time.Second, nil)
}

// fakeCore records calls by key ("confirm:<payment>", "sync:<payment>",
// "syncrefund:<refund>", "refund:<refund>") and fails them on demand.
type fakeCore struct {
	mu         sync.Mutex
	calls      map[string][]time.Time
	delivered  map[string]int
	fail       map[string]func(n int) error // n is the 1-based call number
	hook       func(ctx context.Context, key string)
	gaveUp     []gaveUpCall
	reconciles []string // task ids
}

type gaveUpCall struct{ payment, refund, reason string }

func newFakeCore() *fakeCore {
	return &fakeCore{
		calls:     map[string][]time.Time{},
		delivered: map[string]int{},
		fail:      map[string]func(int) error{},
	}
}

func (f *fakeCore) setFail(key string, fn func(n int) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[key] = fn
}

func (f *fakeCore) setHook(fn func(ctx context.Context, key string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

func (f *fakeCore) do(ctx context.Context, key string) error {
	f.mu.Lock()
	f.calls[key] = append(f.calls[key], time.Now())
	n, fail, hook := len(f.calls[key]), f.fail[key], f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, key)
	}
	var err error
	if fail != nil {
		err = fail(n)
	}
	if err == nil {
		f.mu.Lock()
		f.delivered[key]++
		f.mu.Unlock()
	}
	return err
}

func (f *fakeCore) callTimes(key string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[key]...)
}

func (f *fakeCore) nCalls(key string) int { return len(f.callTimes(key)) }

func (f *fakeCore) nDelivered(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delivered[key]
}

func (f *fakeCore) gaveUpCalls() []gaveUpCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gaveUpCall(nil), f.gaveUp...)
}

func (f *fakeCore) reconcileIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reconciles...)
}

func (f *fakeCore) ConfirmPayment(ctx context.Context, id string) error {
	return f.do(ctx, "confirm:"+id)
}

func (f *fakeCore) SyncPayment(ctx context.Context, id string) error {
	return f.do(ctx, "sync:"+id)
}

func (f *fakeCore) SyncRefund(ctx context.Context, id string) error {
	return f.do(ctx, "syncrefund:"+id)
}

func (f *fakeCore) ProcessRefund(ctx context.Context, id string) error {
	return f.do(ctx, "refund:"+id)
}

func (f *fakeCore) SyncGaveUp(ctx context.Context, payment, refund, reason string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("gave up with a dead context: %w", ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gaveUp = append(f.gaveUp, gaveUpCall{payment, refund, reason})
	return nil
}

func (f *fakeCore) Reconcile(ctx context.Context) error {
	id, _ := asynq.GetTaskID(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciles = append(f.reconciles, id)
	return nil
}

func TestMain(m *testing.M) { testenv.Main(m) }
