package checkout_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/upay/upaytest"
)

// The IBAN registry's example for Kuwait, and one with a wrong check digit.
const (
	goodIBAN = "KW81CBKU0000000000001234560101"
	badIBAN  = "KW82CBKU0000000000001234560101"
)

func kwd(t *testing.T, s string) checkout.Money {
	t.Helper()
	m, err := checkout.ParseMoney(s, "KWD")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Limits count characters: 300 Arabic characters are 600 bytes and fit a
// 500-character description; 501 do not. Every limited field names itself
// and its limit.
func TestFieldLimitsCountCharacters(t *testing.T) {
	b := setup(t)
	arabic := func(n int) string { return strings.Repeat("ت", n) }
	long := func(n int) string { return strings.Repeat("a", n) }
	for i, tt := range []struct {
		mut   func(*checkout.PaymentRequest)
		field string // "" : accepted
		limit string
	}{
		{func(r *checkout.PaymentRequest) { r.Description = arabic(300) }, "", ""},
		{func(r *checkout.PaymentRequest) { r.Description = arabic(500) }, "", ""},
		{func(r *checkout.PaymentRequest) { r.Description = arabic(501) }, "description", "500"},
		{func(r *checkout.PaymentRequest) { r.OrderID = arabic(101) }, "order_id", "100"},
		{func(r *checkout.PaymentRequest) { r.Customer.Name = arabic(51) }, "customer.name", "50"},
		{func(r *checkout.PaymentRequest) { r.Customer.Email = long(42) + "@example.com" }, "customer.email", "50"},
		{func(r *checkout.PaymentRequest) { r.Customer.Mobile = "+9651234567890123" }, "customer.mobile", "15"},
		{func(r *checkout.PaymentRequest) { r.Customer.UniqueID = long(151) }, "customer.unique_id", "150"},
		{func(r *checkout.PaymentRequest) { r.Options.Reference = long(256) }, "reference", "255"},
		{func(r *checkout.PaymentRequest) { r.Options.ExtraData = long(256) }, "extra_data", "255"},
		{func(r *checkout.PaymentRequest) {
			r.Products = []checkout.Product{{Name: arabic(256), Price: kwd(t, "1"), Quantity: 1}}
		}, "products[0].name", "255"},
		{func(r *checkout.PaymentRequest) {
			r.Products = []checkout.Product{{Name: "x", Description: long(256), Price: kwd(t, "1"), Quantity: 1}}
		}, "products[0].description", "255"},
	} {
		req := checkout.PaymentRequest{OrderID: "o" + string(rune('a'+i)), Amount: kwd(t, "1.000")}
		tt.mut(&req)
		_, _, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, req, "test")
		var ve *checkout.ValidationError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("case %d: refused: %v", i, err)
		case tt.field != "" && (!errors.As(err, &ve) || ve.Field != tt.field || !strings.Contains(ve.Reason, tt.limit+" characters")):
			t.Errorf("case %d: got %v, want %s over %s characters", i, err, tt.field, tt.limit)
		}
	}
}

// A store flow never blocks a shopper: descriptive fields are cut on a
// character boundary with "…", an e-mail or mobile that does not fit is
// left out, and the created event says so.
func TestFitCutsAndOmits(t *testing.T) {
	b := setup(t)
	req := checkout.PaymentRequest{OrderID: "fit-1", Amount: kwd(t, "1.000"), Fit: true,
		Description: strings.Repeat("تمر", 200), // 600 characters
		Customer:    checkout.Customer{Name: strings.Repeat("فاطمة ", 12), Email: strings.Repeat("a", 60) + "@example.com", Mobile: "96550000000"},
		Products:    []checkout.Product{{Name: strings.Repeat("n", 300), Price: kwd(t, "1.000"), Quantity: 1}}}
	p, _, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformWooCommerce, req, "test")
	if err != nil {
		t.Fatal(err)
	}
	runes := func(s string) int { return len([]rune(s)) }
	if runes(p.Description) != 500 || !strings.HasSuffix(p.Description, "…") || !strings.HasPrefix(p.Description, "تمر") {
		t.Errorf("description: %d characters %q…", runes(p.Description), p.Description[:12])
	}
	if runes(p.Customer.Name) > 50 || !strings.HasSuffix(p.Customer.Name, "…") {
		t.Errorf("name %q", p.Customer.Name)
	}
	if p.Customer.Email != "" || p.Customer.Mobile != "96550000000" {
		t.Errorf("customer %+v", p.Customer)
	}
	if runes(p.Products[0].Name) != 255 {
		t.Errorf("product name %d characters", runes(p.Products[0].Name))
	}
	evs, _ := b.svc.Events(t.Context(), p.ID)
	var d struct {
		Fitted []checkout.Fitted `json:"fitted"`
	}
	if err := json.Unmarshal(evs[0].Detail, &d); err != nil || evs[0].Kind != checkout.EventCreated {
		t.Fatal(err, evs[0].Kind)
	}
	want := map[string]string{"description": "cut", "customer.name": "cut", "customer.email": "omitted", "products[0].name": "cut"}
	if len(d.Fitted) != len(want) {
		t.Fatalf("fitted %+v", d.Fitted)
	}
	for _, f := range d.Fitted {
		if want[f.Field] != f.Action || f.Chars <= 0 {
			t.Errorf("fitted %+v", f)
		}
	}
}

