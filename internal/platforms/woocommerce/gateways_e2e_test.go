package woocommerce_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/testenv"
)

// Sandbox accounts at the simulators, as the connect form takes them.
var (
	ckoCreds = map[string]string{"secret_key": ckotest.DefaultSecretKey,
		"processing_channel_id": ckotest.DefaultProcessingChannel, "webhook_key": ckotest.DefaultWebhookKey}
	kupayCreds = map[string]string{"api_token": kupaytest.DefaultToken}
)

// testGateways: the connect form offers every gateway with its own
// credentials, and a store connected to Checkout.com or KuPay takes a
// payment end to end; what the shop's gateway cannot do is refused early,
// with the gateway and the reason.
func testGateways(t *testing.T, e *env) {
	t.Run("ConnectForm", func(t *testing.T) { testConnectForm(t, e) })
	t.Run("cko", func(t *testing.T) {
		t.Parallel()
		testCkoStore(t, e.withStore(t, "cko", ckoCreds))
	})
	t.Run("kupay", func(t *testing.T) {
		t.Parallel()
		testKupayStore(t, e.withStore(t, "kupay", kupayCreds))
	})
}

// withStore returns e on a new WooCommerce store connected through the
// connect form with an account at gateway. The store lives as long as e
// (the reconciler keeps checking its webhook).
func (e *env) withStore(t *testing.T, gateway string, creds map[string]string) *env {
	t.Helper()
	wc := woocommercetest.NewServer()
	wc.AllowHTTPCallback = true
	e.t.Cleanup(wc.Close)
	jar, _ := cookiejar.New(nil)
	s := *e
	s.t, s.wc, s.jar, s.shop = t, wc, jar, nil
	s.connectWith(gateway, creds)
	return &s
}

func testConnectForm(t *testing.T, e *env) {
	code, _, page := get(t, noRedirect, e.base+"/woocommerce/connect")
	if code != http.StatusOK {
		t.Fatalf("connect form: %d", code)
	}
	// UPayments, registered first, is the one preselected, and comes first.
	if !strings.Contains(page, `value="upay" checked`) || strings.Index(page, `value="upay"`) > strings.Index(page, `value="cko"`) {
		t.Error("the connect form does not preselect UPayments first")
	}
	for _, want := range []string{`value="upay"`, `value="cko"`, `value="kupay"`, "UPayments API key", "Checkout.com secret key",
		"Checkout.com processing channel id", "Checkout.com webhook signing key", "KuPay API token", `name="cred.cko.webhook_key"`,
		`name="sandbox"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the connect form lacks %q", want)
		}
	}
	// In Arabic, right to left, with the gateways' Arabic labels.
	code, _, page = get(t, noRedirect, e.base+"/woocommerce/connect?lang=ar")
	if code != http.StatusOK || !strings.Contains(page, `dir="rtl"`) || !strings.Contains(page, "رمز واجهة KuPay") || !strings.Contains(page, `value="upay" checked`) {
		t.Errorf("the Arabic connect form: %d %s", code, page)
	}
	store := woocommercetest.NewServer()
	defer store.Close()
	post := func(form map[string]string, gateway string) (int, string, string) {
		resp, err := e.browser().PostForm(e.base+"/woocommerce/connect", connectForm(store.Base(), gateway, form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	// Only the secret key: the form names what is missing, keeps the
	// gateway chosen, and never echoes the key.
	code, loc, body := post(map[string]string{"secret_key": "sk_sbox_only_this"}, "cko")
	if code != http.StatusUnprocessableEntity || loc != "" ||
		!strings.Contains(body, "Checkout.com needs: Checkout.com processing channel id, Checkout.com webhook signing key") {
		t.Fatalf("cko without channel and webhook key: %d → %q %s", code, loc, body)
	}
	if strings.Contains(body, "sk_sbox_only_this") || !strings.Contains(body, `value="cko" checked`) {
		t.Fatalf("the form echoed the key or lost the gateway: %s", body)
	}
	// Another gateway's fields do not count.
	code, _, body = post(map[string]string{"api_key": "x"}, "kupay")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "KuPay needs: KuPay API token") {
		t.Fatalf("kupay with a upay key: %d %s", code, body)
	}
	if code, _, body = post(kupayCreds, "paypal"); code != http.StatusUnprocessableEntity || !strings.Contains(body, `gateway &#34;paypal&#34; is not available`) {
		t.Fatalf("unknown gateway: %d %s", code, body)
	}
	if len(store.Pings()) != 0 {
		t.Fatal("a refused form reached the store")
	}
}

