package checkout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/upay"
)

// declaresNothing is an adapter whose Capabilities are the zero value.
type declaresNothing struct{ checkout.Gateway }

func (declaresNothing) Capabilities() checkout.Capabilities { return checkout.Capabilities{} }

// noRefunder hides an adapter's Refund methods (the embedded interface has
// none) while passing on Capabilities that declare refunds.
type noRefunder struct{ checkout.Gateway }

// gatewaysSetup registers Checkout.com and KuPay on their simulators next
// to UPayments and returns a shop for each.
func gatewaysSetup(t *testing.T) (b *bundle, ckoShop, kupayShop *checkout.Shop, ckoSim *ckotest.Server, kupaySim *kupaytest.Server) {
	b = setup(t)
	ckoSim, kupaySim = ckotest.NewServer(), kupaytest.NewServer()
	t.Cleanup(ckoSim.Close)
	t.Cleanup(kupaySim.Close)
	b.svc.RegisterGateway(cko.New(cko.Config{SandboxURL: ckoSim.APIBase()}))
	b.svc.RegisterGateway(kupay.New(kupay.Config{BaseURL: kupaySim.APIBase()}))
	ckoShop = &checkout.Shop{ID: checkout.NewID("shop"), Name: "c", Platform: checkout.PlatformAPI, CreatedAt: time.Now(),
		Gateway: checkout.GatewayAccount{Gateway: "cko", Sandbox: true, Credentials: map[string]string{
			cko.CredSecretKey: ckotest.DefaultSecretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel, cko.CredWebhookKey: ckotest.DefaultWebhookKey}}}
	kupayShop = &checkout.Shop{ID: checkout.NewID("shop"), Name: "k", Platform: checkout.PlatformAPI, CreatedAt: time.Now(),
		Gateway: checkout.GatewayAccount{Gateway: "kupay", Credentials: map[string]string{kupay.CredToken: kupaytest.DefaultToken}}}
	for _, s := range []*checkout.Shop{ckoShop, kupayShop} {
		if err := b.db.CreateShop(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	return b, ckoShop, kupayShop, ckoSim, kupaySim
}

func unsupported(t *testing.T, err error, gateway string, feature checkout.Feature, reason string) {
	t.Helper()
	var ue *checkout.UnsupportedError
	if !errors.As(err, &ue) || ue.Gateway != gateway || ue.Feature != feature || !strings.Contains(ue.Reason, reason) || !errors.Is(err, checkout.ErrUnsupported) {
		t.Fatalf("got %v, want %s refusing %s: %q", err, gateway, feature, reason)
	}
}

func TestCapabilitiesRefuseEarly(t *testing.T) {
	b, ckoShop, kupayShop, ckoSim, kupaySim := gatewaysSetup(t)
	ctx := t.Context()
	kwd, _ := checkout.ParseMoney("1.235", "KWD")

	// KWD on KuPay: refused, nothing stored, nothing sent.
	_, _, err := b.svc.CreatePayment(ctx, kupayShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "k1", Amount: kwd}, "test")
	unsupported(t, err, "kupay", checkout.FeatureCurrency, "KuPay does not accept KWD")
	if _, err := b.db.PaymentByOrder(ctx, kupayShop.ID, "k1"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("a refused payment was stored: %v", err)
	}
	if n := len(kupaySim.Requests("create")); n != 0 {
		t.Fatalf("%d requests reached KuPay", n)
	}

	// 1.235 KWD on Checkout.com: refused with the reason; 1.230 charged.
	_, _, err = b.svc.CreatePayment(ctx, ckoShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "c1", Amount: kwd}, "test")
	unsupported(t, err, "cko", checkout.FeatureAmount, "Checkout.com needs 3-decimal amounts to end in 0; 1.235 KWD cannot be charged exactly")
	if n := len(ckoSim.Requests("POST /payments")); n != 0 {
		t.Fatalf("%d requests reached Checkout.com", n)
	}
	ok, _ := checkout.ParseMoney("1.230", "KWD")
	p, _, err := b.svc.CreatePayment(ctx, ckoShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "c2", Amount: ok}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// The KNET page lifetime drives the expiry.
	if got := p.ExpiresAt.Sub(p.CreatedAt); got != cko.PageLifetime+checkout.ExpiryGrace {
		t.Fatalf("KNET payment expires after %s", got)
	}
	if up := b.pay(t, "u1", "1.000"); up.ExpiresAt.Sub(up.CreatedAt) != time.Hour {
		t.Fatalf("UPayments payment expires after %s", up.ExpiresAt.Sub(up.CreatedAt))
	}

	// Features.
	unsupported(t, b.svc.Supports("cko", checkout.FeatureCapture), "cko", checkout.FeatureCapture, "Checkout.com does not support authorize now and capture later")
	unsupported(t, b.svc.Supports("kupay", checkout.FeatureRefund), "kupay", checkout.FeatureRefund, "KuPay does not support refunds")
	unsupported(t, b.svc.Supports("upay", checkout.FeatureCapture), "upay", checkout.FeatureCapture, "UPayments")
	for _, f := range []checkout.Feature{checkout.FeatureRefund, checkout.FeaturePartialRefund, checkout.FeatureMultipleRefunds, checkout.FeatureSignedNotifications} {
		if err := b.svc.Supports("cko", f); err != nil {
			t.Errorf("cko %s: %v", f, err)
		}
	}
	if err := b.svc.Supports("paypal", checkout.FeatureRefund); !errors.Is(err, checkout.ErrUnknownGateway) {
		t.Fatalf("unknown gateway: %v", err)
	}
	if err := b.svc.CheckPayment("cko", ok); err != nil {
		t.Fatal(err)
	}

	// A refund on KuPay is refused before anything is recorded.
	usd, _ := checkout.ParseMoney("10.00", "USD")
	kp, _, err := b.svc.CreatePayment(ctx, kupayShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "k2", Amount: usd}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kupaySim.Complete(kp.GatewayRef, kupaytest.Paid); err != nil {
		t.Fatal(err)
	}
	if kp, err = b.svc.Confirm(ctx, kp.ID, "test"); err != nil || kp.Status != checkout.StatusPaid {
		t.Fatalf("KuPay payment: %v %v", kp, err)
	}
	one, _ := checkout.ParseMoney("1.00", "USD")
	_, _, err = b.svc.CreateRefund(ctx, kp.ID, checkout.RefundRequest{Amount: one, Source: "test"})
	unsupported(t, err, "kupay", checkout.FeatureRefund, "KuPay does not support refunds")
	if rs, _ := b.svc.Refunds(ctx, kp.ID); len(rs) != 0 {
		t.Fatalf("refunds recorded: %d", len(rs))
	}
	if err := b.svc.CheckRefund(ctx, kp.ID, one); err == nil {
		t.Fatal("CheckRefund allowed a KuPay refund")
	}
}