func TestSplitsAreChecked(t *testing.T) {
	b, ckoShop, _, _, _ := gatewaysSetup(t)
	split := func(iban, amount string) checkout.Split {
		return checkout.Split{IBAN: iban, Amount: kwd(t, amount)}
	}
	for i, tt := range []struct {
		splits []checkout.Split
		field  string // "" : accepted
		reason string
	}{
		{[]checkout.Split{split(goodIBAN, "7.500"), split(goodIBAN, "2.500")}, "", ""},
		{[]checkout.Split{split(goodIBAN, "7.500"), split(goodIBAN, "2.499")}, "splits", "add up to 9.999 KWD, the payment is 10.000 KWD"},
		{[]checkout.Split{split(badIBAN, "10.000")}, "splits[0].iban", "not a valid IBAN"},
		{[]checkout.Split{split("KW81", "10.000")}, "splits[0].iban", "not a valid IBAN"},
		{[]checkout.Split{split(goodIBAN, "10.000"), split(goodIBAN, "0")}, "splits[1].amount", "greater than zero"},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), KNETCharge: checkout.Commission{Type: "flat", Value: "1"}}}, "splits[0].knet_charge", `type "flat"`},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), CardCharge: checkout.Commission{Type: "percentage", Value: "100.5"}}}, "splits[0].cc_charge", "at most 100"},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), CardCharge: checkout.Commission{Type: "percentage", Value: "2.555"}}}, "splits[0].cc_charge", "percentage like"},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), KNETCharge: checkout.Commission{Type: "fixed", Value: "0.2505"}}}, "splits[0].knet_charge", "decimals"},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), KNETCharge: checkout.Commission{Type: "fixed", Value: "10.001"}}}, "splits[0].knet_charge", "more than the share"},
		{[]checkout.Split{{IBAN: goodIBAN, Amount: kwd(t, "10.000"), KNETCharge: checkout.Commission{Type: "fixed", Value: "0.250"},
			CardCharge: checkout.Commission{Type: "percentage", Value: "100"}}}, "", ""},
	} {
		req := checkout.PaymentRequest{OrderID: "s" + string(rune('a'+i)), Amount: kwd(t, "10.000"), Options: checkout.Options{Splits: tt.splits}}
		_, _, err := b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, req, "test")
		var ve *checkout.ValidationError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("case %d: refused: %v", i, err)
		case tt.field != "" && (!errors.As(err, &ve) || ve.Field != tt.field || !strings.Contains(ve.Reason, tt.reason)):
			t.Errorf("case %d: got %v, want %s: %s", i, err, tt.field, tt.reason)
		}
	}
	// The shares reach UPayments as extraMerchantData.
	charges := b.sim.Charges()
	if last := string(charges[len(charges)-1]); !strings.Contains(last, `"extraMerchantData":[{"amount":10.000,"knetCharge":0.250,"knetChargeType":"fixed","ccCharge":100,"ccChargeType":"percentage","ibanNumber":"`+goodIBAN+`"}]`) {
		t.Errorf("sent %s", last)
	}
	// Checkout.com has no splits; an invoice cannot be split.
	ok := []checkout.Split{split(goodIBAN, "10.000")}
	_, _, err := b.svc.CreatePayment(t.Context(), ckoShop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "c1", Amount: kwd(t, "10.000"),
		Options: checkout.Options{Splits: ok}}, "test")
	unsupported(t, err, "cko", checkout.FeatureSplits, "Checkout.com does not support splitting")
	_, _, err = b.svc.CreatePayment(t.Context(), b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "i1", Amount: kwd(t, "10.000"),
		Options: checkout.Options{Splits: ok, Invoice: &checkout.Invoice{Notify: checkout.NotifyLink}}}, "test")
	var ve *checkout.ValidationError
	if !errors.As(err, &ve) || ve.Field != "invoice" {
		t.Fatalf("split invoice: %v", err)
	}
}

