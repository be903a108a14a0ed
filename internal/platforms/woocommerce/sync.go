package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"paybridge/internal/checkout"
)

// noteMarker ends every note the bridge writes; before writing a note the
// bridge re-reads the order's notes and skips it if the marker is there,
// so a retried job never writes a second note for one transition.
func noteMarker(id, state string) string { return "[paybridge " + id + " " + state + "]" }

func hasNote(notes []Note, marker string) bool {
	for _, n := range notes {
		if strings.Contains(n.Note, marker) {
			return true
		}
	}
	return false
}

func wcOrderID(pay *checkout.Payment) string {
	if id := pay.Metadata[pmOrderID]; id != "" {
		return id
	}
	id, _, _ := strings.Cut(pay.OrderID, "-")
	return id
}

// methodName is how notes name the payment method: the gateway's payment
// type, the requested method, else the gateway's display name (via).
func methodName(pay *checkout.Payment, via string) string {
	if m := pay.GatewayData["payment_type"]; m != "" {
		return m
	}
	if pay.PaymentMethod != "" {
		return pay.PaymentMethod
	}
	return firstNonEmpty(via, pay.Gateway)
}

// gatewayName is the display name of the payment's gateway.
func (p *Platform) gatewayName(pay *checkout.Payment) string {
	if caps, ok := p.svc.Capabilities(pay.Gateway); ok {
		return caps.DisplayName
	}
	return pay.Gateway
}

// SyncPayment writes a final payment to its WooCommerce order. It re-reads
// the order and its notes first, so running it again after a success (or
// after a crash half way) changes nothing and adds no second note.
func (p *Platform) SyncPayment(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment) error {
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		return checkout.Permanent("woocommerce sync", err)
	}
	id := wcOrderID(pay)
	o, err := cl.Order(ctx, id)
	if err != nil {
		return JobError("read order "+id, err)
	}
	notes, err := cl.Notes(ctx, id)
	if err != nil {
		return JobError("read notes of order "+id, err)
	}
	marker := noteMarker(pay.ID, string(pay.Status))
	var (
		update map[string]any
		note   string
	)
	if pay.Status == checkout.StatusPaid {
		update, note = paidChange(o, pay, p.gatewayName(pay))
	} else {
		later, err := p.store.PaymentByOrder(ctx, pay.ShopID, attemptOrderID(id, attemptNumber(pay)+1))
		if err != nil && !errors.Is(err, checkout.ErrNotFound) {
			return err
		}
		update, note = unpaidChange(o, pay, p.gatewayName(pay), later != nil)
	}
	if update != nil {
		if _, err := cl.UpdateOrder(ctx, id, update); err != nil {
			return JobError("update order "+id, err)
		}
	}
	if note != "" && !hasNote(notes, marker) {
		if err := cl.AddNote(ctx, id, note+" "+marker); err != nil {
			return JobError("add note to order "+id, err)
		}
	}
	return nil
}

func attemptNumber(pay *checkout.Payment) int {
	n := 1
	if _, err := fmt.Sscanf(pay.Metadata[pmAttempt], "%d", &n); err != nil || n < 1 {
		return 1
	}
	return n
}

func meta(kv ...string) []map[string]any {
	var out []map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, map[string]any{"key": kv[i], "value": kv[i+1]})
	}
	return out
}

