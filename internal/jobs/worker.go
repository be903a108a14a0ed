package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/metrics"
)

// Core is what the worker needs from the core service. Every method
// re-reads its row and does nothing when nothing is left to do, so a task
// that runs twice is harmless. Errors for which checkout.IsPermanent is
// true are archived at once; a checkout.RetryAfterError delays the retry.
type Core interface {
	// ConfirmPayment asks the gateway for the payment's status and applies
	// it (and enqueues the store sync when the payment became final).
	ConfirmPayment(ctx context.Context, paymentID string) error
	// SyncPayment pushes the payment's final state to its store.
	SyncPayment(ctx context.Context, paymentID string) error
	// SyncRefund pushes the refund's final state to its store.
	SyncRefund(ctx context.Context, refundID string) error
	// ProcessRefund submits the refund to the gateway, or follows it up.
	ProcessRefund(ctx context.Context, refundID string) error
	// SyncGaveUp records that the store sync of the payment (or of the
	// refund, when refundID is set) will not be retried any more: the sync
	// state becomes sync_failed, with reason. The task stays in the archive,
	// from where it can be replayed.
	SyncGaveUp(ctx context.Context, paymentID, refundID, reason string) error
	// Reconcile re-checks open payments, expires old ones and re-enqueues
	// stuck work.
	Reconcile(ctx context.Context) error
}

// gaveUpTimeout bounds Core.SyncGaveUp, which runs even when the task's own
// context has ended.
const gaveUpTimeout = 30 * time.Second

// Worker runs tasks: an asynq server over the queues of this package, and
// (unless Config.NoScheduler) the reconciler trigger.
//
// The reconciler trigger is a plain loop, not an asynq.Scheduler: asynq's
// scheduler has no leader election, so N processes running one would
// enqueue N reconciles per period. Instead every period's task gets the id
// "reconcile:<unix start of the period>" and is kept for two periods after
// it completes (asynq.Retention), so whichever scheduler comes first
// enqueues it and the others get ErrTaskIDConflict, which is absorbed. Any
// number of worker processes may therefore run the loop, and the
// reconciler still runs once per period while at least one of them lives.
type Worker struct {
	cfg   Config
	core  Core
	log   *slog.Logger
	srv   *asynq.Server
	queue *Queue // the scheduler's client

	mu       sync.Mutex
	cancel   context.CancelFunc // stops the scheduler loop
	done     chan struct{}      // closed when the scheduler loop returns
	shutdown sync.Once
}

// NewWorker returns a Worker that takes tasks from the Redis server opt
// names and runs them through core. Call Start, then Shutdown.
func NewWorker(opt asynq.RedisConnOpt, core Core, cfg Config) *Worker {
	cfg = cfg.withDefaults()
	w := &Worker{cfg: cfg, core: core, log: cfg.Logger}
	w.srv = asynq.NewServer(opt, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   queueWeights,
		RetryDelayFunc:           cfg.retryDelay,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		Logger:                   asynqLogger{cfg.Logger.With("component", "asynq")},
	})
	if !cfg.NoScheduler {
		w.queue = NewQueue(opt, cfg)
	}
	return w
}

// Start starts processing tasks and, unless Config.NoScheduler, the
// reconciler trigger, and returns at once. The trigger stops when ctx ends
// or at Shutdown; task processing stops only at Shutdown.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.srv.Start(asynq.HandlerFunc(w.process)); err != nil {
		return fmt.Errorf("jobs: start worker: %w", err)
	}
	if w.queue != nil {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		w.mu.Lock()
		w.cancel, w.done = cancel, done
		w.mu.Unlock()
		go func() {
			defer close(done)
			w.schedule(ctx)
		}()
	}
	return nil
}

// Shutdown stops the reconciler trigger, stops taking tasks, and waits up
// to Config.ShutdownTimeout for running ones; those still running then are
// put back in their queue, not counted as failures. It is safe to call
// more than once.
func (w *Worker) Shutdown() {
	w.shutdown.Do(func() {
		w.mu.Lock()
		cancel, done := w.cancel, w.done
		w.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		w.srv.Shutdown()
		if w.queue != nil {
			if err := w.queue.Close(); err != nil {
				w.log.Warn("jobs: close scheduler client", "err", err)
			}
		}
	})
}

