package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSmoke runs the whole tool on both stacks with a few requests per
// figure and checks that it prints a complete table. It asserts no timing:
// the figures are whatever this machine measured.
func TestSmoke(t *testing.T) {
	t.Parallel()
	args := []string{"-stack", "both", "-reps", "1", "-duration", "200ms", "-clients", "2", "-slow-clients", "2",
		"-slow-latency", "5ms", "-steady-rate", "10", "-notify-clients", "2", "-notify-payments", "4",
		"-p3-rate", "5", "-p3-duration", "400ms", "-p3-drain", "8s", "-p4-timeout", "1s",
		"-p5-checkouts", "5", "-p5-latency", "100ms", "-p6-payments", "500", "-p6-scrapes", "1", "-timeout", "2m"}
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errb.String())
	}
	report := out.String()
	t.Logf("report:\n%s", report)
	if !strings.Contains(report, "| figure | SQLite + embedded | PostgreSQL + Redis | target |") {
		t.Fatalf("no table header")
	}
	var rows []string
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "| P") {
			rows = append(rows, l)
		}
	}
	for i, want := range []string{"P1", "P1", "P1", "P2", "P3", "P4", "P5", "P6"} {
		if i >= len(rows) {
			t.Fatalf("%d figure rows, want 8", len(rows))
		}
		cells := strings.Split(strings.Trim(rows[i], "|"), " | ")
		if !strings.HasPrefix(strings.TrimSpace(cells[0]), want) || len(cells) != 4 {
			t.Errorf("row %d: %q, want a %s row of 4 cells", i+1, rows[i], want)
			continue
		}
		for j, c := range cells {
			if c = strings.TrimSpace(c); c == "" || c == "not run" {
				t.Errorf("row %d cell %d is %q", i+1, j+1, c)
			}
		}
	}
	if !strings.Contains(report, "Machine: ") || !strings.Contains(report, "cores") {
		t.Errorf("no machine line")
	}
	// The figures measured something on each stack.
	if strings.Contains(report, "0.00 (0 / ") {
		t.Errorf("a P1 throughput is zero")
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-stack", "mysql"}, `-stack "mysql": want sqlite, postgres or both`},
		{[]string{"-slow-clients", "8,x"}, "-slow-clients"},
		{[]string{"-reps", "0"}, "-reps must be at least 1"},
		{[]string{"-duration", "0s"}, "-duration must be positive"},
		{[]string{"-p6-payments", "-1"}, "-p6-payments must not be negative"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-figures", "P1,P7"}, `-figures: unknown figure "P7"`},
	}
	for _, tc := range tests {
		var errb bytes.Buffer
		_, err := parseFlags(tc.args, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	var errb bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &errb); err == nil {
		t.Errorf("-h: no error")
	}
	for _, flag := range []string{"-stack", "-bridge", "-reps", "-duration", "-clients", "-slow-latency", "-slow-clients",
		"-steady-rate", "-notify-clients", "-notify-payments", "-p3-rate", "-p3-duration", "-p3-drain", "-p4-timeout",
		"-p5-checkouts", "-p5-latency", "-p6-payments", "-p6-scrapes", "-figures", "-scaleout", "-notify-limit", "-max-requests", "-timeout", "-v"} {
		if !strings.Contains(errb.String(), "  "+flag+" ") && !strings.Contains(errb.String(), "  "+flag+"\t") && !strings.Contains(errb.String(), "  "+flag+"\n") {
			t.Errorf("-h does not document %s", flag)
		}
	}
}
