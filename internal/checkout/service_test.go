package checkout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/secrets"
	"paybridge/internal/store"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

// queue records what the core asks to enqueue.
type queue struct {
	mu                       sync.Mutex
	confirms, syncs, refunds []string
	confirmDelays            []time.Duration
}

func (q *queue) EnqueueConfirm(_ context.Context, id string, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.confirms = append(q.confirms, id)
	q.confirmDelays = append(q.confirmDelays, delay)
	return nil
}

func (q *queue) EnqueueSync(_ context.Context, id, refund string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.syncs = append(q.syncs, id+"/"+refund)
	return nil
}

func (q *queue) EnqueueRefund(_ context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refunds = append(q.refunds, id)
	return nil
}

type bundle struct {
	svc   *checkout.Service
	db    *store.DB
	sim   *upaytest.Server
	q     *queue
	shop  *checkout.Shop
	clock *clockwork.FakeClock
}

// setup returns a Service on a real SQLite store and the UPayments
// simulator, with a controllable clock.
func setup(t *testing.T) *bundle {
	t.Helper()
	kr, _, err := secrets.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "b.db"), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	sim := upaytest.NewServer()
	t.Cleanup(sim.Close)
	sim.SetNotifyPolicy(upaytest.NotifyPolicy{Drop: true})
	b := &bundle{db: db, sim: sim, q: &queue{}}
	start := time.Now().UTC()
	b.clock = clockwork.NewFakeClockAt(start)
	b.svc = checkout.NewService(db, b.q, checkout.Config{PublicURL: "https://bridge.example", AllowInsecureURLs: true,
		Clock: b.clock})
	b.svc.RegisterGateway(upay.New(upay.Config{SandboxURL: sim.APIBase()}))
	b.shop = &checkout.Shop{ID: checkout.NewID("shop"), Name: "s", Platform: checkout.PlatformAPI, CreatedAt: start,
		Gateway: checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}}}
	if err := db.CreateShop(t.Context(), b.shop); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) advance(d time.Duration) { b.clock.Advance(d) }