// Only the methods a gateway declares go out; anything else is refused
// naming the allowed values, never replaced.
func TestPaymentMethods(t *testing.T) {
	b, ckoShop, kupayShop, _, _ := gatewaysSetup(t)
	create := func(shop *checkout.Shop, order, method string, amount checkout.Money) error {
		_, _, err := b.svc.CreatePayment(t.Context(), shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: order, Amount: amount, PaymentMethod: method}, "test")
		return err
	}
	for _, m := range []string{"knet", "cc", "samsung-pay", "apple-pay", "google-pay", ""} {
		if err := create(b.shop, "u-"+m, m, kwd(t, "1.000")); err != nil {
			t.Errorf("upay %q: %v", m, err)
		}
	}
	for _, m := range []string{"amex", "apple-pay-knet", "create-invoice", "KNET"} {
		unsupported(t, create(b.shop, "u-"+m, m, kwd(t, "1.000")), "upay", checkout.FeatureMethod,
			`UPayments takes payment_method knet, cc, samsung-pay, apple-pay, google-pay, not "`+m+`"`)
	}
	if err := create(ckoShop, "c-knet", "knet", kwd(t, "1.000")); err != nil {
		t.Errorf("cko knet: %v", err)
	}
	unsupported(t, create(ckoShop, "c-cc", "cc", kwd(t, "1.000")), "cko", checkout.FeatureMethod, `Checkout.com takes payment_method knet, not "cc"`)
	usd, _ := checkout.ParseMoney("1.00", "USD")
	unsupported(t, create(kupayShop, "k-cc", "cc", usd), "kupay", checkout.FeatureMethod, "KuPay does not take a payment method")
}

// What a platform offers as choices: the account's own methods where the
// gateway says (UPayments), else the gateway's declared ones.
func TestAccountMethods(t *testing.T) {
	b, ckoShop, kupayShop, _, _ := gatewaysSetup(t)
	for _, tt := range []struct {
		shop *checkout.Shop
		want string
	}{{b.shop, "knet,cc,samsung-pay,apple-pay,google-pay"}, {ckoShop, "knet"}, {kupayShop, ""}} {
		m, err := b.svc.AccountMethods(t.Context(), tt.shop)
		if err != nil || strings.Join(m, ",") != tt.want {
			t.Errorf("%s: %v %v, want %s", tt.shop.Gateway.Gateway, m, err, tt.want)
		}
	}
	b.sim.SetAccount("plain", upaytest.Account{})
	plain := *b.shop
	plain.Gateway.Credentials = map[string]string{"api_key": "plain"}
	if m, err := b.svc.AccountMethods(t.Context(), &plain); err != nil || m != nil {
		t.Errorf("a non-white-label account: %v %v", m, err)
	}
}