// pluginRefund runs the plugin's own process_refund (PHP, WordPress
// stubbed) against the bridge and returns what it prints: "result: true",
// or "error: " and the message WooCommerce shows the merchant.
func (e *env) pluginRefund(orderID int64, amount string, decimals int, refundID string) string {
	e.t.Helper()
	php := testenv.PHP(e.t)
	out, err := exec.Command(php, "plugin/tests/refund_test.php", e.base, e.shop.ID, e.shop.Secrets[woocommerce.SecretPlugin],
		strconv.FormatInt(orderID, 10), amount, strconv.Itoa(decimals), refundID).CombinedOutput()
	if err != nil {
		e.t.Fatalf("plugin refund: %v\n%s", err, out)
	}
	return string(out)
}

// payOn follows a pay link to the gateway's page (it must start with
// prefix) and returns the bridge's payment for the order.
func (e *env) payOn(link, prefix string, orderID int64) *checkout.Payment {
	e.t.Helper()
	code, loc, body := get(e.t, noRedirect, link)
	if code != http.StatusFound || !strings.HasPrefix(loc, prefix) {
		e.t.Fatalf("pay link: %d → %q, want %s…: %s", code, loc, prefix, body)
	}
	pay, err := e.db.PaymentByOrder(context.Background(), e.shop.ID, strconv.FormatInt(orderID, 10))
	if err != nil {
		e.t.Fatal(err)
	}
	return pay
}

// back follows the gateway's return to the bridge (and its waiting page)
// and returns where the shopper finally goes.
func (e *env) back(ret string) string {
	e.t.Helper()
	u, out := ret, ""
	testenv.Eventually(e.t, 10*time.Second, "the shopper to leave the bridge", func() error {
		code, loc, body := get(e.t, noRedirect, u)
		switch {
		case code == http.StatusFound && !strings.HasPrefix(loc, e.base):
			out = loc
			return nil
		case code == http.StatusFound:
			u = loc
			return fmt.Errorf("sent on to %s", loc)
		case code == http.StatusOK && strings.Contains(u, "/wait/"):
			return fmt.Errorf("still on the waiting page %s", u)
		}
		e.t.Fatalf("return %s: %d → %q %s", u, code, loc, body)
		return nil
	})
	return out
}

// paid checks the order is paid with one note of ours naming the gateway.
func (e *env) paid(id int64, key, gatewayName string) {
	e.t.Helper()
	o := e.waitOrder(id, "processing", 15*time.Second)
	if o["transaction_id"] == "" || o["transaction_id"] == nil || o["date_paid"] == nil {
		e.t.Fatalf("paid order: transaction_id %v date_paid %v", o["transaction_id"], o["date_paid"])
	}
	waitFor(e.t, 10*time.Second, "our note", func() bool { return e.wc.NotesContaining(id, ourNotes) == 1 })
	e.settled() // a duplicate would have landed by now
	if n, via := e.wc.NotesContaining(id, ourNotes), e.wc.NotesContaining(id, "via "+gatewayName); n != 1 || via != 1 {
		e.t.Fatalf("%d paybridge notes (%d via %s), want 1: %+v", n, via, gatewayName, e.wc.Notes(id))
	}
}

