package upay

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

// Only a white-label account names the method, and only one of the buttons
// UPayments enabled on it; another account's charges carry no
// paymentGateway (seed 000), and the audit trail says why.
func TestWhiteLabel(t *testing.T) {
	srv, g, acct := setup(t)
	ctx := context.Background()
	kwd := checkout.Money{Minor: 10000, Currency: "KWD"}
	charge := func(acct checkout.GatewayAccount, method string) (checkout.Charge, string, error) {
		t.Helper()
		p := payment(checkout.NewID("pay"), kwd)
		p.PaymentMethod = method
		ch, err := g.CreatePayment(ctx, acct, p, urlsFor("https://bridge.example", p.ID))
		charges := srv.Charges()
		if len(charges) == 0 {
			return ch, "", err
		}
		return ch, string(charges[len(charges)-1]), err
	}

	// The default account: white-label, every button.
	if m, err := g.AccountMethods(ctx, acct); err != nil || !slices.Equal(m, Methods) {
		t.Fatalf("white-label methods %v %v", m, err)
	}
	if ch, body, err := charge(acct, "apple-pay"); err != nil || !strings.Contains(body, `"paymentGateway":{"src":"apple-pay"}`) || len(ch.Notes) != 0 {
		t.Fatalf("white-label charge: %v %s %v", err, body, ch.Notes)
	}

	// A white-label account without Apple Pay refuses it, naming what it has.
	srv.SetAccount("wl-knet", upaytest.Account{WhiteLabel: true, Buttons: []string{"knet", "credit_card"}})
	knetOnly := checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "wl-knet"}}
	before := len(srv.Charges())
	_, _, err := charge(knetOnly, "apple-pay")
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) || ge.Temporary || !strings.Contains(ge.Message, "does not offer apple-pay (it offers knet, cc)") {
		t.Fatalf("apple-pay on a knet and card account: %v", err)
	}
	if len(srv.Charges()) != before {
		t.Fatal("a refused method was sent")
	}

	// A non-white-label account: the method is not sent, the note says so,
	// and the request is seed 000's second example.
	srv.SetAccount("plain", upaytest.Account{})
	plain := checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "plain"}}
	if m, err := g.AccountMethods(ctx, plain); err != nil || m != nil {
		t.Fatalf("non-white-label methods %v %v", m, err)
	}
	ch, body, err := charge(plain, "knet")
	if err != nil || strings.Contains(body, "paymentGateway") || !strings.Contains(ch.Notes["payment_method"], "not white-label") || ch.URL == "" {
		t.Fatalf("non-white-label charge: %v %s %+v", err, body, ch)
	}
	p := seedPayment(t)
	p.PaymentMethod = "knet"
	if _, err := g.CreatePayment(ctx, plain, p, urlsFor("https://bridge.example", p.ID)); err != nil {
		t.Fatal(err)
	}
	charges := srv.Charges()
	testenv.MatchSeed(t, "upay-charge.request.json", charges[len(charges)-1], testenv.Golden{Ours: ours, Extra: map[string]string{
		"isSaveCard": "seed 000 lists it; false unless the shopper opted in",
		"tokens":     "seed 000 marks tokens mandatory; empty without a customer token",
	}})

	// When UPayments cannot say (an error), the method is sent: a
	// non-white-label account ignores it.
	srv.SetAccount("flaky", upaytest.Account{WhiteLabel: true, Buttons: upaytest.AllButtons})
	flaky := checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "flaky"}}
	srv.FailNext("check-payment-button-status", http.StatusServiceUnavailable, `{"message":"Service Unavailable"}`)
	if _, body, err := charge(flaky, "knet"); err != nil || !strings.Contains(body, `"src":"knet"`) {
		t.Fatalf("buttons unknown: %v %s", err, body)
	}
}
