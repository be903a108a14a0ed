package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/api"
	"paybridge/internal/routes"
)

const paymentsUsage = `usage:
  bridge payments list [--shop SHOP_ID] [--status STATUS] [--limit N] [--json]
  bridge payments show PAYMENT_ID [--json]
`

// cmdPayments is `bridge payments`: the operator's view of payments, read
// from the database (no queue needed).
func cmdPayments(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "payments", paymentsUsage, []subcommand{{"list", paymentsList}, {"show", paymentsShow}}, args, stdout, stderr)
}

func paymentsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("payments list", "[--shop SHOP_ID] [--status STATUS] [--limit N] [--json]",
		"Lists payments, newest first: one shop's, or every shop's.", stderr)
	shopID := fs.String("shop", "", "only this shop's payments")
	status := fs.String("status", "", "only payments in this status (created, redirected, pending, paid, failed, canceled, expired)")
	limit := fs.Int("limit", 50, "at most this many payments (1 to 1000)")
	asJSON := fs.Bool("json", false, "print JSON")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if *status != "" && !checkout.Status(*status).Valid() {
		return fmt.Errorf("--status %q: want created, redirected, pending, paid, failed, canceled or expired", *status)
	}
	if *limit < 1 || *limit > 1000 {
		return fmt.Errorf("--limit %d: want 1 to 1000", *limit)
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	shops := []string{*shopID}
	if *shopID == "" {
		listed, err := a.db.ShopListing(ctx)
		if err != nil {
			return err
		}
		shops = shops[:0]
		for _, l := range listed {
			shops = append(shops, l.Shop.ID)
		}
	} else if _, err := a.db.Shop(ctx, *shopID); errors.Is(err, checkout.ErrNotFound) {
		return fmt.Errorf("--shop %s: no such shop", *shopID)
	}
	var pays []*checkout.Payment
	for _, id := range shops {
		// Page through the shop's payments until enough match the status.
		var before time.Time
		for n := 0; n < *limit; {
			page, err := a.db.ListPayments(ctx, id, before, 200)
			if err != nil {
				return err
			}
			for _, p := range page {
				if *status == "" || string(p.Status) == *status {
					pays = append(pays, p)
					n++
				}
			}
			if len(page) < 200 {
				break
			}
			before = page[len(page)-1].CreatedAt
		}
	}
	slices.SortFunc(pays, func(x, y *checkout.Payment) int { return y.CreatedAt.Compare(x.CreatedAt) })
	pays = pays[:min(len(pays), *limit)]
	if *asJSON {
		out := make([]api.PaymentJSON, 0, len(pays))
		for _, p := range pays {
			out = append(out, api.NewPaymentJSON(p, routes.PayURL(a.cfg.PublicURL, p.ID), nil))
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSHOP\tORDER\tAMOUNT\tSTATUS\tSYNC\tGATEWAY\tCREATED")
	for _, p := range pays {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", p.ID, p.ShopID, oneLine(p.OrderID), p.Amount, p.Amount.Currency,
			p.Status, syncLabel(p.SyncState), p.Gateway, p.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func paymentsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("payments show", "PAYMENT_ID [--json]",
		"Shows one payment: its amount and state, its refunds and its whole audit trail.", stderr)
	asJSON := fs.Bool("json", false, "print JSON (the generic API's payment, with events and refunds)")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("payments show: want one payment id")
	}
	id := fs.Arg(0)
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	p, err := a.db.Payment(ctx, id)
	if errors.Is(err, checkout.ErrNotFound) {
		return fmt.Errorf("payments show: no payment %s", id)
	}
	if err != nil {
		return err
	}
	events, err := a.db.Events(ctx, id)
	if err != nil {
		return err
	}
	refunds, err := a.db.Refunds(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			api.PaymentJSON
			Shop    string           `json:"shop_id"`
			Refunds []api.RefundJSON `json:"refunds"`
		}{PaymentJSON: api.NewPaymentJSON(p, routes.PayURL(a.cfg.PublicURL, p.ID), events), Shop: p.ShopID, Refunds: []api.RefundJSON{}}
		for _, r := range refunds {
			out.Refunds = append(out.Refunds, api.NewRefundJSON(r))
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "payment  %s\nshop     %s (%s)\norder    %s\namount   %s %s (refunded %s)\nstatus   %s, %s\ngateway  %s %s\ncreated  %s, expires %s\n",
		p.ID, p.ShopID, p.Platform, oneLine(p.OrderID), p.Amount, p.Amount.Currency, p.RefundedOrZero(),
		p.Status, syncLabel(p.SyncState), p.Gateway, p.GatewayRef, p.CreatedAt.UTC().Format(time.RFC3339), p.ExpiresAt.UTC().Format(time.RFC3339))
	for _, r := range refunds {
		fmt.Fprintf(stdout, "refund   %s %s %s %s\n", r.ID, r.Amount, r.Amount.Currency, r.Status)
	}
	fmt.Fprintln(stdout, "events:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range events {
		move := ""
		if e.From != "" || e.To != "" {
			move = e.From + " → " + e.To
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Kind, move, e.Source, oneLine(string(e.Detail)))
	}
	return tw.Flush()
}

// syncLabel names a sync state for people: "-" while nothing is due.
func syncLabel(s checkout.SyncState) string {
	if s == checkout.SyncNone {
		return "-"
	}
	return string(s)
}

// oneLine keeps a table row on one line: newlines and tabs become spaces,
// and a long value is cut.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		return string(r[:159]) + "…"
	}
	return s
}