// refused checks a pay link is refused before any gateway call (creates
// counts them), with a page that names the gateway and the reason, and
// that the order gets one note saying why.
func (e *env) refused(id int64, key string, creates func() int, wants ...string) {
	e.t.Helper()
	before := creates()
	link := e.link(id, key, key)
	for range 2 {
		code, _, body := get(e.t, noRedirect, link)
		if code != http.StatusUnprocessableEntity {
			e.t.Fatalf("refusal: %d %s", code, body)
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				e.t.Fatalf("the refusal page lacks %q: %s", w, body)
			}
		}
	}
	if n := creates(); n != before {
		e.t.Fatalf("the gateway was called (%d → %d creates)", before, n)
	}
	if _, err := e.db.PaymentByOrder(context.Background(), e.shop.ID, strconv.FormatInt(id, 10)); err == nil {
		e.t.Fatal("a payment was recorded for a refused order")
	}
	waitFor(e.t, 5*time.Second, "the refusal note", func() bool { return e.wc.NotesContaining(id, "[paybridge refused]") == 1 })
	get(e.t, noRedirect, link) // a third visit still adds no second note
	e.settled()
	if n := e.wc.NotesContaining(id, "[paybridge refused]"); n != 1 {
		e.t.Fatalf("%d refusal notes, want 1: %+v", n, e.wc.Notes(id))
	}
	if s := e.wc.Order(id)["status"]; s != "pending" {
		e.t.Fatalf("a refused order is %v", s)
	}
}

func testCkoStore(t *testing.T, e *env) {
	creates := func() int { return len(e.cko.Requests("POST /payments")) }
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "12.340"})
	pay := e.payOn(e.link(id, key, key), e.cko.URL+"/knet/", id)
	if pay.Gateway != "cko" {
		t.Fatalf("payment on %s", pay.Gateway)
	}
	reqs := e.cko.Requests("POST /payments")
	if last := string(reqs[len(reqs)-1]); !strings.Contains(last, `"amount":12340`) || !strings.Contains(last, `"currency":"KWD"`) {
		t.Fatalf("payment request: %s", last)
	}
	ret, err := e.cko.Complete(pay.GatewayRef, ckotest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	want := e.wc.Base() + "/checkout/order-received/" + strconv.FormatInt(id, 10) + "/?key=" + key
	if got := e.back(ret); got != want {
		t.Fatalf("back to %q, want %q", got, want)
	}
	e.paid(id, key, "Checkout.com")

	// Refunds: a partial one works; one Checkout.com cannot charge exactly
	// is refused with the reason.
	secret := e.shop.Secrets[woocommerce.SecretPlugin]
	if code, body := e.refund(id, "2.000", "801", secret); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("partial refund: %d %s", code, body)
	}
	if code, body := e.refund(id, "1.005", "802", secret); code != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "unsupported_by_gateway") || !strings.Contains(body, "Checkout.com needs 3-decimal amounts to end in 0") {
		t.Fatalf("refund of 1.005: %d %s", code, body)
	}
	// The same through the plugin's PHP: accepted, then refused with the
	// bridge's reason as the merchant sees it.
	if out := e.pluginRefund(id, "1.000", 3, "803"); !strings.Contains(out, "result: true") {
		t.Fatalf("plugin refund of 1.000: %s", out)
	}
	if out := e.pluginRefund(id, "1.005", 3, "804"); !strings.Contains(out, "error: Refund refused: Checkout.com needs 3-decimal amounts to end in 0") {
		t.Fatalf("plugin refund of 1.005: %s", out)
	}

	// 1.235 KWD cannot be charged exactly: refused, never rounded.
	id, key = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.235"})
	e.refused(id, key, creates, "This order cannot be paid with Checkout.com", "3-decimal amounts to end in 0", "1.235 KWD")
	code, _, body := get(t, noRedirect, e.link(id, key, key)+"&lang=ar")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "لا يمكن دفع هذا الطلب عبر Checkout.com") || !strings.Contains(body, `dir="rtl"`) {
		t.Fatalf("arabic refusal: %d %s", code, body)
	}
	e.refusedChoices(t, creates, "Checkout.com", "takes the payment methods knet, not")
}

