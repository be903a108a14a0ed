package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jonboulle/clockwork"
	dto "github.com/prometheus/client_model/go"

	"paybridge/internal/checkout"
	"paybridge/internal/metrics"
	"paybridge/internal/testenv"
)

var errStore503 = errors.New("store: HTTP 503 Service Unavailable")

func TestConfirmEnqueuedThriceRunsOnce(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		cfg.ConfirmUniqueFor = 2 * time.Second
		q := newQueue(t, opt, cfg)
		core := newFakeCore()
		// Due in the middle of a 2 s window, so that three enqueues a few
		// milliseconds apart fall in the same one.
		now := time.Now()
		delay := periodStart(now, 2*time.Second).Add(3 * time.Second).Sub(now)
		// A browser return and two notifications arrive before any worker
		// looks: at once for p1, delayed for p2.
		for range 3 {
			if err := q.EnqueueConfirm(t.Context(), "p1", 0); err != nil {
				t.Fatalf("EnqueueConfirm p1: %v", err)
			}
			if err := q.EnqueueConfirm(t.Context(), "p2", delay); err != nil {
				t.Fatalf("EnqueueConfirm p2: %v", err)
			}
		}
		// A scheduled (expiry) check does not absorb a notification's
		// immediate one.
		if err := q.EnqueueConfirm(t.Context(), "p3", delay); err != nil {
			t.Fatal(err)
		}
		if err := q.EnqueueConfirm(t.Context(), "p3", 0); err != nil {
			t.Fatal(err)
		}
		startWorker(t, opt, core, cfg)

		waitFor(t, 2*time.Second, "p3 confirmed at once", func() bool { return core.nCalls("confirm:p3") == 1 })
		if core.nCalls("confirm:p2") != 0 {
			t.Errorf("delayed confirm ran before its time")
		}
		waitFor(t, 10*time.Second, "p2 confirmed", func() bool { return core.nCalls("confirm:p2") > 0 })
		// asynq keeps due times in whole seconds: allow up to 1 s early.
		if d := core.callTimes("confirm:p2")[0].Sub(now); d < delay-time.Second {
			t.Errorf("delayed confirm ran after %s, want >= %s", d, delay-time.Second)
		}
		waitFor(t, 5*time.Second, "p3's delayed confirm", func() bool { return core.nCalls("confirm:p3") == 2 })
		waitIdle(t, opt) // a duplicate would have run by now
		for _, p := range []string{"p1", "p2"} {
			if n := core.nCalls("confirm:" + p); n != 1 {
				t.Errorf("confirm %s ran %d times, want 1", p, n)
			}
		}
	})
}

func TestSyncRetriesThenDelivers(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		core := newFakeCore()
		core.setFail("sync:p1", func(n int) error {
			if n <= 5 {
				return fmt.Errorf("sync attempt %d: %w", n, errStore503)
			}
			return nil
		})
		startWorker(t, opt, core, cfg)
		q := newQueue(t, opt, cfg)
		if err := q.EnqueueSync(t.Context(), "p1", ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "sync delivered", func() bool { return core.nDelivered("sync:p1") == 1 })
		waitIdle(t, opt) // a seventh attempt would have run by now
		if n := core.nCalls("sync:p1"); n != 6 {
			t.Errorf("sync ran %d times, want 6", n)
		}
		if g := core.gaveUpCalls(); len(g) != 0 {
			t.Errorf("SyncGaveUp called: %v", g)
		}
		if a, err := newAdmin(t, opt).Archived(t.Context()); err != nil || len(a) != 0 {
			t.Errorf("Archived = %v, %v; want none", a, err)
		}
	})
}

