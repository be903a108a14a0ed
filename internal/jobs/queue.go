package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
)

// Queue enqueues work; it implements checkout.Queue. Enqueues are
// idempotent: a duplicate of a task already waiting is absorbed and
// reported as success. It is safe for concurrent use.
type Queue struct {
	client *asynq.Client
	insp   *asynq.Inspector
	cfg    Config
}

var _ checkout.Queue = (*Queue)(nil)

// NewQueue returns a Queue over the Redis server opt names. It does not
// connect until the first enqueue. Close it when done.
func NewQueue(opt asynq.RedisConnOpt, cfg Config) *Queue {
	return &Queue{client: asynq.NewClient(opt), insp: asynq.NewInspector(opt), cfg: cfg.withDefaults()}
}

// Close closes the Redis connection.
func (q *Queue) Close() error {
	err := errors.Join(q.client.Close(), q.insp.Close())
	if err != nil {
		return fmt.Errorf("jobs: close queue: %w", err)
	}
	return nil
}

// EnqueueConfirm asks for a gateway status check of the payment after delay
// (at once when delay <= 0; asynq rounds due times to whole seconds).
//
// At most one immediate confirm of a payment exists at a time, whether
// waiting, running or retrying (task id "confirm:<payment>"): another is
// absorbed, and one that waits for a retry is run at once instead, so that
// the reconciler's passes and repeated notifications never pile up status
// calls while a confirm retries. A delayed confirm due in the same
// Config.ConfirmUniqueFor window as another delayed one is one (task id
// "confirm:<payment>:<unix start of the window>"); a delayed confirm never
// absorbs an immediate one.
func (q *Queue) EnqueueConfirm(ctx context.Context, paymentID string, delay time.Duration) error {
	t := newConfirmTask(paymentID, &q.cfg)
	if delay <= 0 {
		id := "confirm:" + paymentID
		ctx, cancel := context.WithTimeout(ctx, q.cfg.EnqueueTimeout)
		defer cancel()
		_, err := q.client.EnqueueContext(ctx, t, asynq.TaskID(id))
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			// Waiting for a retry (or archived): run it now. A pending or
			// running one cannot be run and needs nothing.
			_ = q.insp.RunTask(QueueCritical, id)
			return nil
		}
		if err != nil {
			return fmt.Errorf("jobs: enqueue %s (payment %q): %w", TypeConfirm, paymentID, err)
		}
		return nil
	}
	due := time.Now().Add(delay)
	id := "confirm:" + paymentID + ":" + strconv.FormatInt(periodStart(due, q.cfg.ConfirmUniqueFor).Unix(), 10)
	return q.enqueue(ctx, t, asynq.ProcessAt(due), asynq.TaskID(id))
}

// EnqueueSync asks for the payment's final state, or the refund's when
// refundID is set, to be pushed to the store. The task id is
// "sync:<payment>[:<refund>]": while such a task is waiting, retrying or
// archived, a new one is absorbed (an archived one is replayed through
// Admin, not duplicated).
func (q *Queue) EnqueueSync(ctx context.Context, paymentID, refundID string) error {
	return q.enqueue(ctx, newSyncTask(paymentID, refundID, &q.cfg))
}

// EnqueueRefund asks for the refund to be processed at the gateway. The
// task id is "refund:<id>", with the same duplicate rule as EnqueueSync.
func (q *Queue) EnqueueRefund(ctx context.Context, refundID string) error {
	return q.enqueue(ctx, newRefundTask(refundID, &q.cfg))
}

// EnqueueReconcile enqueues the reconcile task of the period that contains
// now (Config.ReconcileInterval long, aligned on the Unix epoch). However
// many processes call it, the period's task is enqueued once.
func (q *Queue) EnqueueReconcile(ctx context.Context, now time.Time) error {
	return q.enqueue(ctx, newReconcileTask(periodStart(now, q.cfg.ReconcileInterval), &q.cfg))
}

// periodStart is the start of the period of length d (whole seconds)
// that contains t.
func periodStart(t time.Time, d time.Duration) time.Time {
	secs := int64(d / time.Second)
	u := t.Unix()
	return time.Unix(u-u%secs, 0)
}

func (q *Queue) enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.EnqueueTimeout)
	defer cancel()
	_, err := q.client.EnqueueContext(ctx, t, opts...)
	switch {
	case err == nil, errors.Is(err, asynq.ErrDuplicateTask), errors.Is(err, asynq.ErrTaskIDConflict):
		return nil
	default:
		p, _ := decodePayload(t.Payload())
		return fmt.Errorf("jobs: enqueue %s (payment %q refund %q): %w", t.Type(), p.PaymentID, p.RefundID, err)
	}
}
