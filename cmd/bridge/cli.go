package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/platforms"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "", "Applies the database migrations the database lacks (serve does it too) and\nprints the schema version.", stderr)
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	v, err := a.db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database is at schema version %d\n", v)
	return nil
}

const shopsUsage = `usage:
  bridge shops add --platform PLATFORM … [--json]   connect a shop; prints its credentials (see bridge shops add --help)
  bridge shops list [--json]                        list the shops, with their status and the state of their secrets
  bridge shops disable SHOP_ID [--reason TEXT]      refuse the shop's new payments (started ones still complete)
  bridge shops enable SHOP_ID [--reason TEXT]       take its new payments again
  bridge shops remove SHOP_ID [--force]             erase its secrets, keep its payments' record (see --help)
  bridge shops rotate-key SHOP_ID [--json]          new API key and webhook secret for an api shop, printed once
`

func cmdShops(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "shops", shopsUsage, []subcommand{{"add", shopsAdd}, {"list", shopsList}, {"disable", shopsDisable},
		{"enable", shopsEnable}, {"remove", shopsRemove}, {"rotate-key", shopsRotateKey}}, args, stdout, stderr)
}

// credentialFlag is a `shops add` flag carrying one gateway credential:
// --<gateway>-<credential name, "_" as "-">, with the credential's label
// as its help.
type credentialFlag struct {
	gateway string
	checkout.CredentialField
	flag  string
	value *string
}

// flagAliases are the documented short names of some credential flags,
// kept working: the README and merchants' scripts use them.
var flagAliases = map[string]string{
	"gateway-key":            "upay-api-key",
	"gateway-secret":         "upay-api-secret",
	"cko-processing-channel": "cko-processing-channel-id",
	"kupay-token":            "kupay-api-token",
}

// credentialFlags defines on fs one flag per credential each gateway
// declares (checkout.Capabilities.Credentials), and their aliases. It
// returns the credentials in declaration order, and the credential of
// every flag name, aliases included.
func credentialFlags(fs *flag.FlagSet, gws []gatewayModule) ([]*credentialFlag, map[string]*credentialFlag) {
	var all []*credentialFlag
	byFlag := map[string]*credentialFlag{}
	for _, g := range gws {
		for _, f := range g.Gateway().Capabilities().Credentials {
			name := g.Name() + "-" + strings.ReplaceAll(f.Name, "_", "-")
			help := g.Name() + ": " + f.Label
			if f.Required {
				help += " (required)"
			}
			cf := &credentialFlag{gateway: g.Name(), CredentialField: f, flag: name, value: fs.String(name, "", help)}
			all = append(all, cf)
			byFlag[name] = cf
		}
	}
	for alias, name := range flagAliases {
		if cf, ok := byFlag[name]; ok {
			fs.StringVar(cf.value, alias, "", "the same as --"+name)
			byFlag[alias] = cf
		}
	}
	return all, byFlag
}

// requiredMessage says that f's flag is missing, naming the documented
// alias first when there is one.
func requiredMessage(f *credentialFlag) string {
	for alias, name := range flagAliases {
		if name == f.flag {
			return fmt.Sprintf("--%s is required with --gateway %s (or --%s)", alias, f.gateway, f.flag)
		}
	}
	return fmt.Sprintf("--%s is required with --gateway %s", f.flag, f.gateway)
}

func shopsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shops add", "--platform PLATFORM [--name NAME] --gateway GATEWAY <credential flags> [--sandbox] [--json]",
		"Connects a shop and prints its id, API key and webhook secret (shown once).", stderr)
	platform := fs.String("platform", "", "") // help set below, once the platforms are known
	name := fs.String("name", "", "a name for the shop (woocommerce: defaults to the store's host)")
	forms, owner, platformList, others := shopForms(fs)
	fs.Lookup("platform").Usage = "the shop's platform: " + platformList + others
	gws := gatewayModules()
	var names []string
	for _, g := range gws {
		names = append(names, g.Name())
	}
	gatewayList := orList(names)
	gateway := fs.String("gateway", "upay", "the gateway taking its payments: "+gatewayList)
	credFlags, byFlag := credentialFlags(fs, gws)
	sandbox := fs.Bool("sandbox", false, "use the gateway's test environment")
	asJSON := fs.Bool("json", false, `print {"id","api_key","webhook_secret"} as JSON`)
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	var bad []string
	known := slices.Contains(names, *gateway)
	if !known {
		bad = append(bad, fmt.Sprintf("--gateway %q: want %s", *gateway, gatewayList))
	}
	creds := map[string]string{}
	for _, f := range credFlags {
		if !known || f.gateway != *gateway {
			continue
		}
		if v := strings.TrimSpace(*f.value); v != "" {
			creds[f.Name] = v
		} else if f.Required {
			bad = append(bad, requiredMessage(f))
		}
	}
	in := platforms.NewShop{Name: strings.TrimSpace(*name),
		Account: checkout.GatewayAccount{Gateway: *gateway, Sandbox: *sandbox, Credentials: creds}}
	form, ok := forms[*platform]
	if ok {
		bad = append(bad, form.Check(in)...)
	} else {
		bad = append(bad, fmt.Sprintf("--platform %q: want %s", *platform, platformList))
	}
	fs.Visit(func(fl *flag.Flag) {
		if f, ok := byFlag[fl.Name]; ok && known && f.gateway != *gateway && fl.Value.String() != "" {
			bad = append(bad, fmt.Sprintf("--%s is for --gateway %s, not %s", fl.Name, f.gateway, *gateway))
		}
		if p := owner[fl.Name]; ok && p != "" && p != *platform && fl.Value.String() != "" {
			bad = append(bad, fmt.Sprintf("--%s is for --platform %s", fl.Name, p))
		}
	})
	if fs.NArg() > 0 {
		bad = append(bad, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("shops add:\n  %s", strings.Join(bad, "\n  "))
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	out, err := form.Add(ctx, platforms.Deps{Store: a.db, PublicURL: a.cfg.PublicURL,
		AllowInsecureURLs: a.cfg.AllowInsecureURLs, Logger: a.log, Version: version}, in)
	if err != nil {
		return fmt.Errorf("shops add: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out.JSON)
	}
	_, err = io.WriteString(stdout, out.Text)
	return err
}

// shopForms defines the flags of every platform that connects shops from
// the command line. It returns their forms by platform name, the platform
// that defined each of their flags, the list of their names for messages,
// and a note naming the platforms that connect shops otherwise.
func shopForms(fs *flag.FlagSet) (forms map[string]platforms.ShopForm, owner map[string]string, list, others string) {
	forms, owner = map[string]platforms.ShopForm{}, map[string]string{}
	var names, rest []string
	for _, m := range platformModules() {
		sa, ok := m.(platforms.ShopAdder)
		if !ok {
			rest = append(rest, m.Name())
			continue
		}
		before := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
		forms[m.Name()] = sa.ShopFlags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !before[f.Name] {
				owner[f.Name] = m.Name()
			}
		})
		names = append(names, m.Name())
	}
	if len(rest) > 0 {
		others = " (" + strings.Join(rest, ", ") + " shops connect from the platform itself)"
	}
	return forms, owner, orList(names), others
}

