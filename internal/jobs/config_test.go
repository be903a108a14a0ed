package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
)

func TestParseDelays(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, tc := range []struct {
		in      string
		want    []time.Duration
		wantErr string
	}{
		{in: "5s,10s,1m", want: []time.Duration{5 * s, 10 * s, time.Minute}},
		{in: " 5s , 1h30m ", want: []time.Duration{5 * s, 90 * time.Minute}},
		{in: "250ms", want: []time.Duration{250 * time.Millisecond}},
		{in: "", wantErr: "empty list"},
		{in: "  ", wantErr: "empty list"},
		{in: "5s,,10s", wantErr: "item 2 is empty"},
		{in: "5s,", wantErr: "item 2 is empty"},
		{in: "5s,ten", wantErr: `item 2 "ten"`},
		{in: "5", wantErr: `item 1 "5"`},
		{in: "0s", wantErr: "must be positive"},
		{in: "5s,-1m", wantErr: `item 2 "-1m": must be positive`},
	} {
		got, err := ParseDelays(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseDelays(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseDelays(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	confirm := asynq.NewTask(TypeConfirm, nil)
	sync := asynq.NewTask(TypeSync, nil)
	refund := asynq.NewTask(TypeRefund, nil)
	plain := errors.New("HTTP 502")
	after := func(d time.Duration) error {
		return fmt.Errorf("sync: %w", &checkout.RetryAfterError{After: d, Err: plain})
	}
	for _, tc := range []struct {
		n    int
		err  error
		task *asynq.Task
		want time.Duration
	}{
		{0, plain, confirm, 5 * time.Second},
		{5, plain, confirm, 5 * time.Minute},
		{7, plain, confirm, 5 * time.Minute}, // beyond the ladder: its last step
		{0, plain, sync, 5 * time.Second},
		{6, plain, sync, 12 * time.Minute},
		{7, plain, sync, 38 * time.Minute},
		{8, plain, sync, time.Hour},
		{23, plain, sync, time.Hour},
		{3, plain, refund, time.Minute},
		{0, after(90 * time.Second), sync, 90 * time.Second}, // Retry-After longer: it wins
		{6, after(90 * time.Second), sync, 12 * time.Minute}, // ladder longer: it wins
		{0, after(time.Minute), confirm, time.Minute},
	} {
		if got := cfg.retryDelay(tc.n, tc.err, tc.task); got != tc.want {
			t.Errorf("retryDelay(%d, %v, %s) = %s, want %s", tc.n, tc.err, tc.task.Type(), got, tc.want)
		}
	}

	// The whole default sync ladder spans most of a day.
	var total time.Duration
	for n := range cfg.SyncMaxRetry {
		total += cfg.retryDelay(n, plain, sync)
	}
	if total < 16*time.Hour || total > 24*time.Hour {
		t.Errorf("default sync ladder spans %s", total)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.Concurrency != 10 || c.SyncMaxRetry != 31 || c.RefundMaxRetry != 31 || c.ConfirmMaxRetry != 8 ||
		c.ReconcileInterval != time.Minute || c.ShutdownTimeout != 10*time.Second ||
		c.DelayedTaskCheckInterval != time.Second || c.TaskCheckInterval != 20*time.Millisecond || c.ConfirmUniqueFor != 10*time.Second ||
		c.Logger == nil || c.Clock == nil || c.NoScheduler {
		t.Errorf("defaults = %+v", c)
	}
	if c := (Config{ReconcileInterval: 300 * time.Millisecond}).withDefaults(); c.ReconcileInterval != time.Second {
		t.Errorf("ReconcileInterval 300ms became %s, want 1s", c.ReconcileInterval)
	}
}

func TestPeriodStart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 20, 15, 42, 500, time.UTC)
	if got, want := periodStart(at, time.Minute), time.Date(2026, 11, 21, 20, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("periodStart = %s, want %s", got, want)
	}
	if got := reconcileTaskID(periodStart(at, time.Minute)); got != "reconcile:1795292100" {
		t.Errorf("reconcileTaskID = %s", got)
	}
	if got := periodStart(at, time.Second); !got.Equal(at.Truncate(time.Second)) {
		t.Errorf("periodStart 1s = %s", got)
	}
}

func TestTaskIDs(t *testing.T) {
	t.Parallel()
	if got := syncTaskID("p1", ""); got != "sync:p1" {
		t.Errorf("syncTaskID = %s", got)
	}
	if got := syncTaskID("p1", "r1"); got != "sync:p1:r1" {
		t.Errorf("syncTaskID = %s", got)
	}
	if got := refundTaskID("r1"); got != "refund:r1" {
		t.Errorf("refundTaskID = %s", got)
	}
}