// schedule enqueues the current period's reconcile task at once, then each
// next one just after its period starts, until ctx ends.
func (w *Worker) schedule(ctx context.Context) {
	interval := w.cfg.ReconcileInterval
	for {
		now := w.cfg.Clock.Now()
		if err := w.queue.EnqueueReconcile(ctx, now); err != nil && ctx.Err() == nil {
			w.log.Warn("jobs: enqueue reconcile", "err", err)
		}
		t := w.cfg.Clock.NewTimer(nextWake(now, interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// wakeSlack is how long after a period's boundary the reconciler trigger
// wakes, so that a clock read at the wake-up is surely in the new period.
const wakeSlack = 50 * time.Millisecond

// nextWake is how long the reconciler trigger sleeps at now: until just
// after the start of the next period of length interval.
func nextWake(now time.Time, interval time.Duration) time.Duration {
	return periodStart(now, interval).Add(interval).Sub(now) + wakeSlack
}

// retryDelay is the asynq.RetryDelayFunc: the task type's ladder at step n,
// or a checkout.RetryAfterError's After when that is longer.
func (c *Config) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var d time.Duration
	switch t.Type() {
	case TypeConfirm:
		d = ladderDelay(c.ConfirmRetryDelays, n)
	case TypeSync:
		d = ladderDelay(c.SyncRetryDelays, n)
	case TypeRefund:
		d = ladderDelay(c.RefundRetryDelays, n)
	default: // reconcile is never retried; the next period is its retry
		d = c.ReconcileInterval
	}
	if ra, ok := errors.AsType[*checkout.RetryAfterError](err); ok && ra.After > d {
		d = ra.After
	}
	return d
}

// errBadTask marks a task this worker cannot run at all.
var errBadTask = errors.New("bad task")

// process is the asynq handler of every task type.
func (w *Worker) process(ctx context.Context, t *asynq.Task) error {
	p, err := decodePayload(t.Payload())
	if err != nil {
		err = fmt.Errorf("%w: %w", errBadTask, err)
	} else {
		err = w.run(ctx, t.Type(), p)
	}
	return w.finish(ctx, t, p, err)
}

func (w *Worker) run(ctx context.Context, typ string, p Payload) error {
	switch typ {
	case TypeConfirm:
		if p.PaymentID == "" {
			return fmt.Errorf("%w: %s without payment_id", errBadTask, typ)
		}
		return w.core.ConfirmPayment(ctx, p.PaymentID)
	case TypeSync:
		switch {
		case p.RefundID != "":
			return w.core.SyncRefund(ctx, p.RefundID)
		case p.PaymentID != "":
			return w.core.SyncPayment(ctx, p.PaymentID)
		}
		return fmt.Errorf("%w: %s without payment_id", errBadTask, typ)
	case TypeRefund:
		if p.RefundID == "" {
			return fmt.Errorf("%w: %s without refund_id", errBadTask, typ)
		}
		return w.core.ProcessRefund(ctx, p.RefundID)
	case TypeReconcile:
		return w.core.Reconcile(ctx)
	}
	return fmt.Errorf("%w: unknown task type %q", errBadTask, typ)
}

// finish logs and counts the outcome of a run and turns err into what
// asynq should do with the task.
func (w *Worker) finish(ctx context.Context, t *asynq.Task, p Payload, err error) error {
	typ := t.Type()
	id, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	attrs := []any{"task", typ, "id", id, "attempt", retried + 1, "max_retry", maxRetry}
	if p.PaymentID != "" {
		attrs = append(attrs, "payment_id", p.PaymentID)
	}
	if p.RefundID != "" {
		attrs = append(attrs, "refund_id", p.RefundID)
	}
	if err == nil {
		metrics.JobOutcomes.WithLabelValues(typ, "ok").Inc()
		w.log.Debug("jobs: task done", attrs...)
		return nil
	}
	attrs = append(attrs, "err", err)

	if typ == TypeReconcile {
		// Neither retried nor archived: the next period runs it again.
		metrics.JobOutcomes.WithLabelValues(typ, "retry").Inc()
		w.log.Warn("jobs: reconcile failed", attrs...)
		return fmt.Errorf("%w: %w", err, asynq.RevokeTask)
	}

	permanent := checkout.IsPermanent(err) || errors.Is(err, errBadTask)
	// A task whose context was cancelled (Shutdown) goes back to its queue.
	cancelled := errors.Is(ctx.Err(), context.Canceled)
	if !permanent && (cancelled || retried < maxRetry) {
		metrics.JobOutcomes.WithLabelValues(typ, "retry").Inc()
		w.log.Warn("jobs: task failed, will retry", attrs...)
		return err
	}

	metrics.JobOutcomes.WithLabelValues(typ, "archived").Inc()
	w.log.Error("jobs: task failed for good, archived", append(attrs, "permanent", permanent)...)
	if typ == TypeSync && p.PaymentID != "" {
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gaveUpTimeout)
		gerr := w.core.SyncGaveUp(gctx, p.PaymentID, p.RefundID, err.Error())
		cancel()
		if gerr != nil {
			w.log.Error("jobs: record sync gave up", append(attrs, "gave_up_err", gerr)...)
		}
	}
	if permanent {
		return skipRetry{err}
	}
	return err
}

// skipRetry archives err at once (errors.Is(e, asynq.SkipRetry)) while
// keeping err's message alone as the archived task's LastErr.
type skipRetry struct{ err error }

func (e skipRetry) Error() string   { return e.err.Error() }
func (e skipRetry) Unwrap() []error { return []error{e.err, asynq.SkipRetry} }

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...))
	os.Exit(1)
}