// A split payment is refunded vendor by vendor through UPayments'
// create-multivendor-refund: never above what a vendor was paid less what
// it refunded, a partial refund naming its parts, a whole one divided by
// the core.
func TestSplitRefunds(t *testing.T) {
	b := setup(t)
	ctx := t.Context()
	const v1, v2 = "KW91KFHO0000000000051010173254", "KW31NBOK0000000000002010177457"
	p, _, err := b.svc.CreatePayment(ctx, b.shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: "split-1", Amount: kwd(t, "10.000"),
		Options: checkout.Options{Splits: []checkout.Split{{IBAN: v1, Amount: kwd(t, "7.500")}, {IBAN: v2, Amount: kwd(t, "2.500")}}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.Complete(p.GatewayRef, upaytest.Captured); err != nil {
		t.Fatal(err)
	}
	if p, err = b.svc.Confirm(ctx, p.ID, "test"); err != nil || p.Status != checkout.StatusPaid {
		t.Fatalf("confirm: %v %v", p, err)
	}
	refund := func(amount string, parts ...checkout.RefundSplit) (*checkout.Refund, error) {
		r, _, err := b.svc.CreateRefund(ctx, p.ID, checkout.RefundRequest{Amount: kwd(t, amount), Source: "test", Splits: parts})
		return r, err
	}
	part := func(iban, amount string) checkout.RefundSplit {
		return checkout.RefundSplit{IBAN: iban, Amount: kwd(t, amount)}
	}
	refused := func(what string, err error, field, reason string) {
		t.Helper()
		var ve *checkout.ValidationError
		if !errors.As(err, &ve) || ve.Field != field || !strings.Contains(ve.Reason, reason) {
			t.Errorf("%s: %v, want %s: %s", what, err, field, reason)
		}
	}
	_, err = refund("1.000")
	refused("partial without parts", err, "splits", "says how much each vendor refunds")
	_, err = refund("3.000", part(v2, "3.000"))
	refused("above the vendor's share", err, "splits[0].amount", "more than this vendor has left to refund (2.500)")
	_, err = refund("1.000", part("KW81CBKU0000000000001234560101", "1.000"))
	refused("not a vendor", err, "splits[0].iban", "not one of the payment's vendors")
	_, err = refund("2.000", part(v1, "1.000"), part(v1, "1.000"))
	refused("a vendor twice", err, "splits[1].iban", "twice")
	_, err = refund("2.000", part(v1, "1.000"))
	refused("parts not adding up", err, "splits", "add up to 1.000 KWD, the refund is 2.000 KWD")

	r, err := refund("1.500", part(v1, "1.000"), part(v2, "0.500"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.svc.ProcessRefund(ctx, r.ID); err != nil && !errors.Is(err, checkout.ErrNotSettled) {
		t.Fatal(err)
	}
	reqs := b.sim.Requests("create-multivendor-refund")
	if len(reqs) != 1 {
		t.Fatalf("%d multi-vendor refund requests", len(reqs))
	}
	for _, want := range []string{`"isMultivendorRefund":true`, `"ibanNumber":"` + v1 + `","totalPaid":"7.500","refundedAmount":"0.000","remainingLimit":"7.500","amountToRefund":"1.000","merchantType":"vendor"`,
		`"ibanNumber":"` + v2 + `","totalPaid":"2.500","refundedAmount":"0.000","remainingLimit":"2.500","amountToRefund":"0.500"`} {
		if !strings.Contains(string(reqs[0]), want) {
			t.Errorf("sent %s, want %s", reqs[0], want)
		}
	}
	b.svc.ProcessRefund(ctx, r.ID) // polls the vendors' refunds
	if r, _ = b.svc.Refund(ctx, r.ID); r.Status != checkout.RefundSucceeded || !strings.Contains(r.GatewayRef, ",") {
		t.Fatalf("split refund: %+v", r)
	}
	// The rest, in whole: the core divides it by what each vendor has left.
	r, err = refund("8.500")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Splits) != 2 || r.Splits[0].Amount.String() != "6.500" || r.Splits[1].Amount.String() != "2.000" ||
		r.Splits[0].Before.String() != "1.000" || r.Splits[1].Before.String() != "0.500" {
		t.Fatalf("the rest divided as %+v", r.Splits)
	}
	b.svc.ProcessRefund(ctx, r.ID)
	b.svc.ProcessRefund(ctx, r.ID)
	if got, _ := b.svc.Payment(ctx, p.ID); got.Refunded.String() != "10.000" {
		t.Fatalf("refunded %s", got.Refunded)
	}
	if stored, _ := b.svc.Refund(ctx, r.ID); len(stored.Splits) != 2 || stored.Splits[1].IBAN != v2 {
		t.Fatalf("stored splits %+v", stored.Splits)
	}
}