// paidChange decides what a paid payment does to the order as it stands
// (research §2.2): set_paid on pending/failed, an explicit status on
// on-hold and cancelled, nothing on an order already paid.
func paidChange(o *Order, pay *checkout.Payment, via string) (map[string]any, string) {
	txn := firstNonEmpty(pay.TransactionID, pay.GatewayRef)
	amount := pay.Amount.String() + " " + pay.Amount.Currency
	base := fmt.Sprintf("Payment of %s received via %s (transaction %s, gateway reference %s), confirmed with the gateway.",
		amount, methodName(pay, via), txn, pay.GatewayRef)
	ours := o.MetaString(MetaPaymentID) == pay.ID || (txn != "" && o.TransactionID == txn)
	if isPaid(o) {
		switch {
		case ours && o.MetaString(MetaAttention) == "paid_after_cancel":
			return nil, base + " The order had been cancelled before the payment arrived and was moved back to Processing: check stock before shipping."
		case ours:
			return nil, base
		default:
			return map[string]any{"meta_data": meta(MetaAttention, "double_payment")},
				base + fmt.Sprintf(" WARNING: the order was already paid (transaction %q): the shopper may have paid twice; refund one of the payments.", o.TransactionID)
		}
	}
	if total, err := ParseTotal(o.Total, strings.ToUpper(o.Currency)); err != nil || !total.Equal(pay.Amount) {
		return map[string]any{"status": "on-hold", "transaction_id": txn,
				"meta_data": meta(MetaPaymentID, pay.ID, MetaAttention, "amount_mismatch")},
			base + fmt.Sprintf(" WARNING: the order total is now %s %s, not the amount paid; the order was put on hold: check it before shipping.", o.Total, o.Currency)
	}
	switch o.Status {
	case "pending", "failed":
		return map[string]any{"set_paid": true, "transaction_id": txn, "meta_data": meta(MetaPaymentID, pay.ID)}, base
	case "on-hold":
		return map[string]any{"status": "processing", "transaction_id": txn, "meta_data": meta(MetaPaymentID, pay.ID)}, base
	case "cancelled":
		return map[string]any{"status": "processing", "transaction_id": txn,
				"meta_data": meta(MetaPaymentID, pay.ID, MetaAttention, "paid_after_cancel")},
			base + " The order had been cancelled before the payment arrived (paid after cancellation) and was moved back to Processing: check stock before shipping."
	default:
		return map[string]any{"transaction_id": txn, "meta_data": meta(MetaPaymentID, pay.ID, MetaAttention, "paid_while_"+o.Status)},
			base + fmt.Sprintf(" WARNING: the order was %q when the payment arrived; its status was not changed: please check it.", o.Status)
	}
}

// unpaidChange decides what a failed, cancelled or expired payment does: a
// failure moves a pending order to failed (the shopper can still pay it
// again); a cancel or an expired page leaves it pending. An order already
// paid, or with a newer attempt, only gets the note.
func unpaidChange(o *Order, pay *checkout.Payment, via string, newerAttempt bool) (map[string]any, string) {
	amount := pay.Amount.String() + " " + pay.Amount.Currency
	var note string
	switch pay.Status {
	case checkout.StatusFailed:
		note = fmt.Sprintf("Payment of %s via %s failed (gateway reference %s).", amount, methodName(pay, via), pay.GatewayRef)
	case checkout.StatusCanceled:
		note = fmt.Sprintf("The shopper cancelled the payment of %s on the gateway's page; the order still awaits payment.", amount)
	case checkout.StatusExpired:
		note = fmt.Sprintf("The payment of %s was not completed in time (the gateway's page expired); the order still awaits payment.", amount)
	default:
		return nil, ""
	}
	if pay.Status == checkout.StatusFailed && o.Status == "pending" && !newerAttempt && !isPaid(o) {
		return map[string]any{"status": "failed"}, note
	}
	return nil, note
}

// SyncRefund records a final refund on the order as a note.
func (p *Platform) SyncRefund(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment, r *checkout.Refund) error {
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		return checkout.Permanent("woocommerce refund sync", err)
	}
	id := wcOrderID(pay)
	notes, err := cl.Notes(ctx, id)
	if err != nil {
		return JobError("read notes of order "+id, err)
	}
	marker := noteMarker(r.ID, string(r.Status))
	if hasNote(notes, marker) {
		return nil
	}
	amount := r.Amount.String() + " " + r.Amount.Currency
	var note string
	if r.Status == checkout.RefundSucceeded {
		note = fmt.Sprintf("Refund of %s completed at the gateway (refund %s).", amount, firstNonEmpty(r.GatewayRef, r.ID))
	} else {
		note = fmt.Sprintf("Refund of %s FAILED at the gateway: no money was returned to the shopper. Any WooCommerce refund recorded for it does not reflect a real refund.", amount)
	}
	if r.Reason != "" {
		note += " Reason: " + r.Reason + "."
	}
	if err := cl.AddNote(ctx, id, note+" "+marker); err != nil {
		return JobError("add refund note to order "+id, err)
	}
	return nil
}
