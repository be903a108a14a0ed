package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
)

// recorder is a testing.TB whose Fatalf records the failure instead of
// ending the test, so the waits' failure paths can be checked.
type recorder struct {
	testing.TB
	failure string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failure = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var r recorder
	Eventually(&r, time.Minute, "nothing", func() error { return nil })
	if r.failure != "" || time.Since(start) > time.Second {
		t.Errorf("a condition already true: failure %q after %s", r.failure, time.Since(start))
	}

	calls := 0
	EventuallyTrue(&r, time.Minute, "the third call", func() bool { calls++; return calls == 3 })
	if r.failure != "" || calls != 3 {
		t.Errorf("polled %d times, failure %q; want 3 and none", calls, r.failure)
	}

	start = time.Now()
	Eventually(&r, 50*time.Millisecond, "the impossible", func() error { return errors.New("last reason") })
	if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("a condition never true gave up after %s, want about 50ms", took)
	}
	if !strings.Contains(r.failure, "the impossible") || !strings.Contains(r.failure, "last reason") {
		t.Errorf("failure %q names neither what nor the last error", r.failure)
	}
}

func TestQueueIdle(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: mr.Addr()}
	c := asynq.NewClient(opt)
	defer c.Close()
	insp := asynq.NewInspector(opt)
	defer insp.Close()

	var r recorder
	QueueIdle(&r, opt, []string{"q"}, time.Second, nil) // a queue that does not exist is idle
	if r.failure != "" {
		t.Fatalf("no queue: %s", r.failure)
	}
	for _, o := range []asynq.Option{asynq.TaskID("now"), asynq.TaskID("later")} {
		opts := []asynq.Option{asynq.Queue("q"), o}
		if o == asynq.TaskID("later") {
			opts = append(opts, asynq.ProcessIn(time.Hour))
		}
		if _, err := c.Enqueue(asynq.NewTask("t", nil), opts...); err != nil {
			t.Fatal(err)
		}
	}
	QueueIdle(&r, opt, []string{"q"}, 50*time.Millisecond, nil)
	if !strings.Contains(r.failure, "q/pending/now") || !strings.Contains(r.failure, "q/scheduled/later") {
		t.Errorf("with a pending and a scheduled task: failure %q", r.failure)
	}
	r.failure = ""
	soon := func(ti *asynq.TaskInfo) bool { return DueWithin(ti, time.Minute) }
	if err := insp.DeleteTask("q", "now"); err != nil {
		t.Fatal(err)
	}
	QueueIdle(&r, opt, []string{"q"}, time.Second, soon) // the scheduled one is due in an hour
	if r.failure != "" {
		t.Errorf("only a task due in an hour left: %s", r.failure)
	}
}
