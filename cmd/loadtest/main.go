// Command loadtest measures the bridge: it starts it on either stack
// (SQLite + the embedded queue, or PostgreSQL + Redis from the local
// binaries) as a subprocess of the real binary with the shipped defaults,
// with a fake UPayments gateway and a fake merchant on loopback, runs the
// figures P1–P6 of the performance issue beside a bare Gin handler making the
// same single gateway call (and, for P1, the same handler that also makes the
// one durable write a create makes: the floor), and prints the table in
// Markdown.
//
//	go run ./cmd/loadtest                  # both stacks, defaults (a few minutes)
//	go run ./cmd/loadtest -stack sqlite -duration 3s
//	go run ./cmd/loadtest -p6-payments 1000000   # the 1M payments
//	go run ./cmd/loadtest -scaleout        # P1–P3 also with 2 web + 2 worker processes
//
// Everything listens on 127.0.0.1 only. Every loop is bounded in count and
// in time. Run go run ./cmd/loadtest -h for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		os.Exit(2)
	}
}

// config is the command line.
type config struct {
	stacks        []string
	bridgeBin     string
	reps          int
	duration      time.Duration
	clients       int
	slowLatency   time.Duration
	slowClients   []int
	steadyRate    int
	notifyClients int
	notifyPays    int
	p3Rate        int
	p3Duration    time.Duration
	p3Drain       time.Duration
	p3Settle      time.Duration
	p4Timeout     time.Duration
	p5Checkouts   int
	p5Latency     time.Duration
	p6Payments    int
	p6Scrapes     int
	scaleout      bool
	figures       map[string]bool
	notifyLimit   string
	maxRequests   int
	timeout       time.Duration
	verbose       bool
}

