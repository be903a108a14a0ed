package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report is what the run prints.
type report struct {
	cmd      string
	results  map[string]*results
	scaleout []*results // 1+1, 2+2
}

// scaleTopologies are the process layouts of -scaleout: web, worker.
var scaleTopologies = [][2]int{{1, 1}, {2, 2}}

// measureScaleout runs P1 (gateway at once), P2 and P3 on PostgreSQL +
// Redis with each layout.
func (r *runner) measureScaleout(ctx context.Context) ([]*results, error) {
	var out []*results
	for _, t := range scaleTopologies {
		d, err := r.deploy(ctx, "postgres", t[0], t[1])
		if err != nil {
			return nil, err
		}
		res := &results{measured: true, scaleTitle: fmt.Sprintf("%d web + %d worker", t[0], t[1])}
		r.log("scale-out %s", res.scaleTitle)
		var rates []float64
		c := newClient(r.cfg.clients)
		for range r.cfg.reps {
			s := closedLoop(ctx, c, r.cfg.clients, r.cfg.duration, r.cfg.maxRequests, createReq(d, d.shop, nil))
			rates = append(rates, s.rate())
			r.noteFailures(res, "P1 bridge", s)
		}
		res.p1Fast = pair{bridge: median(rates)}
		if err := r.p2(ctx, d, res); err != nil {
			res.note("P2: %v", err)
		}
		if err := r.p3(ctx, d, res); err != nil {
			res.note("P3: %v", err)
		}
		d.close()
		out = append(out, res)
	}
	return out, nil
}

func f0(x float64) string { return commas(int64(x + 0.5)) }

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", ms(d))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// cells are one stack's table cells, in row order.
func (res *results) cells(c *config, kind string) []string {
	if res == nil {
		const n = 8 // the rows of the table
		out := make([]string, n)
		for i := range out {
			out[i] = "not run"
		}
		return out
	}
	var slow, slowRates, slowFloor, slowFloorRates []string
	hasFloor := len(res.p1Slow) > 0
	for _, p := range res.p1Slow {
		slow = append(slow, fmt.Sprintf("%.2f", p.ratio()))
		slowRates = append(slowRates, f0(p.bridge)+"/"+f0(p.base))
		slowFloor = append(slowFloor, fmt.Sprintf("%.2f", p.floorRatio()))
		slowFloorRates = append(slowFloorRates, f0(p.floor))
		hasFloor = hasFloor && p.floor > 0
	}
	p1Fast := fmt.Sprintf("%.2f (%s / %s req/s)", res.p1Fast.ratio(), f0(res.p1Fast.bridge), f0(res.p1Fast.base))
	if res.p1Fast.floor > 0 {
		p1Fast = fmt.Sprintf("%.2f (%s / %s req/s; floor %.2f: %s req/s)", res.p1Fast.ratio(), f0(res.p1Fast.bridge), f0(res.p1Fast.base),
			res.p1Fast.floorRatio(), f0(res.p1Fast.floor))
	}
	p1Slow := fmt.Sprintf("%s (%s req/s)", strings.Join(slow, " / "), strings.Join(slowRates, ", "))
	if hasFloor {
		p1Slow = fmt.Sprintf("%s (%s req/s; floor %s: %s req/s)", strings.Join(slow, " / "), strings.Join(slowRates, ", "),
			strings.Join(slowFloor, " / "), strings.Join(slowFloorRates, ", "))
	}
	p3 := fmt.Sprintf("p50 %s, p99 %s (%d/%d delivered)", secs(res.p3p50), secs(res.p3p99), res.p3Got, res.p3Sent)
	p4 := fmt.Sprintf("%.0f s", res.p4.Seconds())
	if !res.p4Done {
		p4 = fmt.Sprintf("> %s (not told within -p4-timeout)", secs(res.p4))
	}
	p5 := mib(res.p5Bridge)
	if kind == "postgres" {
		p5 += " + " + mib(res.p5Redis) + " (Redis)"
	}
	p1P99 := fmt.Sprintf("%+.1f ms (p99 %.1f vs %.1f ms)", res.p1P99.bridge-res.p1P99.base, res.p1P99.bridge, res.p1P99.base)
	if res.p1P99.floor > 0 {
		p1P99 = fmt.Sprintf("%+.1f ms (p99 %.1f vs %.1f ms; floor %+.1f ms)", res.p1P99.bridge-res.p1P99.base, res.p1P99.bridge, res.p1P99.base,
			res.p1P99.floor-res.p1P99.base)
	}
	out := []string{
		p1Fast,
		p1Slow,
		p1P99,
		fmt.Sprintf("%s/s, %.2f of raw enqueue (%s/s)", f0(res.p2.bridge), res.p2.ratio(), f0(res.p2.base)),
		p3,
		p4,
		p5,
		fmt.Sprintf("%s at %s payments (%s at %s)", secs(res.p6After), commas(int64(res.p6AfterN)), secs(res.p6Before), commas(int64(res.p6BeforeN))),
	}
	// The rows' figures: P1 has three.
	for i, f := range []string{"P1", "P1", "P1", "P2", "P3", "P4", "P5", "P6"} {
		if res.scaleTitle == "" && !c.figures[f] {
			out[i] = "not measured"
		}
	}
	return out
}