func (b *bundle) pay(t *testing.T, order, amount string) *checkout.Payment {
	t.Helper()
	m, _ := checkout.ParseMoney(amount, "KWD")
	p, _, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: order, Amount: m}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (b *bundle) paid(t *testing.T, order, amount string) *checkout.Payment {
	t.Helper()
	p := b.pay(t, order, amount)
	if _, err := b.sim.Complete(p.GatewayRef, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	p, err := b.svc.Confirm(t.Context(), p.ID, "test")
	if err != nil || p.Status != checkout.StatusPaid {
		t.Fatalf("confirm: %v %v", p, err)
	}
	return p
}

func transitionsTo(t *testing.T, b *bundle, id string, to checkout.Status) int {
	evs, err := b.svc.Events(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == checkout.EventTransition && e.To == string(to) {
			n++
		}
	}
	return n
}

func TestConcurrentConfirmsMakeOneTransition(t *testing.T) {
	b := setup(t)
	p := b.pay(t, "o1", "12.345")
	if _, err := b.sim.Complete(p.GatewayRef, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.svc.ConfirmPayment(t.Context(), p.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := transitionsTo(t, b, p.ID, checkout.StatusPaid); n != 1 {
		t.Fatalf("%d transitions to paid", n)
	}
	if len(b.q.syncs) != 1 {
		t.Fatalf("syncs enqueued: %v", b.q.syncs)
	}
	got, _ := b.svc.Payment(t.Context(), p.ID)
	if got.SyncState != checkout.SyncPending || got.TransactionID == "" || got.GatewayData["refund_order_id"] == "" {
		t.Fatalf("paid payment: %+v", got)
	}
}

func TestConcurrentRefundsCannotOverdraw(t *testing.T) {
	b := setup(t)
	p := b.paid(t, "o2", "10.000")
	one, _ := checkout.ParseMoney("1.000", "KWD")
	var ok, exceeded atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := b.svc.CreateRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: one, Source: "test"})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, checkout.ErrRefundExceeds):
				exceeded.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || exceeded.Load() != 10 {
		t.Fatalf("%d refunds accepted, %d refused; want 10 and 10", ok.Load(), exceeded.Load())
	}
	for _, id := range b.q.refunds {
		if err := b.svc.ProcessRefund(t.Context(), id); err != nil && !errors.Is(err, checkout.ErrNotSettled) {
			t.Fatal(err)
		}
		if err := b.svc.ProcessRefund(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := b.svc.Payment(t.Context(), p.ID)
	if got.Refunded.String() != "10.000" {
		t.Fatalf("refunded %s", got.Refunded)
	}
}

func TestExpiry(t *testing.T) {
	b := setup(t)
	p := b.pay(t, "o3", "1.000")
	b.advance(59 * time.Minute)
	if q, err := b.svc.Confirm(t.Context(), p.ID, "reconciler"); err != nil || q.Status != checkout.StatusCreated {
		t.Fatalf("before the page lifetime: %v %v", q.Status, err)
	}
	b.advance(2 * time.Minute)
	q, err := b.svc.Confirm(t.Context(), p.ID, "reconciler")
	if err != nil || q.Status != checkout.StatusExpired || q.SyncState != checkout.SyncPending {
		t.Fatalf("after the page lifetime: %+v %v", q, err)
	}
	// A shopper who pays at the last moment is not lost: the last check
	// before expiry sees it.
	p2 := b.pay(t, "o4", "1.000")
	b.sim.Complete(p2.GatewayRef, upaytest.Captured)
	b.advance(2 * time.Hour)
	if q, _ := b.svc.Confirm(t.Context(), p2.ID, "reconciler"); q.Status != checkout.StatusPaid {
		t.Fatalf("paid just before expiry became %s", q.Status)
	}
}

func TestChargeFailureThenRetry(t *testing.T) {
	b := setup(t)
	b.sim.FailNext("charge", 500, `{"message":"down"}`)
	m, _ := checkout.ParseMoney("2.000", "KWD")
	req := checkout.PaymentRequest{OrderID: "o5", Amount: m}
	p, created, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, req, "test")
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) || !ge.Temporary || !created || p.GatewayURL != "" || p.Status != checkout.StatusCreated {
		t.Fatalf("failed charge: %+v created=%v err=%v", p, created, err)
	}
	// The shopper's visit creates the charge.
	url, p, err := b.svc.Redirect(t.Context(), p.ID)
	if err != nil || url == "" || p.Status != checkout.StatusRedirected {
		t.Fatalf("redirect after a failed charge: %q %v %v", url, p, err)
	}
	// The merchant retrying the same request gets the same payment.
	again, created, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, req, "test")
	if err != nil || created || again.ID != p.ID || again.GatewayURL != url {
		t.Fatalf("retry: %+v %v %v", again, created, err)
	}
	if n := len(b.sim.Charges()); n != 2 {
		t.Fatalf("%d charge calls, want 2 (one failed, one made)", n)
	}
}

func TestRefundOutcomeUnknownIsNotResubmitted(t *testing.T) {
	b := setup(t)
	p := b.paid(t, "o6", "5.000")
	one, _ := checkout.ParseMoney("1.000", "KWD")
	r, _, err := b.svc.CreateRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: one, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b.sim.FailNext("create-refund", 504, "gateway timeout")
	if err := b.svc.ProcessRefund(t.Context(), r.ID); !checkout.IsPermanent(err) {
		t.Fatalf("ambiguous refund: %v", err)
	}
	if err := b.svc.ProcessRefund(t.Context(), r.ID); !checkout.IsPermanent(err) {
		t.Fatalf("replayed ambiguous refund: %v", err)
	}
	if n := len(b.sim.Requests("create-refund")); n != 1 {
		t.Fatalf("create-refund called %d times; an unknown outcome must never be resubmitted", n)
	}
	got, _ := b.svc.Refund(t.Context(), r.ID)
	if got.Status != checkout.RefundPending {
		t.Fatalf("refund %s", got.Status)
	}
	// A definite refusal fails the refund and frees the amount.
	r2, _, _ := b.svc.CreateRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: one, Source: "test"})
	b.sim.FailNext("create-refund", 422, `{"message":"The order cannot be refunded"}`)
	if err := b.svc.ProcessRefund(t.Context(), r2.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.svc.Refund(t.Context(), r2.ID); got.Status != checkout.RefundFailed {
		t.Fatalf("refused refund is %s", got.Status)
	}
	four, _ := checkout.ParseMoney("4.000", "KWD")
	if _, _, err := b.svc.CreateRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: four, Source: "test"}); err != nil {
		t.Fatalf("the failed refund's amount should be free again: %v", err)
	}
}

