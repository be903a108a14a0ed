package woocommerce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/testenv"
)

// choiceLink is the plugin's pay link carrying the shopper's choices.
func (e *env) choiceLink(orderID int64, key string, ch woocommerce.PayChoices) string {
	id := strconv.FormatInt(orderID, 10)
	ret := e.wc.Base() + "/checkout/order-received/" + id + "/?key=" + key
	q := url.Values{"key": {key}, "return": {ret},
		"sig": {woocommerce.PayLinkSignature(e.shop.Secrets[woocommerce.SecretPlugin], e.shop.ID, id, key, ret, ch)}}
	if ch.Method != "" {
		q.Set("method", ch.Method)
	}
	if ch.SaveCard {
		q.Set("save_card", "1")
	}
	if ch.Splits != "" {
		q.Set("splits", ch.Splits)
	}
	return e.base + "/woocommerce/pay/" + e.shop.ID + "/" + id + "?" + q.Encode()
}

// lastCharge is the last charge (or invoice) body UPayments received.
func (e *env) lastCharge() map[string]any {
	e.t.Helper()
	cs := e.upay.Charges()
	if len(cs) == 0 {
		e.t.Fatal("no charge")
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(cs[len(cs)-1]))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

func field(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// Vendors' IBANs (valid check digits).
const (
	ibanKW = "KW81CBKU0000000000001234560101"
	ibanGB = "GB82WEST12345698765432"
)

// testChoices: issue 9's WooCommerce items end to end: the method the
// shopper picked, saved cards for a logged-in customer, vendor splits and
// the customer fields, with the refusals.
func testChoices(t *testing.T, e *env) {
	t.Run("method", func(t *testing.T) {
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "9.000"})
		knet := e.choiceLink(id, key, woocommerce.PayChoices{Method: "knet"})
		track := e.pay(knet)
		c := e.lastCharge()
		if field(c, "paymentGateway.src") != "knet" {
			t.Fatalf("paymentGateway: %v", c["paymentGateway"])
		}
		for _, f := range []string{"customer.name", "customer.email", "customer.mobile"} {
			if s, _ := field(c, f).(string); s == "" {
				t.Errorf("%s missing: %v", f, c["customer"])
			}
		}
		if again := e.pay(knet); again != track {
			t.Fatalf("the same choice again made another charge: %s, first %s", again, track)
		}
		// Back from the page, the shopper picks Card: a new attempt.
		if other := e.pay(e.choiceLink(id, key, woocommerce.PayChoices{Method: "cc"})); other == track || field(e.lastCharge(), "paymentGateway.src") != "cc" {
			t.Fatalf("card after KNET: track %s (KNET %s), charge %v", other, track, e.lastCharge()["paymentGateway"])
		}
		// A method changed after signing is refused.
		tampered := strings.Replace(knet, "method=knet", "method=cc", 1)
		if code, _, body := get(t, noRedirect, tampered); code != http.StatusForbidden || !strings.Contains(body, "This payment link is not valid") {
			t.Fatalf("tampered method: %d %s", code, body)
		}
		// A signed link stripped of its method does not verify either.
		stripped := strings.Replace(knet, "&method=knet", "", 1)
		if stripped == knet {
			t.Fatal("could not strip the method")
		}
		if code, _, _ := get(t, noRedirect, stripped); code != http.StatusForbidden {
			t.Fatalf("stripped method: %d", code)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "9.000"})
		before := len(e.upay.Charges())
		code, _, body := get(t, noRedirect, e.choiceLink(id, key, woocommerce.PayChoices{Method: "amex"}))
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "UPayments") || !strings.Contains(body, "knet, cc") {
			t.Fatalf("amex: %d %s", code, body)
		}
		if n := len(e.upay.Charges()); n != before {
			t.Fatal("the gateway was called")
		}
		waitFor(t, 10*time.Second, "the refusal note", func() bool { return e.wc.NotesContaining(id, `not "amex"`) == 1 })
		// The same order then refused for its split gets that note too.
		get(t, noRedirect, e.choiceLink(id, key, woocommerce.PayChoices{Splits: `[{"iban":"` + ibanKW + `","amount":"1.000"}]`}))
		waitFor(t, 10*time.Second, "the split note", func() bool { return e.wc.NotesContaining(id, "vendor split") == 1 })
		if n := e.wc.NotesContaining(id, "[paybridge refused"); n != 2 {
			t.Fatalf("%d refusal notes, want 2: %+v", n, e.wc.Notes(id))
		}
	})
	t.Run("saved cards", func(t *testing.T) {
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "4.000", CustomerID: 42})
		e.pay(e.choiceLink(id, key, woocommerce.PayChoices{Method: "cc", SaveCard: true}))
		c := e.lastCharge()
		want := "wc-" + e.shop.ID + "-42"
		tok, _ := field(c, "tokens.customerUniqueToken").(json.Number)
		if field(c, "customer.uniqueId") != want || c["isSaveCard"] != true || tok == "" {
			t.Fatalf("saving a card: uniqueId %v isSaveCard %v token %q", field(c, "customer.uniqueId"), c["isSaveCard"], tok)
		}
		// The same customer's next order, without saving: the token is
		// sent so that the page shows their cards.
		id2, key2 := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000", CustomerID: 42})
		e.pay(e.link(id2, key2, key2))
		c = e.lastCharge()
		if tok2, _ := field(c, "tokens.customerUniqueToken").(json.Number); tok2 != tok || field(c, "customer.uniqueId") != want || c["isSaveCard"] == true {
			t.Fatalf("returning customer: token %q (first %q), uniqueId %v, isSaveCard %v", tok2, tok, field(c, "customer.uniqueId"), c["isSaveCard"])
		}
		// A guest's box (a plugin that showed it anyway) is ignored.
		id3, key3 := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.000"})
		e.pay(e.choiceLink(id3, key3, woocommerce.PayChoices{SaveCard: true}))
		c = e.lastCharge()
		if c["isSaveCard"] == true || strings.HasPrefix(field(c, "customer.uniqueId").(string), "wc-") {
			t.Fatalf("guest: isSaveCard %v uniqueId %v", c["isSaveCard"], field(c, "customer.uniqueId"))
		}
	})
	t.Run("splits", func(t *testing.T) {
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "10.000"})
		splits := `[{"iban":"` + ibanKW + `","amount":"6.500","knet_charge":"0.250","knet_charge_type":"fixed","cc_charge":"2.5","cc_charge_type":"percentage"},` +
			`{"iban":"` + ibanGB + `","amount":"3.500"}]`
		e.pay(e.choiceLink(id, key, woocommerce.PayChoices{Method: "knet", Splits: splits}))
		ems, _ := e.lastCharge()["extraMerchantData"].([]any)
		if len(ems) != 2 {
			t.Fatalf("extraMerchantData: %v", e.lastCharge()["extraMerchantData"])
		}
		first := ems[0].(map[string]any)
		if first["ibanNumber"] != ibanKW || first["amount"] != json.Number("6.500") || first["knetCharge"] != json.Number("0.250") ||
			first["knetChargeType"] != "fixed" || first["ccChargeType"] != "percentage" {
			t.Fatalf("first share: %v", first)
		}
	})
	for _, c := range []struct{ name, splits, note string }{
		{"bad iban", `[{"iban":"KW81CBKU0000000000001234560102","amount":"10.000"}]`, "splits[0].iban"},
		{"sum", `[{"iban":"` + ibanKW + `","amount":"6.000"},{"iban":"` + ibanGB + `","amount":"3.000"}]`, "splits"},
		{"charge type", `[{"iban":"` + ibanKW + `","amount":"10.000","knet_charge":"1","knet_charge_type":"flat"}]`, "splits[0].knet_charge"},
		{"not json", `{"iban":`, "JSON array"},
		{"amount as number", `[{"iban":"` + ibanKW + `","amount":10}]`, "string values"},
	} {
		t.Run("split refused/"+c.name, func(t *testing.T) {
			id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "10.000"})
			before := len(e.upay.Charges())
			for _, lang := range []string{"", "&lang=ar"} {
				code, _, body := get(t, noRedirect, e.choiceLink(id, key, woocommerce.PayChoices{Splits: c.splits})+lang)
				heading := "This order cannot be paid online right now"
				if lang != "" {
					heading = "لا يمكن دفع هذا الطلب إلكترونيًا الآن"
				}
				if code != http.StatusUnprocessableEntity || !strings.Contains(body, heading) {
					t.Fatalf("%s: %d %s", lang, code, body)
				}
			}
			if n := len(e.upay.Charges()); n != before {
				t.Fatal("the gateway was called")
			}
			waitFor(t, 10*time.Second, "the split note", func() bool {
				return e.wc.NotesContaining(id, "vendor split") == 1 && e.wc.NotesContaining(id, c.note) == 1
			})
		})
	}
	t.Run("plugin", func(t *testing.T) {
		// The plugin's own checkout choices and process_payment (PHP,
		// WordPress stubbed) make links the bridge honours.
		run := func(id int64, key, choice, loggedIn, postSave, ticked string, extra ...string) (string, string) {
			sid := strconv.FormatInt(id, 10)
			ret := e.wc.Base() + "/checkout/order-received/" + sid + "/?key=" + key
			cmd := exec.Command(testenv.PHP(t), append([]string{"plugin/tests/pay_test.php", e.base, e.shop.ID, e.shop.Secrets[woocommerce.SecretPlugin],
				sid, key, ret, choice, "yes", loggedIn, postSave}, extra...)...)
			cmd.Env = append(cmd.Environ(), "PAYBRIDGE_TICKED="+ticked)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("plugin: %v\n%s", err, out)
			}
			_, rest, _ := strings.Cut(string(out), "redirect: ")
			link, _, _ := strings.Cut(rest, "\n")
			return link, string(out)
		}
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "3.000", CustomerID: 77})
		link, out := run(id, key, "cc", "1", "1", "knet,cc,apple-pay")
		for _, want := range []string{"available: paybridge_upayments no", "available: paybridge_upayments_knet yes KNET",
			"available: paybridge_upayments_cc yes Credit or debit card", "available: paybridge_upayments_apple_pay yes Apple Pay",
			"available: paybridge_upayments_google_pay no", "Save my card for next time"} {
			if !strings.Contains(out, want) {
				t.Errorf("plugin output lacks %q:\n%s", want, out)
			}
		}
		e.pay(link)
		if c := e.lastCharge(); field(c, "paymentGateway.src") != "cc" || c["isSaveCard"] != true || field(c, "customer.uniqueId") != "wc-"+e.shop.ID+"-77" {
			t.Fatalf("plugin card link: %v %v %v", c["paymentGateway"], c["isSaveCard"], field(c, "customer.uniqueId"))
		}
		// KNET offers no box, and a guest gets none: a posted one is ignored.
		id, key = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "3.000"})
		link, out = run(id, key, "knet", "0", "1", "knet", `[{"iban":"`+ibanKW+`","amount":"3.000"}]`)
		if strings.Contains(out, "Save my card") || strings.Contains(link, "save_card") {
			t.Fatalf("guest on KNET: %s", out)
		}
		e.pay(link)
		if c := e.lastCharge(); field(c, "paymentGateway.src") != "knet" || c["isSaveCard"] == true || len(c["extraMerchantData"].([]any)) != 1 {
			t.Fatalf("plugin KNET link: %v %v %v", c["paymentGateway"], c["isSaveCard"], c["extraMerchantData"])
		}
		// Nothing ticked: the one UPayments choice, no method sent.
		id, key = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "3.000"})
		link, out = run(id, key, "", "0", "", "")
		if !strings.Contains(out, "available: paybridge_upayments yes") || !strings.Contains(out, "available: paybridge_upayments_knet no") {
			t.Fatalf("nothing ticked: %s", out)
		}
		e.pay(link)
		if c := e.lastCharge(); c["paymentGateway"] != nil {
			t.Fatalf("the UPayments choice named a method: %v", c["paymentGateway"])
		}
	})
	t.Run("fit", func(t *testing.T) {
		long := strings.Repeat("ف", 60)
		id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "2.000",
			Billing: &woocommercetest.Billing{FirstName: long, LastName: "-", Email: strings.Repeat("a", 60) + "@example.com"}})
		e.pay(e.link(id, key, key))
		c := e.lastCharge()
		name, _ := field(c, "customer.name").(string)
		if n := len([]rune(name)); n != 50 || !strings.HasSuffix(name, "…") {
			t.Fatalf("name %q (%d characters)", name, n)
		}
		if em, _ := field(c, "customer.email").(string); em != "" {
			t.Fatalf("an over-long e-mail was sent: %q", em)
		}
		if field(c, "customer.mobile") != "+96550000000" {
			t.Fatalf("mobile: %v", field(c, "customer.mobile"))
		}
	})
}