func TestCapabilitiesDenyWhatIsNotDeclared(t *testing.T) {
	b := setup(t)
	b.svc.RegisterGateway(declaresNothing{upay.New(upay.Config{})}) // replaces "upay"
	c, ok := b.svc.Capabilities("upay")
	if !ok || c.Refunds || c.PartialRefunds || c.AuthorizeCapture || c.SavedCards || c.Invoices || c.Currencies != nil || c.DisplayName != "upay" {
		t.Fatalf("a gateway declaring nothing: %+v", c)
	}
	for _, f := range []checkout.Feature{checkout.FeatureRefund, checkout.FeatureCapture, checkout.FeatureSavedCards, checkout.FeatureInvoices} {
		if err := b.svc.Supports("upay", f); !errors.Is(err, checkout.ErrUnsupported) {
			t.Errorf("%s on a gateway declaring nothing: %v", f, err)
		}
	}
	// Declared but without the interface that does it: still refused.
	b.svc.RegisterGateway(noRefunder{upay.New(upay.Config{})})
	if c, _ := b.svc.Capabilities("upay"); c.Refunds || c.PartialRefunds || c.MultipleRefunds || !c.Invoices {
		t.Fatalf("refunds declared without a Refunder: %+v", c)
	}
	unsupported(t, b.svc.Supports("upay", checkout.FeatureRefund), "upay", checkout.FeatureRefund, "UPayments does not support refunds")
}

