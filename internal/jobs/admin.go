package jobs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// Admin lists and replays archived tasks: those that failed permanently or
// ran out of retries. It backs `bridge jobs archived`, `bridge jobs replay`
// and the admin page.
type Admin struct {
	insp *asynq.Inspector
}

// NewAdmin returns an Admin over the Redis server opt names. Close it when
// done.
func NewAdmin(opt asynq.RedisConnOpt) *Admin {
	return &Admin{insp: asynq.NewInspector(opt)}
}

// Close closes the Redis connection.
func (a *Admin) Close() error {
	if err := a.insp.Close(); err != nil {
		return fmt.Errorf("jobs: close admin: %w", err)
	}
	return nil
}

// ArchivedTask is one archived task.
type ArchivedTask struct {
	// Queue and ID name the task for Replay.
	Queue string
	ID    string
	// Type is the task type (TypeSync …).
	Type string
	// PaymentID and RefundID come from the payload; either may be empty.
	PaymentID string
	RefundID  string
	// LastError is the error of the last run: for a permanent failure, the
	// reason the core gave.
	LastError    string
	LastFailedAt time.Time
	// Retried is how many times the task was retried before it was
	// archived.
	Retried int
}

// queues lists the queues of this package that exist on the server (a
// queue exists once something was enqueued on it). asynq reports a missing
// queue differently per call, not always as asynq.ErrQueueNotFound.
func (a *Admin) queues() ([]string, error) {
	all, err := a.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("jobs: list queues: %w", err)
	}
	var out []string
	for _, q := range Queues {
		if slices.Contains(all, q) {
			out = append(out, q)
		}
	}
	return out, nil
}

// archivedPage is how many tasks Archived reads per call to Redis.
const archivedPage = 500

// Archived lists the archived tasks of every queue of this package, each
// queue's most recent failures first.
func (a *Admin) Archived(ctx context.Context) ([]ArchivedTask, error) {
	queues, err := a.queues()
	if err != nil {
		return nil, err
	}
	var out []ArchivedTask
	for _, q := range queues {
		for page := 1; ; page++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("jobs: list archived: %w", err)
			}
			infos, err := a.insp.ListArchivedTasks(q, asynq.PageSize(archivedPage), asynq.Page(page))
			if err != nil {
				return nil, fmt.Errorf("jobs: list archived tasks of queue %s: %w", q, err)
			}
			for _, ti := range infos {
				p, _ := decodePayload(ti.Payload) // a bad payload still lists
				out = append(out, ArchivedTask{
					Queue: ti.Queue, ID: ti.ID, Type: ti.Type,
					PaymentID: p.PaymentID, RefundID: p.RefundID,
					LastError: ti.LastErr, LastFailedAt: ti.LastFailedAt, Retried: ti.Retried,
				})
			}
			if len(infos) < archivedPage {
				break
			}
		}
	}
	return out, nil
}

// Replay moves one archived task back to its queue, to run again soon. The
// task keeps its retry count (asynq's RunTask): one archived for a permanent
// error gets the rest of its ladder, one that ran out of retries gets a
// single attempt and is archived again if that fails. With queue "" every
// queue of this package is searched for id. Replaying a store sync the core
// marked sync_failed is how an operator retries it after fixing the cause;
// the core must accept sync_failed → synced.
func (a *Admin) Replay(ctx context.Context, queue, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jobs: replay %s: %w", id, err)
	}
	if queue == "" {
		queues, err := a.queues()
		if err != nil {
			return err
		}
		for _, q := range queues {
			if _, err := a.insp.GetTaskInfo(q, id); err == nil {
				queue = q
				break
			}
		}
		if queue == "" {
			return fmt.Errorf("jobs: replay %s: %w", id, asynq.ErrTaskNotFound)
		}
	}
	if err := a.insp.RunTask(queue, id); err != nil {
		return fmt.Errorf("jobs: replay %s in queue %s: %w", id, queue, err)
	}
	return nil
}

// ReplayAll moves every archived task of every queue of this package back
// to its queue, as Replay does, and says how many it moved.
func (a *Admin) ReplayAll(ctx context.Context) (int, error) {
	queues, err := a.queues()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, q := range queues {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("jobs: replay all: %w", err)
		}
		n, err := a.insp.RunAllArchivedTasks(q)
		total += n
		if err != nil {
			return total, fmt.Errorf("jobs: replay archived tasks of queue %s: %w", q, err)
		}
	}
	return total, nil
}

// Discard deletes one archived task for good: it will not run again. It
// changes no payment (one whose store sync was given up stays
// sync_failed). Only archived tasks are deleted; any other id is an error.
func (a *Admin) Discard(ctx context.Context, queue, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jobs: discard %s: %w", id, err)
	}
	ti, err := a.insp.GetTaskInfo(queue, id)
	if err != nil {
		return fmt.Errorf("jobs: discard %s in queue %s: %w", id, queue, err)
	}
	if ti.State != asynq.TaskStateArchived {
		return fmt.Errorf("jobs: discard %s in queue %s: the task is %s, not archived", id, queue, ti.State)
	}
	if err := a.insp.DeleteTask(queue, id); err != nil {
		return fmt.Errorf("jobs: discard %s in queue %s: %w", id, queue, err)
	}
	return nil
}
