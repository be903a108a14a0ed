package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/api"
	"paybridge/internal/store"
)

// cliSource is the source the shop commands' audit events name.
const cliSource = "cli"

// shopFlagSet is a flag set for `bridge shops NAME SHOP [flags]`.
func shopFlagSet(name, flags, about string, stderr io.Writer) *flag.FlagSet {
	return newFlagSet("shops "+name, "SHOP_ID "+flags, about, stderr)
}

// parseShopArgs parses args, which hold one shop id before, among or
// after the flags. done is set when help was printed.
func parseShopArgs(fs *flag.FlagSet, args []string, stdout io.Writer) (id string, done bool, err error) {
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return "", done, err
	}
	rest := fs.Args()
	if len(rest) > 0 {
		id = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return "", false, err
		}
		rest = fs.Args()
	}
	switch {
	case id == "":
		return "", false, fmt.Errorf("%s: want a shop id (see bridge shops list)", fs.Name())
	case len(rest) > 0:
		return "", false, fmt.Errorf("%s: unexpected arguments %q", fs.Name(), rest)
	}
	return id, false, nil
}

// onShop runs a `bridge shops NAME SHOP` command: it parses args (see
// parseShopArgs), opens the store and calls run with the shop's id.
func onShop(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, run func(a *app, id string) error) error {
	id, done, err := parseShopArgs(fs, args, stdout)
	if done || err != nil {
		return err
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	return run(a, id)
}

// shopErr words the store's refusals for the command line.
func shopErr(cmd, id string, err error) error {
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		return fmt.Errorf("%s: no shop %s (see bridge shops list)", cmd, id)
	case errors.Is(err, store.ErrShopRemoved):
		return fmt.Errorf("%s: shop %s was removed", cmd, id)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

func shopsDisable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := shopFlagSet("disable", "[--reason TEXT]", "Disables a shop: it refuses new payments (the API answers 403, Shopify rejects the\n"+
		"payment session, WooCommerce tells the shopper), while the payments it started\n"+
		"before are still confirmed, synced to the store and refunded on request.\n"+
		"`bridge shops enable` undoes it. The change is recorded in the shop's audit trail.", stderr)
	reason := fs.String("reason", "", "why, for the audit trail")
	return onShop(ctx, fs, args, stdout, stderr, func(a *app, id string) error {
		was, err := a.db.DisableShop(ctx, id, store.ShopActor{Source: cliSource, Reason: *reason})
		if err != nil {
			return shopErr("shops disable", id, err)
		}
		if was == checkout.ShopDisabled {
			fmt.Fprintf(stdout, "shop %s is disabled already\n", id)
			return nil
		}
		fmt.Fprintf(stdout, "shop %s disabled (was %s): it refuses new payments; the payments it started are still completed\n", id, was)
		return nil
	})
}

func shopsEnable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := shopFlagSet("enable", "[--reason TEXT]", "Enables a disabled shop again: it takes new payments. The change is recorded\nin the shop's audit trail.", stderr)
	reason := fs.String("reason", "", "why, for the audit trail")
	return onShop(ctx, fs, args, stdout, stderr, func(a *app, id string) error {
		before, err := a.db.Shop(ctx, id)
		if err != nil && !errors.Is(err, store.ErrUnreadableSecrets) {
			return shopErr("shops enable", id, err)
		}
		to, err := a.db.EnableShop(ctx, id, store.ShopActor{Source: cliSource, Reason: *reason})
		if err != nil {
			return shopErr("shops enable", id, err)
		}
		if before.Status != checkout.ShopDisabled {
			fmt.Fprintf(stdout, "shop %s is not disabled (it is %s)\n", id, to)
			return nil
		}
		fmt.Fprintf(stdout, "shop %s enabled: it is %s and takes new payments\n", id, to)
		return nil
	})
}

func shopsRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := shopFlagSet("remove", "[--force] [--reason TEXT]", `Removes a shop. It refuses while the shop has payments that are not final
(it lists them) unless --force.

A shop that never had a payment is deleted. A shop with payments is kept as
their owner, status removed: its payments, refunds and audit trails are the
merchant's financial record (disputes and chargebacks come months later, and
accounts must be kept for years), and the audit trail is never rewritten.
Everything that lets anyone act as the shop is erased at once: its API key,
webhook secret, platform keys and settings, saved-card tokens, its domain (the
store may connect again, as a new shop) and its gateway credentials. With
--force and payments still open, the gateway credentials are kept (sealed) so
that those payments' results are still recorded; run remove again once they
are final to erase them.`, stderr)
	force := fs.Bool("force", false, "remove even though some payments are not final")
	reason := fs.String("reason", "", "why, for the audit trail")
	return onShop(ctx, fs, args, stdout, stderr, func(a *app, id string) error {
		r, err := a.db.RemoveShop(ctx, id, *force, store.ShopActor{Source: cliSource, Reason: *reason})
		var oe *store.OpenPaymentsError
		if errors.As(err, &oe) {
			var b strings.Builder
			fmt.Fprintf(&b, "shops remove: shop %s has %d payment(s) that are not final:\n", id, oe.Count)
			writeOpen(&b, oe.Open, oe.Count)
			fmt.Fprintf(&b, "Disable the shop (bridge shops disable %s) so that it starts no new payment, wait until these are\n"+
				"final (paid, failed, canceled or expired: bridge payments list --shop %s), then remove it; or remove it\n"+
				"now with --force (the gateway account is kept until they are final).", id, id)
			return errors.New(b.String())
		}
		if err != nil {
			return shopErr("shops remove", id, err)
		}
		switch {
		case r.Deleted:
			fmt.Fprintf(stdout, "shop %s deleted: it had no payments\n", id)
		case r.Unchanged && r.GatewayKept:
			fmt.Fprintf(stdout, "shop %s was removed already; %d payment(s) are still open, so its gateway account is kept:\n", id, r.OpenCount)
			writeOpen(stdout, r.Open, r.OpenCount)
		case r.Unchanged:
			fmt.Fprintf(stdout, "shop %s was removed already; nothing is left to erase\n", id)
		default:
			fmt.Fprintf(stdout, "shop %s removed: its API key, webhook secret, platform keys, saved-card tokens and domain are erased;\n"+
				"its %d payment(s), their refunds and audit trails are kept\n", id, r.Payments)
			if r.GatewayKept {
				fmt.Fprintf(stdout, "%d payment(s) are still open: its gateway account is kept (sealed) so that their results are\n"+
					"still recorded; run `bridge shops remove %s` again once they are final to erase it:\n", r.OpenCount, id)
				writeOpen(stdout, r.Open, r.OpenCount)
			} else {
				fmt.Fprintln(stdout, "its gateway credentials are erased")
			}
		}
		return nil
	})
}

// writeOpen lists open payments, one a line, and how many more there are.
func writeOpen(w io.Writer, open []store.OpenPayment, count int) {
	for _, p := range open {
		fmt.Fprintf(w, "  %s  order %s  %s %s  %s since %s\n", p.ID, p.OrderID, p.Amount, p.Amount.Currency, p.Status,
			p.CreatedAt.Format(time.RFC3339))
	}
	if more := count - len(open); more > 0 {
		fmt.Fprintf(w, "  … and %d more\n", more)
	}
}

func shopsRotateKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := shopFlagSet("rotate-key", "[--reason TEXT] [--json]", "Gives an api shop a new API key and webhook secret, printed once. The old ones\n"+
		"stop working at once: update the merchant's integration with both. The change\nis recorded in the shop's audit trail (without the values).", stderr)
	reason := fs.String("reason", "", "why, for the audit trail")
	asJSON := fs.Bool("json", false, `print {"id","api_key","webhook_secret"} as JSON`)
	return onShop(ctx, fs, args, stdout, stderr, func(a *app, id string) error {
		shop, err := a.db.Shop(ctx, id)
		if err != nil && !errors.Is(err, store.ErrUnreadableSecrets) {
			return shopErr("shops rotate-key", id, err)
		}
		if shop.Platform != checkout.PlatformAPI {
			return fmt.Errorf("shops rotate-key: shop %s is a %s shop, which has no API key: its secrets are exchanged with the store when it connects (connect it again to renew them)",
				id, shop.Platform)
		}
		key, whsec := api.NewCredentials()
		if err := a.db.RotateShopKey(ctx, id, api.HashAPIKey(key), whsec, store.ShopActor{Source: cliSource, Reason: *reason}); err != nil {
			return shopErr("shops rotate-key", id, err)
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"id": id, "api_key": key, "webhook_secret": whsec})
		}
		_, err = fmt.Fprintf(stdout, "shop %s has new credentials; the old API key and webhook secret no longer work\n"+
			"api key:        %s\nwebhook secret: %s\nStore both now: they are not shown again.\n", id, key, whsec)
		return err
	})
}
