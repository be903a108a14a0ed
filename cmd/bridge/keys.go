package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"paybridge/internal/store"
)

// exitError ends the process with code instead of the usual 2, printing
// its message (when not empty) like any other error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

const keysUsage = `usage:
  bridge keys check [--json]      count the sealed values per key id; exit 1 if any key is not configured
  bridge keys rotate [--batch N]  re-seal every sealed value under the first key of BRIDGE_MASTER_KEY

Rotating the master key: set BRIDGE_MASTER_KEY="NEW,OLD" on every process and
restart them, run ` + "`bridge keys rotate`" + ` (safe while the bridge runs; run it again
if interrupted), check with ` + "`bridge keys check`" + `, then set BRIDGE_MASTER_KEY="NEW".
`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "keys", keysUsage, []subcommand{{"check", keysCheck}, {"rotate", keysRotate}}, args, stdout, stderr)
}

// keyRow is one line of `keys check`.
type keyRow struct {
	KeyID  string `json:"key_id"`
	Status string `json:"status"` // primary, older, not configured, malformed
	Values int64  `json:"values"`
	// Columns counts the values by "table.column".
	Columns map[string]int64 `json:"columns"`
}

func keysCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys check", "[--json]", "Counts the stored sealed values by the key that sealed them. Exits 1 if any\nvalue is sealed with a key BRIDGE_MASTER_KEY (or the key file) does not hold.", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	a, err := newApp(stderr)
	if err != nil {
		return err
	}
	if err := a.openDBChecked(ctx, false); err != nil {
		return err
	}
	defer a.close()
	counts, err := a.db.KeyUsage(ctx)
	if err != nil {
		return err
	}
	kr := a.db.Keyring()
	configured := map[string]bool{}
	for _, id := range kr.IDs() {
		configured[id] = true
	}
	byID := map[string]*keyRow{}
	for _, id := range kr.IDs() { // configured keys are listed even when unused
		byID[id] = &keyRow{KeyID: id, Columns: map[string]int64{}}
	}
	for _, c := range counts {
		r := byID[c.KeyID]
		if r == nil {
			r = &keyRow{KeyID: c.KeyID, Columns: map[string]int64{}}
			byID[c.KeyID] = r
		}
		r.Values += c.Count
		r.Columns[c.Table+"."+c.Column] += c.Count
	}
	var rows []keyRow
	bad, older := 0, int64(0)
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		r := byID[id]
		switch {
		case id == kr.PrimaryID():
			r.Status = "primary"
		case configured[id]:
			r.Status = "older"
			older += r.Values
		case id == "":
			r.Status = "malformed"
			bad++
		default:
			r.Status = "not configured"
			bad++
		}
		rows = append(rows, *r)
	}
	slices.SortStableFunc(rows, func(x, y keyRow) int { // primary first
		return boolInt(y.Status == "primary") - boolInt(x.Status == "primary")
	})
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tSTATUS\tVALUES\tWHERE")
		for _, r := range rows {
			var where []string
			for _, col := range slices.Sorted(maps.Keys(r.Columns)) {
				where = append(where, fmt.Sprintf("%s=%d", col, r.Columns[col]))
			}
			id := r.KeyID
			if id == "" {
				id = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", id, r.Status, r.Values, strings.Join(where, " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if older > 0 {
			fmt.Fprintf(stdout, "%d value(s) still sealed with an older key: run `bridge keys rotate`\n", older)
		}
	}
	if bad > 0 {
		return &exitError{code: 1, msg: "keys check: some values are sealed with a key that is not configured (or are malformed): they cannot be read; restore that key (BRIDGE_MASTER_KEY=\"PRIMARY,THAT_KEY\") and run `bridge keys rotate`"}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys rotate", "[--batch N]", "Re-seals every stored sealed value (shops' gateway credentials, webhook secrets\nand secrets, saved-card tokens) under the first key of BRIDGE_MASTER_KEY. Safe\nwhile the bridge runs; resumable: run it again after an interruption.", stderr)
	batch := fs.Int("batch", 500, "rows read and re-sealed per batch")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if *batch <= 0 {
		return fmt.Errorf("keys rotate: --batch %d: must be positive", *batch)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys rotate: unexpected arguments %q", fs.Args())
	}
	a, err := newApp(stderr)
	if err != nil {
		return err
	}
	if err := a.openDBChecked(ctx, false); err != nil {
		return err
	}
	defer a.close()
	primary := a.db.Keyring().PrimaryID()
	fmt.Fprintf(stdout, "re-sealing under key %s\n", primary)
	st, err := a.db.Reseal(ctx, *batch, func(table string, s store.ResealStats) {
		fmt.Fprintf(stdout, "  %s: %d row(s) read, %d value(s) re-sealed\n", table, s.Rows, s.Resealed)
	})
	if err != nil {
		return fmt.Errorf("keys rotate: %w (run it again: it carries on where it stopped)", err)
	}
	fmt.Fprintf(stdout, "done: %d row(s) read, %d value(s) re-sealed, %d changed meanwhile and were re-read\n", st.Rows, st.Resealed, st.Raced)
	if len(st.Failed) > 0 {
		for _, f := range st.Failed {
			fmt.Fprintln(stdout, "  could not re-seal:", f)
		}
		return &exitError{code: 1, msg: fmt.Sprintf("keys rotate: %d value(s) could not be re-sealed (listed above)", len(st.Failed))}
	}
	return nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h", "help":
		return true
	}
	return false
}

// newFlagSet returns a flag set for `bridge name` whose usage is
// "usage: bridge name synopsis", about, then the flags.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: bridge %s %s\n", name, synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", about)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args. When they ask for help (-h, --help) it prints
// the usage to stdout instead and reports done: help is an answer, not an
// error. A bad flag prints the message and the usage to the flag set's
// output and returns the error.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, err error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a != "help" && isHelp(a) {
			out := fs.Output()
			fs.SetOutput(stdout)
			fs.Usage()
			fs.SetOutput(out)
			return true, nil
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // e.g. -help=true
			return true, nil
		}
		return false, err
	}
	return false, nil
}
