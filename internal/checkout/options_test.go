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