func TestCapabilitiesAmountRules(t *testing.T) {
	rule := checkout.Capabilities{DisplayName: "G", AmountRules: []checkout.AmountRule{{Exponent: 2, MinorMultiple: 5, Why: "cents in fives"}}, MaxMinor: 100000}
	for _, tt := range []struct {
		amount, cur string
		ok          bool
	}{{"1.05", "USD", true}, {"1.01", "USD", false}, {"1.001", "KWD", true}, {"1000.00", "USD", true}, {"1000.05", "USD", false}} {
		m, _ := checkout.ParseMoney(tt.amount, tt.cur)
		if err := rule.CheckAmount("g", m); tt.ok != (err == nil) {
			t.Errorf("%s %s: %v", tt.amount, tt.cur, err)
		}
	}
}

// An invoice is a feature the payment asks the core for: refused on a
// gateway without invoices, refused with a bad delivery, kept on the
// payment, and turned into UPayments' create-invoice by its adapter.
func TestInvoiceOption(t *testing.T) {
	b, _, kupayShop, _, _ := gatewaysSetup(t)
	ctx := t.Context()
	usd, _ := checkout.ParseMoney("10.00", "USD")
	inv := checkout.Options{Invoice: &checkout.Invoice{Notify: checkout.NotifyEmail}}
	fatima := checkout.Customer{Name: "Fatima", Email: "f@example.com"}
	_, _, err := b.svc.CreatePayment(ctx, kupayShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "k1", Amount: usd, Options: inv, Customer: fatima}, "test")
	unsupported(t, err, "kupay", checkout.FeatureInvoices, "KuPay does not support invoices")

	kwd, _ := checkout.ParseMoney("3.500", "KWD")
	bad := checkout.Options{Invoice: &checkout.Invoice{Notify: "fax"}}
	_, _, err = b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "u0", Amount: kwd, Options: bad}, "test")
	var ve *checkout.ValidationError
	if !errors.As(err, &ve) || ve.Field != "invoice.notify" {
		t.Fatalf("notify fax: %v", err)
	}

	// An e-mail or SMS invoice needs where to send it.
	for notify, field := range map[string]string{checkout.NotifyEmail: "customer.email", checkout.NotifySMS: "customer.mobile", checkout.NotifyAll: "customer.mobile"} {
		_, _, err = b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "u-" + notify, Amount: kwd,
			Options: checkout.Options{Invoice: &checkout.Invoice{Notify: notify}}, Customer: checkout.Customer{Email: map[bool]string{true: "f@example.com"}[notify == checkout.NotifyAll]}}, "test")
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s invoice without its contact: %v, want %s", notify, err, field)
		}
	}

	req := checkout.PaymentRequest{OrderID: "u1", Amount: kwd, Options: inv, Customer: fatima}
	p, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, req, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.svc.Payment(ctx, p.ID)
	if err != nil || got.Options.Invoice == nil || got.Options.Invoice.Notify != checkout.NotifyEmail || !got.Options.Invoice.Sends() {
		t.Fatalf("stored options: %+v %v", got.Options, err)
	}
	if email, sms := got.InvoiceSent(); !email || sms {
		t.Errorf("invoice sent by e-mail %v, by SMS %v", email, sms)
	}
	// An invoice is watched for a week, not the page's hour, and asking
	// again never sends it twice (it has no page, but it exists).
	if d := got.ExpiresAt.Sub(got.CreatedAt); d != 7*24*time.Hour {
		t.Errorf("an invoice expires after %s", d)
	}
	sent := len(b.sim.Charges())
	if again, created, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, req, "test"); err != nil || created || again.ID != p.ID {
		t.Fatalf("asking again: %v %v %v", again, created, err)
	}
	if _, _, err := b.svc.Redirect(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(b.sim.Charges()); n != sent {
		t.Fatalf("the invoice was sent again: %d charges, was %d", n, sent)
	}
	charges := b.sim.Charges()
	last := string(charges[len(charges)-1])
	if !strings.Contains(last, `"src":"create-invoice"`) || !strings.Contains(last, `"notificationType":"email"`) {
		t.Fatalf("sent %s", last)
	}
	// The options are part of the request: the same order id without them
	// is another request.
	req.Options = checkout.Options{}
	if _, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, req, "test"); !errors.Is(err, checkout.ErrIdempotencyConflict) {
		t.Fatalf("same order without the invoice: %v", err)
	}
}
