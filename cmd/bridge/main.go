// Command bridge runs paybridge: the web server that shoppers, gateways and
// stores talk to, the workers that confirm payments and sync stores, and
// the admin commands.
//
//	bridge [serve] [--role all|web|worker]   run (default: everything in one process)
//	bridge migrate                           apply database migrations
//	bridge shops add --platform api …        connect a shop; prints its credentials
//	bridge shops list                        the shops, with their status
//	bridge shops disable|enable|remove|rotate-key SHOP_ID
//	bridge users add|list|remove             console users (password on stdin)
//	bridge jobs archived                     tasks that gave up, with their reasons
//	bridge jobs replay (--all | QUEUE ID)    run archived tasks again
//	bridge keys check | rotate               count sealed values per key; re-seal them under the first key
//	bridge healthcheck [--ready]             ask the local bridge whether it is up (exit 0/1)
//	bridge version
//
// Every command reads the same environment: the BRIDGE_* variables of
// Config, and those of each gateway and platform module (gatewayModules,
// platformModules), which own and check their own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		code := 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if !errors.Is(err, flag.ErrHelp) && err.Error() != "" {
			fmt.Fprintln(os.Stderr, "bridge:", err)
		}
		os.Exit(code)
	}
}

// subcommand is one subcommand of a command with several.
type subcommand struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// dispatch runs the subcommand args[0] names, prints usage for a help flag,
// and says which subcommands there are when none or an unknown one is
// given.
func dispatch(ctx context.Context, cmd, usage string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	want := strings.Join(names, " or ")
	if len(args) == 0 {
		return fmt.Errorf("%s: want a subcommand: %s\n%s", cmd, want, usage)
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("%s: unknown subcommand %q: want %s", cmd, args[0], want)
}

// run dispatches a command line. Tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && (args[0][0] != '-' || isHelp(args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args, stdout, stderr)
	case "shops":
		return cmdShops(ctx, args, stdout, stderr)
	case "jobs":
		return cmdJobs(ctx, args, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, args, stdout, stderr)
	case "payments":
		return cmdPayments(ctx, args, stdout, stderr)
	case "users":
		return cmdUsers(ctx, args, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, args, stdout, stderr)
	case "version":
		fs := newFlagSet("version", "", "Prints the bridge's version.", stderr)
		if done, err := parseFlags(fs, args, stdout); done || err != nil {
			return err
		}
		fmt.Fprintln(stdout, "bridge", version)
		return nil
	case "help", "-h", "-help", "--help", "--h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  bridge [serve] [--role all|web|worker]
  bridge migrate
  bridge shops add --platform api --name NAME --gateway upay --gateway-key KEY [--gateway-secret S] [--sandbox] [--json]
  bridge shops add --platform woocommerce --url URL --consumer-key CK --consumer-secret CS --gateway … [--json]
  bridge shops add --platform api --name NAME --gateway cko --cko-secret-key SK --cko-processing-channel PC --cko-webhook-key WK [--sandbox] [--json]
  bridge shops add --platform api --name NAME --gateway kupay --kupay-token TOKEN [--json]
  bridge shops list [--json]
  bridge shops disable|enable SHOP_ID [--reason TEXT]
  bridge shops remove SHOP_ID [--force] [--reason TEXT]
  bridge shops rotate-key SHOP_ID [--json]
  bridge payments list [--shop SHOP_ID] [--status STATUS] [--limit N] [--json]
  bridge payments show PAYMENT_ID [--json]
  bridge users add --email EMAIL [--shop SHOP_ID]   (password on standard input)
  bridge users list [--json]
  bridge users remove --email EMAIL
  bridge jobs archived [--json]
  bridge jobs replay (--all | QUEUE TASK_ID)
  bridge keys check [--json]
  bridge keys rotate [--batch N]
  bridge healthcheck [--ready] [--timeout 3s] [--url URL]
  bridge version

Every command answers --help (or -h) with its own usage and flags.
`

func newLogger(c *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