func TestPermanentErrorArchivedAndReplayed(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		core := newFakeCore()
		const reason = "store rejected the order (HTTP 422)"
		core.setFail("sync:p1", func(n int) error {
			return checkout.Permanent(reason, errors.New("order is cancelled"))
		})
		archivedBefore := outcomes(t, TypeSync, "archived")
		startWorker(t, opt, core, cfg)
		q := newQueue(t, opt, cfg)
		if err := q.EnqueueSync(t.Context(), "p1", ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "SyncGaveUp", func() bool { return len(core.gaveUpCalls()) == 1 })
		g := core.gaveUpCalls()[0]
		if g.payment != "p1" || g.refund != "" || !strings.Contains(g.reason, reason) {
			t.Errorf("SyncGaveUp(%q, %q, %q), want p1, \"\", …%s…", g.payment, g.refund, g.reason, reason)
		}
		if n := core.nCalls("sync:p1"); n != 1 {
			t.Errorf("permanent error ran %d times, want 1", n)
		}
		if d := outcomes(t, TypeSync, "archived") - archivedBefore; d < 1 {
			t.Errorf("archived outcome grew by %v, want >= 1", d)
		}

		admin := newAdmin(t, opt)
		var archived []ArchivedTask
		waitFor(t, 5*time.Second, "task in the archive", func() bool {
			var err error
			archived, err = admin.Archived(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return len(archived) == 1
		})
		a := archived[0]
		if a.Queue != QueueDefault || a.ID != "sync:p1" || a.Type != TypeSync || a.PaymentID != "p1" ||
			a.RefundID != "" || a.Retried != 0 || a.LastFailedAt.IsZero() {
			t.Errorf("archived task = %+v", a)
		}
		if !strings.HasPrefix(a.LastError, reason) || strings.Contains(a.LastError, "skip retry") {
			t.Errorf("LastError = %q, want the reason alone", a.LastError)
		}

		// The reconciler enqueueing it again is absorbed: it stays archived.
		if err := q.EnqueueSync(t.Context(), "p1", ""); err != nil {
			t.Fatalf("EnqueueSync of an archived task: %v", err)
		}
		waitIdle(t, opt)
		if n := core.nCalls("sync:p1"); n != 1 {
			t.Errorf("archived sync ran again (%d runs) without a replay", n)
		}

		// The operator fixes the cause and replays it.
		core.setFail("sync:p1", nil)
		if err := admin.Replay(t.Context(), "", a.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "replayed sync delivered", func() bool { return core.nDelivered("sync:p1") == 1 })
		if archived, err := admin.Archived(t.Context()); err != nil || len(archived) != 0 {
			t.Errorf("after replay Archived = %v, %v; want none", archived, err)
		}
		if err := admin.Replay(t.Context(), QueueDefault, "sync:nope"); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("Replay of a missing task: %v, want ErrTaskNotFound", err)
		}
	})
}

func TestRetriesExhaustedGiveUp(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		cfg.SyncMaxRetry = 2
		core := newFakeCore()
		core.setFail("syncrefund:r1", func(n int) error { return fmt.Errorf("attempt %d: %w", n, errStore503) })
		startWorker(t, opt, core, cfg)
		q := newQueue(t, opt, cfg)
		if err := q.EnqueueSync(t.Context(), "p1", "r1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "SyncGaveUp", func() bool { return len(core.gaveUpCalls()) == 1 })
		if n := core.nCalls("syncrefund:r1"); n != 3 {
			t.Errorf("sync ran %d times, want 3 (1 + SyncMaxRetry 2)", n)
		}
		g := core.gaveUpCalls()[0]
		if g.payment != "p1" || g.refund != "r1" || !strings.Contains(g.reason, "attempt 3: store: HTTP 503") {
			t.Errorf("SyncGaveUp = %+v", g)
		}
		admin := newAdmin(t, opt)
		var archived []ArchivedTask
		waitFor(t, 5*time.Second, "task in the archive", func() bool {
			archived, _ = admin.Archived(t.Context())
			return len(archived) == 1
		})
		if a := archived[0]; a.ID != "sync:p1:r1" || a.PaymentID != "p1" || a.RefundID != "r1" || a.Retried != 2 {
			t.Errorf("archived task = %+v", a)
		}

		// A replay of an exhausted task is one more attempt.
		n, err := admin.ReplayAll(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("ReplayAll = %d, %v; want 1", n, err)
		}
		waitFor(t, 10*time.Second, "second SyncGaveUp", func() bool { return len(core.gaveUpCalls()) == 2 })
		if n := core.nCalls("syncrefund:r1"); n != 4 {
			t.Errorf("after replay sync ran %d times, want 4", n)
		}
	})
}

func TestRetryAfterHonoured(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		core := newFakeCore()
		core.setFail("refund:r1", func(n int) error {
			if n == 1 {
				return fmt.Errorf("gateway: %w", &checkout.RetryAfterError{After: 2 * time.Second, Err: errors.New("HTTP 429")})
			}
			return nil
		})
		startWorker(t, opt, core, cfg)
		q := newQueue(t, opt, cfg)
		if err := q.EnqueueRefund(t.Context(), "r1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "refund retried", func() bool { return core.nDelivered("refund:r1") == 1 })
		ts := core.callTimes("refund:r1")
		// The ladder says 1 ms; Retry-After says 2 s, which whole-second
		// due times make 1–2 s (plus the forwarder's 200 ms).
		if gap := ts[1].Sub(ts[0]); gap < time.Second || gap > 3500*time.Millisecond {
			t.Errorf("retry came %s after a Retry-After of 2s", gap)
		}
	})
}