// sendLink is the plugin's signed "Send payment link" request.
func (e *env) sendLink(body, secret string) (int, map[string]any) {
	e.t.Helper()
	ts := time.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/woocommerce/invoices/"+e.shop.ID, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Paybridge-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Paybridge-Signature", woocommerce.InvoiceSignature(secret, e.shop.ID, ts, []byte(body)))
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m == nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) any { return field(m, "error.code") }

// testSendLink: the order action "Send payment link (paybridge)".
func testSendLink(t *testing.T, e *env) {
	secret := e.shop.Secrets[woocommerce.SecretPlugin]
	admin := func(b *woocommercetest.Billing) (int64, string) {
		id, _ := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "15.250", CreatedVia: "admin", Billing: b})
		return id, strconv.FormatInt(id, 10)
	}
	t.Run("email, twice", func(t *testing.T) {
		id, sid := admin(nil)
		before := len(e.upay.Charges())
		body := `{"order_id":"` + sid + `","notify":"email","lang":"ar"}`
		code, out := e.sendLink(body, secret)
		if code != http.StatusOK || out["status"] != "sent" || out["sent_email"] != true || out["sent_sms"] != false {
			t.Fatalf("send: %d %v", code, out)
		}
		c := e.lastCharge()
		if field(c, "paymentGateway.src") != "create-invoice" || c["notificationType"] != "email" || field(c, "customer.email") != "fatima@example.com" || c["language"] != "ar" {
			t.Fatalf("invoice request: %v", c)
		}
		if n := e.wc.NotesContaining(id, "paybridge records a payment through it until "); n != 1 {
			t.Fatalf("the note does not say until when the link is watched: %+v", e.wc.Notes(id))
		}
		if n := e.wc.NotesContaining(id, "sent by e-mail to fatima@example.com"); n != 1 {
			t.Fatalf("%d notes: %+v", n, e.wc.Notes(id))
		}
		code, again := e.sendLink(body, secret)
		if code != http.StatusOK || again["status"] != "already_sent" || again["payment_id"] != out["payment_id"] {
			t.Fatalf("second press: %d %v", code, again)
		}
		if n := len(e.upay.Charges()); n != before+1 {
			t.Fatalf("%d invoices made, want 1", n-before)
		}
		if n := e.wc.NotesContaining(id, "Payment link for 15.250 KWD"); n != 1 {
			t.Fatalf("%d link notes, want 1", n)
		}
	})
	t.Run("link, then paid", func(t *testing.T) {
		id, sid := admin(nil)
		code, out := e.sendLink(`{"order_id":"`+sid+`","notify":"link"}`, secret)
		link, _ := out["url"].(string)
		if code != http.StatusOK || !strings.HasPrefix(link, e.upay.URL+"/pay/") || out["sent_email"] != false {
			t.Fatalf("link: %d %v", code, out)
		}
		if e.wc.NotesContaining(id, "nothing was sent to the customer") != 1 || e.wc.NotesContaining(id, link) != 1 {
			t.Fatalf("notes: %+v", e.wc.Notes(id))
		}
		// The customer pays through the link: the order is paid.
		if _, err := e.upay.Complete(strings.TrimPrefix(link, e.upay.URL+"/pay/"), "CAPTURED"); err != nil {
			t.Fatal(err)
		}
		e.waitOrder(id, "processing", 15*time.Second)
		if code, out := e.sendLink(`{"order_id":"`+sid+`","notify":"link"}`, secret); code != http.StatusConflict || errCode(out) != "order_paid" {
			t.Fatalf("paid order: %d %v", code, out)
		}
	})
	t.Run("pressed at once", func(t *testing.T) {
		id, sid := admin(nil)
		before := len(e.upay.Charges())
		body := `{"order_id":"` + sid + `","notify":"sms"}`
		type answer struct {
			code int
			out  map[string]any
		}
		answers := make(chan answer, 5)
		for range 5 {
			go func() {
				code, out := e.sendLink(body, secret)
				answers <- answer{code, out}
			}()
		}
		sent := 0
		for range 5 {
			a := <-answers
			switch {
			case a.code == http.StatusOK && a.out["status"] == "sent":
				sent++
			case a.code == http.StatusOK && a.out["status"] == "already_sent", a.code == http.StatusConflict && errCode(a.out) == "invoice_in_progress":
			default:
				t.Errorf("press: %d %v", a.code, a.out)
			}
		}
		if n := len(e.upay.Charges()) - before; sent != 1 || n != 1 {
			t.Fatalf("%d answers sent, %d invoices made; want 1 and 1", sent, n)
		}
		if n := e.wc.NotesContaining(id, "Payment link for"); n != 1 {
			t.Fatalf("%d link notes", n)
		}
	})
	t.Run("gateway down, pressed again", func(t *testing.T) {
		id, sid := admin(nil)
		body := `{"order_id":"` + sid + `","notify":"email"}`
		e.upay.FailNext("charge", http.StatusInternalServerError, `{"message":"Server Error"}`)
		if code, out := e.sendLink(body, secret); code != http.StatusBadGateway || errCode(out) != "gateway_error" {
			t.Fatalf("gateway down: %d %v", code, out)
		}
		if n := e.wc.NotesContaining(id, "Payment link for"); n != 0 {
			t.Fatal("a note for a link that was not made")
		}
		code, out := e.sendLink(body, secret)
		if code != http.StatusOK || out["status"] != "sent" {
			t.Fatalf("pressed again: %d %v", code, out)
		}
		if pay, err := e.db.PaymentByOrder(context.Background(), e.shop.ID, sid); err != nil || pay.ID != out["payment_id"] {
			t.Fatalf("the retry is not the first attempt: %v %v", out["payment_id"], err)
		}
		if e.wc.NotesContaining(id, "sent by e-mail") != 1 {
			t.Fatalf("notes: %+v", e.wc.Notes(id))
		}
	})
	t.Run("no e-mail, then fixed", func(t *testing.T) {
		id, sid := admin(&woocommercetest.Billing{Email: "-"})
		body := `{"order_id":"` + sid + `","notify":"email"}`
		if code, out := e.sendLink(body, secret); code != http.StatusUnprocessableEntity || errCode(out) != "missing_email" {
			t.Fatalf("no e-mail: %d %v", code, out)
		}
		e.wc.SetBilling(id, "salem@example.com", "")
		if code, out := e.sendLink(body, secret); code != http.StatusOK || out["status"] != "sent" {
			t.Fatalf("after the fix: %d %v", code, out)
		}
	})
	t.Run("all", func(t *testing.T) {
		id, sid := admin(nil)
		code, out := e.sendLink(`{"order_id":"`+sid+`","notify":"all"}`, secret)
		if code != http.StatusOK || out["sent_email"] != true || out["sent_sms"] != true || out["url"] == nil {
			t.Fatalf("all: %d %v", code, out)
		}
		if e.wc.NotesContaining(id, "by e-mail to fatima@example.com and by SMS to +96550000000") != 1 {
			t.Fatalf("notes: %+v", e.wc.Notes(id))
		}
	})
	t.Run("plugin", func(t *testing.T) {
		// The plugin's own send_payment_link (PHP, WordPress stubbed).
		id, sid := admin(nil)
		run := func(args ...string) string {
			out, err := exec.Command(testenv.PHP(t), append([]string{"plugin/tests/invoice_test.php", e.base, e.shop.ID, secret, sid}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("plugin: %v\n%s", err, out)
			}
			return string(out)
		}
		if out := run("email", `[{"iban":"`+ibanKW+`","amount":"15.250"}]`); !strings.Contains(out, "error: No payment link was sent: this order has a vendor split") {
			t.Fatalf("with splits: %s", out)
		}
		if out := run("sms"); !strings.Contains(out, "result: sent - email=false sms=true") {
			t.Fatalf("sms: %s", out)
		}
		if out := run("sms"); !strings.Contains(out, "result: already_sent") {
			t.Fatalf("again: %s", out)
		}
		if n := e.wc.NotesContaining(id, "sent by SMS to +96550000000"); n != 1 {
			t.Fatalf("%d notes: %+v", n, e.wc.Notes(id))
		}
		if field(e.lastCharge(), "language") != "ar" {
			t.Fatal("the store's Arabic locale did not reach the gateway")
		}
	})
	for _, c := range []struct {
		name    string
		billing *woocommercetest.Billing
		body    string // %s is the order id
		secret  string
		status  int
		code    string
	}{
		{"bad signature", nil, `{"order_id":"%s","notify":"email"}`, "wrong", http.StatusUnauthorized, "bad_signature"},
		{"no e-mail", &woocommercetest.Billing{Email: "-"}, `{"order_id":"%s","notify":"email"}`, secret, http.StatusUnprocessableEntity, "missing_email"},
		{"no phone", &woocommercetest.Billing{Phone: "-"}, `{"order_id":"%s","notify":"sms"}`, secret, http.StatusUnprocessableEntity, "missing_phone"},
		{"bad notify", nil, `{"order_id":"%s","notify":"fax"}`, secret, http.StatusUnprocessableEntity, "invalid_field"},
		{"with splits", nil, `{"order_id":"%s","notify":"link","splits":[{"iban":"` + ibanKW + `","amount":"15.250"}]}`, secret, http.StatusUnprocessableEntity, "invoice_with_splits"},
		{"unknown order", nil, `{"order_id":"9%s9","notify":"link"}`, secret, http.StatusNotFound, "order_not_found"},
	} {
		t.Run("refused/"+c.name, func(t *testing.T) {
			_, sid := admin(c.billing)
			before := len(e.upay.Charges())
			code, out := e.sendLink(strings.ReplaceAll(c.body, "%s", sid), c.secret)
			if code != c.status || errCode(out) != c.code {
				t.Fatalf("%d %v, want %d %s", code, out, c.status, c.code)
			}
			if n := len(e.upay.Charges()); n != before {
				t.Fatal("the gateway was called")
			}
		})
	}
}