// refusedChoices: what a store's gateway does not have is refused before
// any gateway call, never replaced: a method it does not take (the page
// says why), a split, a payment link.
func (e *env) refusedChoices(t *testing.T, creates func() int, gateway, why string) {
	t.Helper()
	currency, total := "KWD", "10.000"
	if gateway == "KuPay" {
		currency, total = "USD", "10.00"
	}
	before := creates()
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: currency, Total: total})
	code, _, body := get(t, noRedirect, e.choiceLink(id, key, woocommerce.PayChoices{Method: "cc"}))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "This order cannot be paid with "+gateway) ||
		!strings.Contains(body, why) {
		t.Fatalf("method cc on %s: %d %s", gateway, code, body)
	}
	waitFor(t, 5*time.Second, "the method note", func() bool { return e.wc.NotesContaining(id, `payment method`) == 1 })
	id, key = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: currency, Total: total})
	code, _, body = get(t, noRedirect, e.choiceLink(id, key, woocommerce.PayChoices{Splits: `[{"iban":"` + ibanKW + `","amount":"` + total + `"}]`}))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "This order cannot be paid online right now") {
		t.Fatalf("splits on %s: %d %s", gateway, code, body)
	}
	waitFor(t, 5*time.Second, "the split note", func() bool {
		return e.wc.NotesContaining(id, gateway+" does not support splitting a payment between vendors") == 1
	})
	id, _ = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: currency, Total: total, CreatedVia: "admin"})
	code, out := e.sendLink(`{"order_id":"`+strconv.FormatInt(id, 10)+`","notify":"email"}`, e.shop.Secrets[woocommerce.SecretPlugin])
	if code != http.StatusUnprocessableEntity || errCode(out) != "unsupported_by_gateway" || !strings.Contains(field(out, "error.message").(string), gateway+" does not support invoices") {
		t.Fatalf("payment link on %s: %d %v", gateway, code, out)
	}
	if n := creates(); n != before {
		t.Fatalf("the gateway was called (%d → %d)", before, n)
	}
}

func testKupayStore(t *testing.T, e *env) {
	creates := func() int { return len(e.kupay.Requests("create")) }
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "USD", Total: "12.34"})
	pay := e.payOn(e.link(id, key, key), e.kupay.URL+"/pay/", id)
	if pay.Gateway != "kupay" {
		t.Fatalf("payment on %s", pay.Gateway)
	}
	reqs := e.kupay.Requests("create")
	if last := string(reqs[len(reqs)-1]); !strings.Contains(last, `"amount":12.34`) || !strings.Contains(last, `"currency":"USD"`) {
		t.Fatalf("create request: %s", last)
	}
	ret, err := e.kupay.Complete(pay.GatewayRef, kupaytest.Paid)
	if err != nil {
		t.Fatal(err)
	}
	want := e.wc.Base() + "/checkout/order-received/" + strconv.FormatInt(id, 10) + "/?key=" + key
	if got := e.back(ret); got != want {
		t.Fatalf("back to %q, want %q", got, want)
	}
	e.paid(id, key, "KuPay")

	// KuPay refunds nothing: the plugin gets the reason, in full or in part.
	secret := e.shop.Secrets[woocommerce.SecretPlugin]
	for _, amount := range []string{"12.34", "1.00"} {
		code, body := e.refund(id, amount, "90"+amount[:1], secret)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"code":"unsupported_by_gateway"`) ||
			!strings.Contains(body, `"message":"KuPay does not support refunds"`) {
			t.Fatalf("refund of %s on KuPay: %d %s", amount, code, body)
		}
	}
	if out := e.pluginRefund(id, "12.34", 2, "903"); !strings.Contains(out, "error: Refund refused: KuPay does not support refunds") {
		t.Fatalf("plugin refund on KuPay: %s", out)
	}
	if rs, err := e.svc.Refunds(context.Background(), pay.ID); err != nil || len(rs) != 0 {
		t.Fatalf("refunds recorded: %v %v", rs, err)
	}

	// A KWD order on a KuPay shop: refused before any call.
	id, key = e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "5.000"})
	e.refused(id, key, creates, "This order cannot be paid with KuPay", "KuPay does not accept KWD", "No payment was taken")
	code, _, body := get(t, noRedirect, e.link(id, key, key)+"&lang=ar")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "بوابة الدفع KuPay لا تقبل عملة KWD") {
		t.Fatalf("arabic refusal: %d %s", code, body)
	}
	e.refusedChoices(t, creates, "KuPay", "KuPay does not take the payment method")
}