// floorLine says, under the table, what P1's floor is.
const floorLine = "P1's floor: the baseline's handler that also makes the one write a create must make before it answers " +
	"(the payment and its two audit events, one `store.Apply` through the bridge's store package on the bridge's own database), " +
	"measured in the same repetitions; floor ÷ baseline is what that write alone leaves of the baseline's throughput: " +
	"about the best a bridge that records each payment durably can reach on this machine and store " +
	"(in the p99 row, what that write alone adds to the baseline's p99)."

func (rep *report) write(w io.Writer, c *config) {
	slowN := make([]string, len(c.slowClients))
	for i, n := range c.slowClients {
		slowN[i] = fmt.Sprint(n)
	}
	rows := []struct{ figure, target string }{
		{fmt.Sprintf("P1 create payment, gateway answering at once, %d clients: bridge ÷ baseline throughput", c.clients), "≥ 0.5"},
		{fmt.Sprintf("P1 same, gateway answering in %v, %s clients: bridge ÷ baseline (bridge/baseline req/s)", c.slowLatency, strings.Join(slowN, " / ")), "≥ 0.9 at every concurrency"},
		{fmt.Sprintf("P1 added p99 at a steady %d req/s, gateway answering at once", c.steadyRate), "≤ 5 ms"},
		{fmt.Sprintf("P2 notification ingest (`POST /notify/upay/{id}`), %d clients", c.notifyClients), "≥ 5,000/s; ≥ 0.25 of raw enqueue"},
		{fmt.Sprintf("P3 notification sent → merchant callback received, at a steady %d payments/s", c.p3Rate), "p50 ≤ 50 ms, p99 ≤ 250 ms"},
		{"P4 notification lost → store told, default configuration", "≤ 60 s, within a per-shop status-call budget"},
		{fmt.Sprintf("P5 RSS with %s concurrent checkouts (gateway answering in %v)", commas(int64(c.p5Checkouts)), c.p5Latency), "≤ 100 MiB"},
		{fmt.Sprintf("P6 `/metrics` time at %s payments (and before seeding)", commas(int64(c.p6Payments))), "independent of the number of payments"},
	}
	sq := rep.results["sqlite"].cells(c, "sqlite")
	pg := rep.results["postgres"].cells(c, "postgres")
	fmt.Fprintf(w, "Measured %s with `%s`\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(rep.cmd))
	fmt.Fprintln(w, "| figure | SQLite + embedded | PostgreSQL + Redis | target |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for i, row := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", row.figure, cell(sq, i), cell(pg, i), row.target)
	}
	fmt.Fprintln(w)
	if c.figures["P1"] {
		fmt.Fprintln(w, floorLine)
		fmt.Fprintln(w)
	}
	if len(rep.scaleout) > 0 {
		fmt.Fprintln(w, "Scale-out, PostgreSQL + Redis:")
		fmt.Fprintln(w)
		fmt.Fprint(w, "| figure |")
		for _, s := range rep.scaleout {
			fmt.Fprintf(w, " %s |", s.scaleTitle)
		}
		fmt.Fprint(w, "\n|---|")
		for range rep.scaleout {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		lines := []struct {
			name string
			f    func(*results) string
		}{
			{fmt.Sprintf("P1 creates/s, gateway at once, %d clients", c.clients), func(r *results) string { return f0(r.p1Fast.bridge) + "/s" }},
			{fmt.Sprintf("P2 notifications/s, %d clients", c.notifyClients), func(r *results) string { return f0(r.p2.bridge) + "/s" }},
			{fmt.Sprintf("P3 notification → callback at %d/s", c.p3Rate), func(r *results) string {
				return fmt.Sprintf("p50 %s, p99 %s (%d/%d)", secs(r.p3p50), secs(r.p3p99), r.p3Got, r.p3Sent)
			}},
		}
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |", l.name)
			for _, s := range rep.scaleout {
				fmt.Fprintf(w, " %s |", l.f(s))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Machine: %s\n", machine())
	var notes []string
	for _, k := range []string{"sqlite", "postgres"} {
		if r := rep.results[k]; r != nil {
			for _, n := range r.failures {
				notes = append(notes, stackTitle[k]+": "+n)
			}
		}
	}
	for _, s := range rep.scaleout {
		for _, n := range s.failures {
			notes = append(notes, "scale-out "+s.scaleTitle+": "+n)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Notes:")
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

func cell(cs []string, i int) string {
	if i < len(cs) {
		return cs[i]
	}
	return ""
}

// machine describes where the run happened: cores, memory, CPU, Go.
func machine() string {
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = ", " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores (nproc)%s, %s memory, %s, %s/%s", runtime.NumCPU(), cpu, mem, goVersion, runtime.GOOS, runtime.GOARCH)
}
