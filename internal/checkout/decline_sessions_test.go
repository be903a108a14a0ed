package checkout_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// TestDeclineRefund: a refund refused before any gateway call is a failed
// refund row waiting to be synced (the reconciler finds it again), once
// per reference, concurrent requests included; it leaves what can be
// refunded untouched.
func TestDeclineRefund(t *testing.T) {
	b := setup(t)
	p := b.paid(t, "dr1", "5.000")
	seven, _ := checkout.ParseMoney("7.000", "KWD")
	req := checkout.RefundRequest{Amount: seven, Source: "shopify", Reference: "rs-1"}
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.svc.DeclineRefund(t.Context(), p.ID, req, "UPayments cannot refund more than was paid")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("same reference, different refunds: %v", ids)
		}
	}
	r, err := b.svc.Refund(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != checkout.RefundFailed || r.SyncState != checkout.SyncPending || r.Reason != "UPayments cannot refund more than was paid" ||
		r.Attempts != 0 || !r.Amount.Equal(seven) {
		t.Fatalf("refund: %+v", r)
	}
	if n := len(b.sim.Requests("create-refund")); n != 0 {
		t.Fatalf("%d gateway refunds", n)
	}
	refundSyncs := func() int {
		b.q.mu.Lock()
		defer b.q.mu.Unlock()
		n := 0
		for _, s := range b.q.syncs {
			if s == p.ID+"/"+r.ID {
				n++
			}
		}
		return n
	}
	if n := refundSyncs(); n != 1 {
		t.Fatalf("%d syncs of the declined refund enqueued", n)
	}
	// Durable: a reconciler pass later enqueues the unsynced rejection again.
	b.advance(time.Hour)
	if err := b.svc.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := refundSyncs(); n != 2 {
		t.Fatalf("reconcile did not re-enqueue the declined refund's sync: %d syncs", n)
	}
	// Nothing was taken from what is left to refund.
	refunds, _ := b.svc.Refunds(t.Context(), p.ID)
	if left := checkout.RefundAvailable(p, refunds); !left.Equal(p.Amount) {
		t.Fatalf("left to refund %s", left)
	}
	evs, _ := b.svc.Events(t.Context(), p.ID)
	declined := 0
	for _, e := range evs {
		if e.Kind == checkout.EventRefundDeclined && e.RefundID == r.ID {
			declined++
		}
	}
	if declined != 1 {
		t.Fatalf("%d refund_declined events", declined)
	}
	// An unreadable amount is recorded as zero in the payment's currency.
	z, err := b.svc.DeclineRefund(t.Context(), p.ID, checkout.RefundRequest{Source: "shopify", Reference: "rs-2"}, "invalid refund amount")
	if err != nil || z.Amount.Minor != 0 || z.Amount.Currency != "KWD" {
		t.Fatalf("zero refund: %+v %v", z, err)
	}
	var ve *checkout.ValidationError
	if _, err := b.svc.DeclineRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: seven}, "x"); !errors.As(err, &ve) {
		t.Fatalf("no reference: %v", err)
	}
	if _, err := b.svc.DeclineRefund(t.Context(), "pay_nope", req, "x"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("unknown payment: %v", err)
	}
}
