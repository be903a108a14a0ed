package testenv

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// Poll intervals of Eventually: the first check is immediate, then the
// interval grows from pollMin to pollMax, so a condition that is already
// true costs nothing and a slow one does not spin the two shared cores.
const (
	pollMin = 5 * time.Millisecond
	pollMax = 100 * time.Millisecond
)

// Eventually waits until cond returns nil and returns at once when it does.
// If within passes first it fails the test (t.Fatalf) with what and cond's
// last error. It is the one way tests here wait for something to happen:
// an event row, a callback at the merchant, a task in the archive.
//
// It is written here rather than taken from a library because the
// project's tests use only the standard testing package (no testify), and
// because the failure message wants cond's last error, which
// assert.Eventually does not give.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(within, cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s: %v", within, what, err)
	}
}

// EventuallyTrue is Eventually for a condition without an error to tell.
func EventuallyTrue(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// errNotYet is the last error of an EventuallyTrue condition that never
// held.
const errNotYet = constError("condition still false")

// poll runs cond until it returns nil or within passes, returning cond's
// last error in the second case.
func poll(within time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	interval := pollMin
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(min(interval, max(time.Until(deadline), time.Millisecond)))
		interval = min(interval*3/2, pollMax)
	}
}

// QueueIdle waits until none of the asynq queues holds a pending, active,
// scheduled or retry task for which match is true (every task when match
// is nil), and fails the test if that takes longer than within. Queues that
// do not exist yet count as empty.
//
// Tests that assert that nothing (more) happens call it first: once no
// task that could act is left, what happened is all that will happen, so
// the assertion needs no sleep "to see". Completed and archived tasks do
// not count; a task being retried does.
func QueueIdle(t testing.TB, opt asynq.RedisConnOpt, queues []string, within time.Duration, match func(*asynq.TaskInfo) bool) {
	t.Helper()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	Eventually(t, within, "the job queues to go idle", func() error {
		busy, err := busyTasks(insp, queues, match)
		if err != nil {
			return err
		}
		if len(busy) > 0 {
			return fmt.Errorf("still queued: %v", busy)
		}
		return nil
	})
}

// DueWithin reports whether a task QueueIdle lists is pending or running,
// or is scheduled or waiting for a retry due within d from now. Matchers
// use it to leave out a task that already ran and waits out a long retry
// delay (a confirm the gateway answered "not yet"): it can only repeat
// what it did, and not before d.
func DueWithin(ti *asynq.TaskInfo, d time.Duration) bool {
	switch ti.State {
	case asynq.TaskStateScheduled, asynq.TaskStateRetry:
		return ti.NextProcessAt.Before(time.Now().Add(d))
	}
	return true
}

// Completed waits until queue holds a completed task for which match is
// true, and fails the test, naming what, if none does within. It is the
// positive signal that a periodic task (the reconciler) had its turn after
// some moment: match its task id or completion time. Only tasks kept after
// they complete (asynq.Retention) can be seen.
func Completed(t testing.TB, opt asynq.RedisConnOpt, queue string, within time.Duration, what string, match func(*asynq.TaskInfo) bool) {
	t.Helper()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	Eventually(t, within, what, func() error {
		all, err := insp.Queues()
		if err != nil || !slices.Contains(all, queue) {
			return errNotYet
		}
		for page := 1; ; page++ {
			infos, err := insp.ListCompletedTasks(queue, asynq.PageSize(listPage), asynq.Page(page))
			if err != nil {
				return err
			}
			for _, ti := range infos {
				if match(ti) {
					return nil
				}
			}
			if len(infos) < listPage {
				return errNotYet
			}
		}
	})
}

// PeriodRanAfter waits until a periodic task whose id is idPrefix followed
// by the unix second its period started (the reconciler's
// "reconcile:<unix>") completed for a period that started after at, and
// fails the test if none did within. Such a task began after at, so
// whatever it acts on, it saw as it was at at or later.
func PeriodRanAfter(t testing.TB, opt asynq.RedisConnOpt, queue, idPrefix string, at time.Time, within time.Duration) {
	t.Helper()
	after := at.Unix() + 1 // the first whole second after at
	Completed(t, opt, queue, within, "a "+idPrefix+" period after "+at.Format(time.StampMilli), func(ti *asynq.TaskInfo) bool {
		start, ok := strings.CutPrefix(ti.ID, idPrefix)
		sec, err := strconv.ParseInt(start, 10, 64)
		return ok && err == nil && sec >= after
	})
}

// listPage is how many tasks one Inspector call lists.
const listPage = 100

// busyTasks lists, as "queue/state/id", the tasks of queues that are
// pending, active, scheduled or waiting for a retry and match.
func busyTasks(insp *asynq.Inspector, queues []string, match func(*asynq.TaskInfo) bool) ([]string, error) {
	all, err := insp.Queues()
	if err != nil {
		return nil, err
	}
	lists := []struct {
		state string
		list  func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	}{
		{"pending", insp.ListPendingTasks},
		{"active", insp.ListActiveTasks},
		{"scheduled", insp.ListScheduledTasks},
		{"retry", insp.ListRetryTasks},
	}
	var busy []string
	for _, q := range queues {
		if !slices.Contains(all, q) {
			continue
		}
		for _, l := range lists {
			for page := 1; ; page++ {
				infos, err := l.list(q, asynq.PageSize(listPage), asynq.Page(page))
				if err != nil {
					return nil, fmt.Errorf("list %s tasks of queue %s: %w", l.state, q, err)
				}
				for _, ti := range infos {
					if match == nil || match(ti) {
						busy = append(busy, q+"/"+l.state+"/"+ti.ID)
					}
				}
				if len(infos) < listPage {
					break
				}
			}
		}
	}
	return busy, nil
}