func TestSchedulerOncePerPeriod(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		cfg.NoScheduler = false
		cfg.ReconcileInterval = time.Second
		// Both triggers read one fake clock, started mid-period: the test
		// steps it from wake-up to wake-up instead of waiting for periods.
		start := time.Now().Truncate(time.Second).Add(300 * time.Millisecond)
		clock := clockwork.NewFakeClockAt(start)
		cfg.Clock = clock
		core := newFakeCore()
		workers := []*Worker{NewWorker(opt, core, cfg), NewWorker(opt, core, cfg)}
		for _, w := range workers {
			if err := w.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Shutdown)
		}
		const steps = 3
		var want []string
		for step := 0; ; step++ {
			want = append(want, reconcileTaskID(periodStart(clock.Now(), cfg.ReconcileInterval)))
			// Both triggers enqueued this period's task and wait for the
			// next period.
			if err := clock.BlockUntilContext(t.Context(), len(workers)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "period "+want[step]+" reconciled", func() bool { return len(core.reconcileIDs()) > step })
			if step == steps {
				break
			}
			clock.Advance(nextWake(clock.Now(), cfg.ReconcileInterval))
		}
		waitIdle(t, opt) // a second reconcile of a period would have run by now
		for _, w := range workers {
			w.Shutdown()
		}
		if ids := core.reconcileIDs(); !slices.Equal(ids, want) {
			t.Errorf("reconciles %v, want one per period: %v", ids, want)
		}
	})
}

func TestShutdownGraceful(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		cfg.ShutdownTimeout = time.Second
		core := newFakeCore()
		release := make(chan struct{})
		shuttingDown := make(chan struct{})
		core.setHook(func(ctx context.Context, key string) {
			switch key {
			case "confirm:quick": // finishes within the shutdown timeout
				select {
				case <-shuttingDown:
				case <-time.After(10 * time.Second):
				}
			case "sync:slow": // outlives it
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
			}
		})
		w := startWorker(t, opt, core, cfg)
		q := newQueue(t, opt, cfg)
		if err := q.EnqueueConfirm(t.Context(), "quick", 0); err != nil {
			t.Fatal(err)
		}
		if err := q.EnqueueSync(t.Context(), "slow", ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "both running", func() bool {
			return core.nCalls("confirm:quick") == 1 && core.nCalls("sync:slow") == 1
		})
		start := time.Now()
		close(shuttingDown)
		w.Shutdown()
		close(release)
		took := time.Since(start)
		if took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("Shutdown took %s with ShutdownTimeout 1s", took)
		}
		if core.nDelivered("confirm:quick") != 1 {
			t.Errorf("the quick task did not finish during shutdown")
		}
		info, err := newAdmin(t, opt).insp.GetTaskInfo(QueueDefault, "sync:slow")
		if err != nil {
			t.Fatal(err)
		}
		if info.State != asynq.TaskStatePending || info.Retried != 0 {
			t.Errorf("the interrupted task is %v with %d retries, want pending with 0", info.State, info.Retried)
		}
		if g := core.gaveUpCalls(); len(g) != 0 {
			t.Errorf("SyncGaveUp on shutdown: %v", g)
		}

		// A new worker picks the interrupted task up.
		core.setHook(nil)
		startWorker(t, opt, core, cfg)
		waitFor(t, 5*time.Second, "interrupted task rerun", func() bool { return core.nCalls("sync:slow") == 2 })
	})
}

