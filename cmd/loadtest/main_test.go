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
		"-p3-rate", "5", "-p3-duration", "400ms", "-p3-drain", "8s", "-p3-settle", "0s", "-p4-timeout", "1s",
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
			// The floor was measured beside the two closed-loop P1 rows.
			if (i == 0 || i == 1) && (j == 1 || j == 2) && !strings.Contains(c, " req/s; floor ") {
				t.Errorf("row %d cell %d has no floor: %q", i+1, j+1, c)
			}
		}
	}
	if !strings.Contains(report, "\n"+floorLine+"\n") {
		t.Errorf("no line saying what the floor is")
	}
	if strings.Contains(report, "P1 floor") {
		t.Errorf("the floor's requests failed (see the notes)")
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

// TestP1Cells checks how P1's cells render the bridge, the baseline and
// the floor, and the line under the table that says what the floor is.
func TestP1Cells(t *testing.T) {
	t.Parallel()
	c, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		fast     pair
		slow     []pair
		wantFast string
		wantSlow string
	}{
		{"with floor", pair{802, 6634, 3001.6}, []pair{{259, 369, 350}, {874, 1419, 1270}, {981, 4105, 2460}},
			"0.12 (802 / 6,634 req/s; floor 0.45: 3,002 req/s)",
			"0.70 / 0.62 / 0.24 (259/369, 874/1,419, 981/4,105 req/s; floor 0.95 / 0.89 / 0.60: 350, 1,270, 2,460 req/s)"},
		{"no floor", pair{802, 6634, 0}, []pair{{259, 369, 0}, {874, 1419, 0}},
			"0.12 (802 / 6,634 req/s)",
			"0.70 / 0.62 (259/369, 874/1,419 req/s)"},
		{"floor missing at one concurrency", pair{802, 6634, 3000}, []pair{{259, 369, 350}, {874, 1419, 0}},
			"0.12 (802 / 6,634 req/s; floor 0.45: 3,000 req/s)",
			"0.70 / 0.62 (259/369, 874/1,419 req/s)"},
	}
	for _, tc := range tests {
		res := &results{measured: true, p1Fast: tc.fast, p1Slow: tc.slow}
		cells := res.cells(c, "sqlite")
		if cells[0] != tc.wantFast {
			t.Errorf("%s: fast cell %q, want %q", tc.name, cells[0], tc.wantFast)
		}
		if cells[1] != tc.wantSlow {
			t.Errorf("%s: slow cell %q, want %q", tc.name, cells[1], tc.wantSlow)
		}
	}

	for _, tc := range []struct {
		p99  pair
		want string
	}{
		{pair{10.8, 1.1, 4.6}, "+9.7 ms (p99 10.8 vs 1.1 ms; floor +3.5 ms)"},
		{pair{10.8, 1.1, 0}, "+9.7 ms (p99 10.8 vs 1.1 ms)"},
	} {
		res := &results{measured: true, p1P99: tc.p99}
		if got := res.cells(c, "sqlite")[2]; got != tc.want {
			t.Errorf("p99 cell %q, want %q", got, tc.want)
		}
	}

	res := &results{measured: true, p1Fast: pair{802, 6634, 3000}}
	for _, figs := range []string{"P1,P2", "P2"} {
		c, err := parseFlags([]string{"-figures", figs}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		(&report{cmd: "test", results: map[string]*results{"sqlite": res}}).write(&out, c)
		if got, want := strings.Contains(out.String(), "\n"+floorLine+"\n"), c.figures["P1"]; got != want {
			t.Errorf("-figures %s: the floor line printed: %v, want %v\n%s", figs, got, want, out.String())
		}
	}
}