// orList writes names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func shopsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("shops list", "[--json]", "Lists every shop with its status (connecting, connected, disabled or removed).\nA shop whose secrets the configured keys cannot open is listed too, its\nsecrets' state \"secrets unreadable\" instead of \"ok\".", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	shops, err := a.db.ShopListing(ctx)
	if err != nil {
		return err
	}
	type row struct {
		ID, Name, Platform, Domain, Gateway string
		Sandbox                             bool
		CreatedAt                           time.Time
		// Status is the shop's: connecting, connected, disabled or
		// removed.
		Status checkout.ShopStatus
		// Secrets is "ok", or "secrets unreadable" when the configured
		// keys do not open the shop's secrets (Error says why).
		Secrets string
		Error   string `json:",omitempty"`
	}
	rows := []row{}
	for _, l := range shops {
		s := l.Shop
		r := row{s.ID, s.Name, s.Platform, s.Domain, s.Gateway.Gateway, s.Gateway.Sandbox, s.CreatedAt, s.Status, "ok", ""}
		if l.Err != nil {
			r.Secrets, r.Error = "secrets unreadable", l.Err.Error()
		}
		rows = append(rows, r)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPLATFORM\tGATEWAY\tSANDBOX\tCREATED\tSTATUS\tSECRETS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", r.ID, r.Name, r.Platform, r.Gateway, r.Sandbox, r.CreatedAt.Format(time.RFC3339), r.Status, r.Secrets)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(stdout, "shop %s: %s\n", r.ID, r.Error)
		}
	}
	return nil
}

const jobsUsage = `usage:
  bridge jobs archived [--json]               tasks that gave up, with their reasons
  bridge jobs replay (--all | QUEUE TASK_ID)  run archived tasks again
`

func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("jobs: want `jobs archived` or `jobs replay`\n%s", jobsUsage)
	}
	sub := args[0]
	if isHelp(sub) {
		fmt.Fprint(stdout, jobsUsage)
		return nil
	}
	if sub != "archived" && sub != "replay" {
		return fmt.Errorf("jobs: unknown subcommand %q: want archived or replay", sub)
	}
	var fs *flag.FlagSet
	if sub == "archived" {
		fs = newFlagSet("jobs archived", "[--json]", "Lists the tasks that gave up, with their reasons.", stderr)
	} else {
		fs = newFlagSet("jobs replay", "(--all | QUEUE TASK_ID)", "Runs archived tasks again: every one, or one as `bridge jobs archived` lists it.", stderr)
	}
	var asJSON, all = new(bool), new(bool)
	if sub == "archived" {
		asJSON = fs.Bool("json", false, "print JSON")
	} else {
		all = fs.Bool("all", false, "replay every archived task")
	}
	if done, err := parseFlags(fs, args[1:], stdout); done || err != nil {
		return err
	}
	a, err := newApp(stderr)
	if err != nil {
		return err
	}
	if err := a.openQueue(false); err != nil {
		return err
	}
	admin := jobs.NewAdmin(a.redis)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch sub {
	case "archived":
		tasks, err := admin.Archived(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			if tasks == nil {
				tasks = []jobs.ArchivedTask{}
			}
			return json.NewEncoder(stdout).Encode(tasks)
		}
		if len(tasks) == 0 {
			fmt.Fprintln(stdout, "no archived tasks")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tTASK ID\tTYPE\tPAYMENT\tREFUND\tRETRIED\tFAILED AT\tLAST ERROR")
		for _, t := range tasks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Queue, t.ID, t.Type, t.PaymentID, t.RefundID, t.Retried,
				t.LastFailedAt.Format(time.RFC3339), t.LastError)
		}
		return tw.Flush()
	default: // replay
		if *all {
			n, err := admin.ReplayAll(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "replayed %d task(s)\n", n)
			return nil
		}
		if fs.NArg() != 2 {
			return errors.New("jobs replay: want --all, or QUEUE TASK_ID as `jobs archived` lists them")
		}
		if err := admin.Replay(ctx, fs.Arg(0), fs.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %s\n", fs.Arg(1))
		return nil
	}
}