// At most one confirm of a payment waits or retries: a second enqueue is
// absorbed while the first is pending, and one made while the first waits
// for a long retry runs that retry at once instead of adding a task (the
// reconciler's passes no longer pile up status calls).
func TestOneConfirmPerPayment(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		cfg.ConfirmRetryDelays = []time.Duration{time.Hour}
		q := newQueue(t, opt, cfg)
		admin := newAdmin(t, opt)
		count := func() (pending, retry int) {
			info, err := admin.insp.GetQueueInfo(QueueCritical)
			if err != nil {
				t.Fatal(err)
			}
			return info.Pending, info.Retry
		}
		for range 3 {
			if err := q.EnqueueConfirm(t.Context(), "p1", 0); err != nil {
				t.Fatal(err)
			}
		}
		if p, r := count(); p != 1 || r != 0 {
			t.Fatalf("%d pending, %d retrying after three enqueues, want 1 and 0", p, r)
		}
		core := newFakeCore()
		core.setFail("confirm:p1", func(n int) error {
			if n == 1 {
				return errors.New("gateway down")
			}
			return nil
		})
		startWorker(t, opt, core, cfg)
		testenv.EventuallyTrue(t, 5*time.Second, "the confirm to wait for its retry", func() bool {
			_, r := count()
			return r == 1 && core.nCalls("confirm:p1") == 1
		})
		// The retry, once the first pass brings it forward, is held until
		// the other passes are in: on a loaded machine it could otherwise
		// finish between two of them, and a pass after it rightly starts
		// a new confirm.
		release := make(chan struct{})
		core.setHook(func(ctx context.Context, key string) {
			if key == "confirm:p1" && core.nCalls(key) == 2 {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		})
		for range 3 { // three reconcile passes while it waits an hour
			if err := q.EnqueueConfirm(t.Context(), "p1", 0); err != nil {
				t.Fatal(err)
			}
		}
		close(release)
		testenv.EventuallyTrue(t, 5*time.Second, "the retry to run at once", func() bool { return core.nDelivered("confirm:p1") == 1 })
		waitIdle(t, opt)
		if n := core.nCalls("confirm:p1"); n != 2 {
			t.Fatalf("%d confirm calls, want 2 (the failed one and its retry, run early)", n)
		}
	})
}

func TestBadTasksArchived(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		cfg := testConfig()
		core := newFakeCore()
		startWorker(t, opt, core, cfg)
		c := asynq.NewClient(opt)
		defer c.Close()
		for _, task := range []*asynq.Task{
			asynq.NewTask("nonsense", nil, asynq.Queue(QueueDefault)),
			asynq.NewTask(TypeConfirm, []byte("not json"), asynq.Queue(QueueCritical)),
			asynq.NewTask(TypeRefund, []byte("{}"), asynq.Queue(QueueDefault)),
		} {
			if _, err := c.Enqueue(task); err != nil {
				t.Fatal(err)
			}
		}
		admin := newAdmin(t, opt)
		waitFor(t, 10*time.Second, "three archived", func() bool {
			a, _ := admin.Archived(t.Context())
			return len(a) == 3
		})
		core.mu.Lock()
		defer core.mu.Unlock()
		if len(core.calls) != 0 {
			t.Errorf("core called for bad tasks: %v", core.calls)
		}
	})
}

// outcomes reads metrics.JobOutcomes{task, outcome}.
func outcomes(t *testing.T, task, outcome string) float64 {
	var m dto.Metric
	if err := metrics.JobOutcomes.WithLabelValues(task, outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestEnqueueDeduplicatesByTaskID(t *testing.T) {
	onBackends(t, func(t *testing.T, opt asynq.RedisConnOpt) {
		q := newQueue(t, opt, testConfig())
		for range 2 {
			for _, err := range []error{
				q.EnqueueSync(t.Context(), "p1", ""),
				q.EnqueueSync(t.Context(), "p1", "r1"),
				q.EnqueueRefund(t.Context(), "r1"),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		admin := newAdmin(t, opt)
		info, err := admin.insp.GetQueueInfo(QueueDefault)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pending != 3 {
			t.Errorf("%d pending tasks, want 3", info.Pending)
		}
		for _, id := range []string{"sync:p1", "sync:p1:r1", "refund:r1"} {
			if _, err := admin.insp.GetTaskInfo(QueueDefault, id); err != nil {
				t.Errorf("task %s: %v", id, err)
			}
		}
	})
}

func TestEnqueueFailsFastWithoutRedis(t *testing.T) {
	t.Parallel()
	e, err := StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	addr := e.Addr()
	e.Close() // nothing listens there now
	cfg := testConfig()
	cfg.EnqueueTimeout = 500 * time.Millisecond
	q := NewQueue(asynq.RedisClientOpt{Addr: addr, DialTimeout: 200 * time.Millisecond}, cfg)
	defer q.Close()
	start := time.Now()
	err = q.EnqueueSync(t.Context(), "p1", "")
	if err == nil || !strings.Contains(err.Error(), `jobs: enqueue store:sync (payment "p1"`) {
		t.Errorf("EnqueueSync with no server: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("EnqueueSync with no server took %s", took)
	}
}