func TestRefundReferenceIsIdempotent(t *testing.T) {
	b := setup(t)
	p := b.paid(t, "o7", "5.000")
	one, _ := checkout.ParseMoney("1.000", "KWD")
	two, _ := checkout.ParseMoney("2.000", "KWD")
	req := checkout.RefundRequest{Amount: one, Source: "shopify", Reference: "gid://shopify/RefundSession/1"}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	var created atomic.Int32
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, c, err := b.svc.CreateRefund(t.Context(), p.ID, req)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = r.ID
			if c {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("same reference, different refunds: %v", ids)
		}
	}
	if created.Load() != 1 {
		t.Fatalf("%d created", created.Load())
	}
	req.Amount = two
	if _, _, err := b.svc.CreateRefund(t.Context(), p.ID, req); !errors.Is(err, checkout.ErrIdempotencyConflict) {
		t.Fatalf("same reference, other amount: %v", err)
	}
}

// TestReconcileSpacesRechecks: a fresh open payment is re-checked every
// ReconcileAfter, an old one at most every quarter of its age (capped at 15
// minutes), and one past its expiry at once.
func TestReconcileSpacesRechecks(t *testing.T) {
	b := setup(t)
	p := b.pay(t, "o8", "1.000")
	confirms := func() int {
		b.q.mu.Lock()
		defer b.q.mu.Unlock()
		n := 0
		for _, id := range b.q.confirms {
			if id == p.ID {
				n++
			}
		}
		b.q.confirms = nil
		return n
	}
	step := func(d time.Duration, wantDue bool) {
		t.Helper()
		b.advance(d)
		if err := b.svc.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := confirms(); (got == 1) != wantDue {
			t.Fatalf("at age %s: %d confirms enqueued, want due=%v", b.clock.Now().Sub(p.CreatedAt), got, wantDue)
		}
		if wantDue {
			if err := b.svc.ConfirmPayment(t.Context(), p.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	step(3*time.Minute, true)           // never checked
	step(time.Minute, false)            // checked 1m ago, spacing 2m
	step(time.Minute+time.Second, true) // 2m1s ago (the first check stored the gateway's data: updated 2m1s ago too)
	step(35*time.Minute, true)          // age 40m: spacing 10m, last check 35m ago
	step(5*time.Minute, false)          // age 45m: spacing 11.25m, last check 5m ago
	step(9*time.Minute, true)           // age 54m: spacing 13.5m, last check 14m ago
	step(15*time.Minute, true)          // past expiry (1h): one last check, then expired
	got, _ := b.svc.Payment(t.Context(), p.ID)
	if got.Status != checkout.StatusExpired || got.CheckedAt.IsZero() {
		t.Fatalf("after the last check: %s, checked %v", got.Status, got.CheckedAt)
	}
	// created with its charge (one write), gateway data stored at the
	// first check, expired: the five other checks are not state changes.
	if got.Version != 3 {
		t.Fatalf("version %d: re-checks bumped the version", got.Version)
	}
}

// TestRedirectExtendsExpiry: the page's lifetime counts from when the
// shopper lands on it, so a link opened late does not expire early.
func TestRedirectExtendsExpiry(t *testing.T) {
	b := setup(t)
	p := b.pay(t, "o9", "1.000")
	b.advance(55 * time.Minute)
	if _, _, err := b.svc.Redirect(t.Context(), p.ID); err != nil {
		t.Fatal(err)
	}
	b.advance(30 * time.Minute) // 85 minutes after creation, 30 after landing
	got, err := b.svc.Confirm(t.Context(), p.ID, "reconciler")
	if err != nil || got.Status != checkout.StatusRedirected {
		t.Fatalf("30 minutes after landing: %s %v", got.Status, err)
	}
	b.advance(31 * time.Minute)
	if got, _ := b.svc.Confirm(t.Context(), p.ID, "reconciler"); got.Status != checkout.StatusExpired {
		t.Fatalf("61 minutes after landing: %s", got.Status)
	}
}

// TestIdempotentRefundIsResubmitted: on a gateway that deduplicates refunds
// by our id (Checkout.com), a refund whose outcome is unknown is sent again
// rather than archived; elsewhere it never is (see
// TestRefundOutcomeUnknownIsNotResubmitted).
func TestIdempotentRefundIsResubmitted(t *testing.T) {
	b := setup(t)
	sim := ckotest.NewServer()
	t.Cleanup(sim.Close)
	b.svc.RegisterGateway(cko.New(cko.Config{SandboxURL: sim.APIBase()}))
	shop := &checkout.Shop{ID: checkout.NewID("shop"), Name: "k", Platform: checkout.PlatformAPI, CreatedAt: time.Now(),
		Gateway: checkout.GatewayAccount{Gateway: "cko", Sandbox: true, Credentials: map[string]string{
			cko.CredSecretKey: ckotest.DefaultSecretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel, cko.CredWebhookKey: ckotest.DefaultWebhookKey}}}
	if err := b.db.CreateShop(t.Context(), shop); err != nil {
		t.Fatal(err)
	}
	m, _ := checkout.ParseMoney("5.000", "KWD")
	p, _, err := b.svc.CreatePayment(t.Context(), shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "k1", Amount: m}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Complete(p.GatewayRef, ckotest.Captured); err != nil {
		t.Fatal(err)
	}
	if p, err = b.svc.Confirm(t.Context(), p.ID, "test"); err != nil || p.Status != checkout.StatusPaid {
		t.Fatalf("confirm: %v %v", p.Status, err)
	}
	one, _ := checkout.ParseMoney("1.000", "KWD")
	r, _, err := b.svc.CreateRefund(t.Context(), p.ID, checkout.RefundRequest{Amount: one, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	sim.FailNext("POST /payments/", 504, "gateway timeout")
	if err := b.svc.ProcessRefund(t.Context(), r.ID); err == nil || checkout.IsPermanent(err) {
		t.Fatalf("unknown outcome on an idempotent gateway: %v (want a retryable error)", err)
	}
	for range 5 {
		err = b.svc.ProcessRefund(t.Context(), r.ID)
		if got, _ := b.svc.Refund(t.Context(), r.ID); got.Status == checkout.RefundSucceeded {
			break
		}
	}
	got, _ := b.svc.Refund(t.Context(), r.ID)
	if got.Status != checkout.RefundSucceeded || got.Attempts != 2 {
		t.Fatalf("refund %s after %d attempts (%v)", got.Status, got.Attempts, err)
	}
}

func TestDecline(t *testing.T) {
	b := setup(t)
	m, _ := checkout.ParseMoney("1.235", "KWD")
	req := checkout.PaymentRequest{OrderID: "d1", Amount: m}
	p, err := b.svc.Decline(t.Context(), b.shop, checkout.PlatformShopify, req, "Checkout.com cannot charge 1.235 KWD", "shopify")
	if err != nil || p.Status != checkout.StatusFailed || p.SyncState != checkout.SyncPending || p.Metadata[checkout.MetaDeclineReason] == "" {
		t.Fatalf("declined: %+v %v", p, err)
	}
	again, err := b.svc.Decline(t.Context(), b.shop, checkout.PlatformShopify, req, "again", "shopify")
	if err != nil || again.ID != p.ID {
		t.Fatalf("second decline: %v %v", again, err)
	}
	if len(b.q.syncs) != 1 || len(b.sim.Charges()) != 0 {
		t.Fatalf("syncs %v, charges %d", b.q.syncs, len(b.sim.Charges()))
	}
	evs, _ := b.svc.Events(t.Context(), p.ID)
	if len(evs) != 1 || evs[0].Kind != checkout.EventDeclined {
		t.Fatalf("events: %+v", evs)
	}
}

// Erasing a customer is a compare-and-set with an audit event, confined to
// the shop, and done once.
func TestRedactCustomer(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	m, _ := checkout.ParseMoney("2.000", "KWD")
	pr, _ := checkout.ParseMoney("2.000", "KWD")
	p, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "r1", Amount: m,
		Customer: checkout.Customer{Name: "Fatima", Email: "f@example.com", Mobile: "96550000000"},
		Products: []checkout.Product{{Name: "Dates", Price: pr, Quantity: 1}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.RedactCustomer(ctx, "shop_other", p.ID, "privacy request", "test"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("another shop's redaction: %v", err)
	}
	for range 2 {
		if err := b.svc.RedactCustomer(ctx, b.shop.ID, p.ID, "privacy request", "test"); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := b.svc.Payment(ctx, p.ID)
	if got.Customer != (checkout.Customer{}) || got.Products != nil || !got.Amount.Equal(m) || got.OrderID != "r1" {
		t.Fatalf("after redaction: %+v", got)
	}
	evs, _ := b.svc.Events(ctx, p.ID)
	n := 0
	for _, e := range evs {
		if e.Kind == checkout.EventCustomerRedacted {
			n++
			if !strings.Contains(string(e.Detail), "privacy request") || e.Source != "test" {
				t.Errorf("event %+v %s", e, e.Detail)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d redaction events, want 1", n)
	}
}

// A returning customer's saved cards: the first payment that asks to save
// the card makes the customer's token (registered at UPayments, kept
// sealed), later payments carry the same token so the page shows the
// cards, another customer gets another, and a forgotten customer none.
func TestSavedCards(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	m, _ := checkout.ParseMoney("5.000", "KWD")
	pay := func(order, customer string, save bool) string {
		t.Helper()
		_, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: order, Amount: m,
			Customer: checkout.Customer{Name: "Fatima", Email: "f@example.com", UniqueID: customer}, Options: checkout.Options{SaveCard: save}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		charges := b.sim.Charges()
		var body struct {
			Tokens struct {
				CustomerUniqueToken json.Number `json:"customerUniqueToken"`
			} `json:"tokens"`
			IsSaveCard bool `json:"isSaveCard"`
		}
		if err := json.Unmarshal(charges[len(charges)-1], &body); err != nil {
			t.Fatal(err)
		}
		if body.IsSaveCard != save {
			t.Errorf("%s: isSaveCard %v", order, body.IsSaveCard)
		}
		return body.Tokens.CustomerUniqueToken.String()
	}
	if tok := pay("c0", "cust-1", false); tok != "" {
		t.Fatalf("a token for a customer who never saved a card: %s", tok)
	}
	tok := pay("c1", "cust-1", true)
	if len(tok) != 16 {
		t.Fatalf("token %q", tok)
	}
	if _, err := b.sim.SaveCard(tok); err != nil {
		t.Fatalf("the token is not registered at UPayments: %v", err)
	}
	if again := pay("c2", "cust-1", false); again != tok {
		t.Fatalf("returning customer: token %q, want %q", again, tok)
	}
	if again := pay("c3", "cust-1", true); again != tok {
		t.Fatalf("saving again: token %q, want %q", again, tok)
	}
	if other := pay("c4", "cust-2", true); other == "" || other == tok {
		t.Fatalf("another customer's token %q", other)
	}
	if n, err := b.svc.ForgetCustomer(ctx, b.shop, "cust-1", "test"); err != nil || n != 1 {
		t.Fatalf("forget: %d %v", n, err)
	}
	if after := pay("c5", "cust-1", false); after != "" {
		t.Fatalf("a forgotten customer's token %q", after)
	}
	// No customer id, no saved card.
	_, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "c6", Amount: m,
		Options: checkout.Options{SaveCard: true}}, "test")
	var ve *checkout.ValidationError
	if !errors.As(err, &ve) || ve.Field != "customer.unique_id" {
		t.Fatalf("save without a customer: %v", err)
	}
}

// A burst of abandoned payments of one shop is re-checked at most
// ReconcileShopBudget a minute (its share per pass), the rest, least
// recently checked first, in later passes. With the bridge's defaults
// (a pass every 15 s, re-checks after 20 s) an abandoned UPayments payment
// (one hour) is asked about 12 times by the reconciler over its life.
func TestReconcileShopBudget(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	q := &queue{}
	svc := checkout.NewService(b.db, q, checkout.Config{PublicURL: "https://bridge.example", AllowInsecureURLs: true, Clock: b.clock,
		ReconcileAfter: 20 * time.Second, ReconcileInterval: 15 * time.Second})
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: b.sim.APIBase()}))
	for i := range 20 {
		b.pay(t, fmt.Sprintf("burst-%d", i), "1.000")
	}
	pass := func() map[string]bool {
		t.Helper()
		q.mu.Lock()
		q.confirms = nil
		q.mu.Unlock()
		if err := svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		q.mu.Lock()
		ids := append([]string(nil), q.confirms...)
		q.mu.Unlock()
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
			if err := svc.ConfirmPayment(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		return seen
	}
	b.advance(30 * time.Second)
	checked := map[string]bool{}
	for n := 0; len(checked) < 20; n++ {
		if n > 10 {
			t.Fatalf("after %d passes only %d of 20 payments checked", n, len(checked))
		}
		got := pass()
		if len(got) > 3 {
			t.Fatalf("a pass re-checked %d payments of one shop, over its share of 15 a minute (3 a 15 s pass)", len(got))
		}
		for id := range got {
			if checked[id] {
				t.Fatalf("%s checked twice while others waited", id)
			}
			checked[id] = true
		}
		b.advance(15 * time.Second)
	}

	// One payment's whole life, a pass every 15 s.
	p := b.pay(t, "abandoned", "1.000")
	var ages []string
	for range 4 * 70 {
		b.advance(15 * time.Second)
		if pass()[p.ID] {
			ages = append(ages, b.clock.Now().Sub(p.CreatedAt).String())
		}
	}
	if got, _ := svc.Payment(ctx, p.ID); got.Status != checkout.StatusExpired || len(ages) != 12 {
		t.Fatalf("abandoned payment: %s after status checks at ages %v", got.Status, ages)
	}
	t.Logf("status checks of an abandoned payment at ages %v", ages)
}

// The hot path: a notification is confirmed at once in the receiving
// process (the payment is paid and its sync enqueued before any queue
// confirm runs), with a confirm enqueued after FallbackDelay in case the
// process dies; with the hot path off or full, the queue confirms.
func TestHotPath(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	q := &queue{}
	svc := checkout.NewService(b.db, q, checkout.Config{PublicURL: "https://bridge.example", AllowInsecureURLs: true,
		HotConfirms: 1, FallbackDelay: 20 * time.Second})
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: b.sim.APIBase()}))
	notify := func(svc *checkout.Service, p *checkout.Payment) {
		t.Helper()
		form := url.Values{"result": {"CAPTURED"}, "track_id": {p.GatewayRef}}
		if err := svc.Notify(ctx, "upay", p.ID, checkout.CallbackRequest{Method: "POST", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(form.Encode())}); err != nil {
			t.Fatal(err)
		}
	}

	p := b.pay(t, "hot-1", "2.000")
	if _, err := b.sim.Complete(p.GatewayRef, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	notify(svc, p)
	svc.Wait()
	if got, _ := svc.Payment(ctx, p.ID); got.Status != checkout.StatusPaid {
		t.Fatalf("after the hot confirm: %s", got.Status)
	}
	q.mu.Lock()
	if len(q.confirms) != 1 || q.confirmDelays[0] != 20*time.Second || len(q.syncs) != 1 {
		t.Fatalf("queue: confirms %v after %v, syncs %v; want one fallback after 20s and the sync", q.confirms, q.confirmDelays, q.syncs)
	}
	q.mu.Unlock()

	// Off (the test bundle's service): the queue confirms, at once.
	p2 := b.pay(t, "hot-2", "2.000")
	b.sim.Complete(p2.GatewayRef, upaytest.Captured)
	notify(b.svc, p2)
	if got, _ := b.svc.Payment(ctx, p2.ID); got.Status == checkout.StatusPaid {
		t.Fatal("paid without a confirm")
	}
	b.q.mu.Lock()
	last := b.q.confirmDelays[len(b.q.confirmDelays)-1]
	b.q.mu.Unlock()
	if last != 0 {
		t.Fatalf("queue confirm after %s, want at once", last)
	}
}

// The log tells a payment's story: one line per transition and per store
// sync, each with the payment, shop and order ids and a duration in ms.
func TestLogsTellTheStory(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	var buf syncLog
	svc := checkout.NewService(b.db, &queue{}, checkout.Config{PublicURL: "https://bridge.example", AllowInsecureURLs: true,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: b.sim.APIBase()}))
	svc.RegisterSyncer(checkout.PlatformAPI, syncerFunc(func() error { return nil }))
	m, _ := checkout.ParseMoney("1.500", "KWD")
	p, _, err := svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "story-1", Amount: m}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Redirect(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	b.sim.Complete(p.GatewayRef, upaytest.Captured)
	if _, err := svc.Confirm(ctx, p.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if err := svc.SyncPayment(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["payment"] == p.ID {
			lines = append(lines, m)
		}
	}
	var story []string
	for _, l := range lines {
		if l["shop"] != b.shop.ID || l["order"] != "story-1" {
			t.Errorf("line without the shop or order: %v", l)
		}
		if _, ok := l["took_ms"].(float64); !ok {
			t.Errorf("line without a duration: %v", l)
		}
		story = append(story, fmt.Sprint(l["msg"], " ", l["to"]))
	}
	if want := []string{"payment transition redirected", "payment transition paid", "store synced <nil>"}; strings.Join(story, ";") != strings.Join(want, ";") {
		t.Fatalf("story %q, want %q", story, want)
	}
}

// syncLog is a log buffer safe for concurrent writers.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// syncerFunc is a store that answers with f.
type syncerFunc func() error

func (f syncerFunc) SyncPayment(context.Context, *checkout.Shop, *checkout.Payment) error { return f() }
func (f syncerFunc) SyncRefund(context.Context, *checkout.Shop, *checkout.Payment, *checkout.Refund) error {
	return f()
}

// TestSyncAttemptsRecorded: every failed attempt to tell the store is on
// the payment's audit trail with what the store answered, and the success
// after them; a refund's attempts are recorded with the refund.
func TestSyncAttemptsRecorded(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	answers := []error{errors.New("callback_url answered HTTP 503: \"down\""), errors.New("callback_url answered HTTP 502: \"\""), nil}
	svc := checkout.NewService(b.db, &queue{}, checkout.Config{PublicURL: "https://bridge.example", AllowInsecureURLs: true})
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: b.sim.APIBase()}))
	next := 0
	svc.RegisterSyncer(checkout.PlatformAPI, syncerFunc(func() error {
		err := answers[next%len(answers)]
		next++
		return err
	}))
	m, _ := checkout.ParseMoney("2.000", "KWD")
	p, _, err := svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "attempts-1", Amount: m}, "test")
	if err != nil {
		t.Fatal(err)
	}
	b.sim.Complete(p.GatewayRef, upaytest.Captured)
	if _, err := svc.Confirm(ctx, p.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := svc.SyncPayment(ctx, p.ID); (err != nil) != (i < 2) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	evs, err := svc.Events(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		switch e.Kind {
		case checkout.EventSyncAttemptFailed:
			var d map[string]any
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(d["error"]))
		case checkout.EventSyncSucceeded:
			got = append(got, "synced")
		}
	}
	want := []string{`callback_url answered HTTP 503: "down"`, `callback_url answered HTTP 502: ""`, "synced"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("attempts %q, want %q", got, want)
	}
}