const usageHead = `usage: go run ./cmd/loadtest [flags]

Starts the bridge (the real binary, built from ./cmd/bridge unless -bridge is
given, with its shipped defaults) on each stack with a fake UPayments gateway
and a fake merchant on 127.0.0.1, measures the figures below beside a bare
Gin handler making the same single gateway call (bridge and baseline
repetitions interleaved, medians reported), and prints a Markdown table.

  P1  POST /api/v1/payments, closed loop: bridge ÷ baseline throughput with the
      gateway answering at once (-clients) and in -slow-latency (-slow-clients);
      and the p99 the bridge adds at a steady -steady-rate requests/s. Beside
      the two throughputs, the floor: the baseline's handler that also makes
      the one durable write a create makes (the payment and its two audit
      events, through the bridge's store package on the bridge's database).
  P2  POST /notify/upay/{id} ingest with -notify-clients clients, against a
      raw asynq enqueue on the same Redis (the embedded one for SQLite).
  P3  notification sent by the gateway → signed callback received by the
      merchant, at a steady -p3-rate payments/s for -p3-duration.
  P4  a notification lost (the gateway's truth changes silently) → merchant
      told, on the default reconcile configuration; runs in the background
      for up to -p4-timeout, on a second, idle bridge of the same stack.
  P5  peak RSS of the bridge process (and of Redis, PostgreSQL stack) with
      -p5-checkouts concurrent creates while the gateway answers in -p5-latency.
  P6  GET /metrics time with -p6-payments final payments seeded in the
      database (median of -p6-scrapes), beside the time before seeding.

The only setting changed from the shipped defaults is the notification
rate limit per address (-notify-limit): every request comes from 127.0.0.1,
and the default 60000-M would refuse P2 past 1,000/s.

flags:
`

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	c := &config{}
	stack := fs.String("stack", "both", "which stack to measure: sqlite (SQLite + embedded queue), postgres (PostgreSQL + Redis) or both")
	fs.StringVar(&c.bridgeBin, "bridge", "", "a built bridge binary to run; empty builds ./cmd/bridge (go build) into a temporary directory")
	fs.IntVar(&c.reps, "reps", 3, "repetitions of each measurement, bridge and baseline interleaved; medians are reported")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "length of each P1 and P2 repetition")
	fs.IntVar(&c.clients, "clients", 32, "P1/P2 concurrent clients with the gateway answering at once")
	fs.DurationVar(&c.slowLatency, "slow-latency", 20*time.Millisecond, "P1: the gateway's answer time for the slow-gateway rows")
	slow := fs.String("slow-clients", "8,32,128", "P1: comma-separated client counts with the gateway answering in -slow-latency")
	fs.IntVar(&c.steadyRate, "steady-rate", 200, "P1: requests/s of the open-loop run whose added p99 is reported")
	fs.IntVar(&c.notifyClients, "notify-clients", 32, "P2: concurrent notification senders")
	fs.IntVar(&c.notifyPays, "notify-payments", 5000, "P2: payments created beforehand that the notifications are about (round robin)")
	fs.IntVar(&c.p3Rate, "p3-rate", 100, "P3: payments completed per second")
	fs.DurationVar(&c.p3Duration, "p3-duration", 5*time.Second, "P3: how long payments are completed at -p3-rate")
	fs.DurationVar(&c.p3Drain, "p3-drain", 30*time.Second, "P3: how long to wait for the last callbacks; missing ones are reported")
	fs.DurationVar(&c.p3Settle, "p3-settle", 15*time.Second, "P3: how long to wait before it, for the fallback confirmations P2 leaves (due the core's 15 s after their notifications), before waiting for the queue to drain")
	fs.DurationVar(&c.p4Timeout, "p4-timeout", 5*time.Minute, "P4: how long to wait for the store to be told of a lost notification")
	fs.IntVar(&c.p5Checkouts, "p5-checkouts", 1000, "P5: concurrent checkouts (creates)")
	fs.DurationVar(&c.p5Latency, "p5-latency", 2*time.Second, "P5: the gateway's answer time")
	fs.IntVar(&c.p6Payments, "p6-payments", 20000, "P6: final payments seeded in the database (the issue's figure is 1000000)")
	fs.IntVar(&c.p6Scrapes, "p6-scrapes", 10, "P6: /metrics scrapes timed, before and after seeding")
	figs := fs.String("figures", "P1,P2,P3,P4,P5,P6", "comma-separated figures to measure on each stack (the others print as not measured), e.g. P5 alone while profiling")
	fs.BoolVar(&c.scaleout, "scaleout", false, "also run P1 (gateway at once), P2 and P3 on PostgreSQL + Redis with 1 web + 1 worker and with 2 web + 2 worker processes")
	fs.StringVar(&c.notifyLimit, "notify-limit", "10000000-M", "BRIDGE_RATE_NOTIFY_PER_ADDRESS for the bridge (see above)")
	fs.IntVar(&c.maxRequests, "max-requests", 1000000, "upper bound on the requests of any one run, whatever its duration")
	fs.DurationVar(&c.timeout, "timeout", 45*time.Minute, "the whole run's deadline")
	fs.BoolVar(&c.verbose, "v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *stack {
	case "sqlite", "postgres":
		c.stacks = []string{*stack}
	case "both":
		c.stacks = []string{"sqlite", "postgres"}
	default:
		return nil, fmt.Errorf("-stack %q: want sqlite, postgres or both", *stack)
	}
	for _, f := range strings.Split(*slow, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-slow-clients %q: want positive integers separated by commas", *slow)
		}
		c.slowClients = append(c.slowClients, n)
	}
	var bad []string
	c.figures = map[string]bool{}
	for _, f := range strings.Split(*figs, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		switch f {
		case "P1", "P2", "P3", "P4", "P5", "P6":
			c.figures[f] = true
		default:
			bad = append(bad, fmt.Sprintf("-figures: unknown figure %q (want P1 … P6)", f))
		}
	}
	positive := map[string]int{"-reps": c.reps, "-clients": c.clients, "-steady-rate": c.steadyRate,
		"-notify-clients": c.notifyClients, "-notify-payments": c.notifyPays, "-p3-rate": c.p3Rate,
		"-p5-checkouts": c.p5Checkouts, "-p6-scrapes": c.p6Scrapes, "-max-requests": c.maxRequests}
	for name, v := range positive {
		if v < 1 {
			bad = append(bad, name+" must be at least 1")
		}
	}
	if c.p6Payments < 0 {
		bad = append(bad, "-p6-payments must not be negative")
	}
	durations := map[string]time.Duration{"-duration": c.duration, "-p3-duration": c.p3Duration, "-p3-drain": c.p3Drain,
		"-p4-timeout": c.p4Timeout, "-timeout": c.timeout}
	for name, v := range durations {
		if v <= 0 {
			bad = append(bad, name+" must be positive")
		}
	}
	if c.slowLatency < 0 || c.p5Latency < 0 || c.p3Settle < 0 {
		bad = append(bad, "-slow-latency, -p5-latency and -p3-settle must not be negative")
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return c, nil
}

// run parses the flags, measures, and prints the report on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	logw := io.Discard
	if c.verbose {
		logw = stderr
	}
	r := &runner{cfg: c, log: func(format string, a ...any) { fmt.Fprintf(logw, format+"\n", a...) }}
	dir, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r.dir = dir
	if err := r.prepare(ctx); err != nil {
		return err
	}
	rep := &report{cmd: "go run ./cmd/loadtest " + strings.Join(args, " "), results: map[string]*results{}}
	for _, s := range c.stacks {
		res, err := r.measureStack(ctx, s)
		if err != nil {
			return fmt.Errorf("%s: %w", stackTitle[s], err)
		}
		rep.results[s] = res
	}
	if c.scaleout {
		so, err := r.measureScaleout(ctx)
		if err != nil {
			return fmt.Errorf("scale-out: %w", err)
		}
		rep.scaleout = so
	}
	rep.write(stdout, c)
	return nil
}
