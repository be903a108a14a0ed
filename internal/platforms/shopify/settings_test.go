package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/upay/upaytest"
)

// api calls a settings API route with a session token for shop.
func (h *harness) api(shop, method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+sessionToken(h.t, shop, nil))
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// checks returns "part:code" for each check of a check-connection answer.
func checks(out map[string]any) []string {
	var got []string
	list, _ := out["checks"].([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		got = append(got, m["part"].(string)+":"+m["code"].(string))
	}
	return got
}

func status(out map[string]any) map[string]any {
	s, _ := out["status"].(map[string]any)
	return s
}

// TestSettingsConnection: the settings API says how the connection
// stands, and "check connection" asks the gateway with the stored
// credentials and Shopify with the shop's token, and says what is wrong.
func TestSettingsConnection(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	shop := h.install("check-shop.myshopify.com").Domain

	_, out := h.api(shop, http.MethodGet, "/shopify/api/settings", nil)
	st := status(out)
	if st["ready"] != false || st["gateway"] != "UPayments" || len(st["credentials_missing"].([]any)) != 1 || st["test_payments"] != false {
		t.Fatalf("fresh install status: %v", st)
	}
	for _, c := range []struct {
		name  string
		setup func()
		want  []string
		ok    bool
	}{
		{"no credentials", func() {}, []string{"gateway:missing", "shopify:not_ready"}, false},
		{"UPayments sandbox key", func() {
			h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
		}, []string{"gateway:ok", "shopify:ok"}, true},
		{"a key UPayments refuses", func() {
			h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Credentials: map[string]string{"api_key": "not-a-upayments-key"}})
		}, []string{"gateway:refused", "shopify:ok"}, false},
		{"Shopify down", func() {
			h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
			h.sim.Fail("paymentsAppConfigure", 1, shopifytest.Failure{Status: http.StatusServiceUnavailable})
		}, []string{"gateway:ok", "shopify:unreachable"}, false},
		{"Shopify refuses the configuration", func() {
			h.sim.Fail("paymentsAppConfigure", 1, shopifytest.Failure{UserError: "Payments app is not approved"})
		}, []string{"gateway:ok", "shopify:error"}, false},
		{"Checkout.com: asked about a payment it never made", func() {
			h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Gateway: "cko", Credentials: gatewayCreds["cko"]})
		}, []string{"gateway:ok", "shopify:ok"}, true},
		{"Checkout.com: a key it refuses", func() {
			creds := maps.Clone(gatewayCreds["cko"])
			creds[cko.CredSecretKey] = "sk_sbox_not-a-real-key"
			h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Gateway: "cko", Credentials: creds})
		}, []string{"gateway:refused", "shopify:ok"}, false},
		{"order webhook: the token is checked with a read", func() {
			h.settings(shop, SettingsJSON{Mode: ModeOrderWebhook, Sandbox: true, Gateway: "upay", Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
		}, []string{"gateway:ok", "shopify:ok"}, true},
	} {
		c.setup()
		code, out := h.api(shop, http.MethodPost, "/shopify/api/settings/check", nil)
		if got := checks(out); code != http.StatusOK || strings.Join(got, " ") != strings.Join(c.want, " ") || out["ok"] != c.ok {
			t.Errorf("%s: %d %v ok=%v, want %v ok=%v (%v)", c.name, code, got, out["ok"], c.want, c.ok, out)
		}
	}
	// What Shopify was last told is on the status.
	h.settings(shop, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Gateway: "upay", Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
	_, out = h.api(shop, http.MethodGet, "/shopify/api/settings", nil)
	if st := status(out); st["configured"] != "ready" || st["ready"] != true || st["test_payments"] != true {
		t.Fatalf("status after a good save: %v", st)
	}
	if cfg := h.sim.Configuration(shop); cfg["ready"] != true {
		t.Fatalf("paymentsAppConfigure: %v", cfg)
	}
	// Unauthenticated calls are refused.
	resp, err := http.Post(h.base+"/shopify/api/settings/check", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("check without a session token: %d", resp.StatusCode)
	}
}

// TestSettingsTestPayment: a test payment only on a sandbox account; the
// merchant opens it, pays on the gateway's test page and goes back to the
// app in the admin; Shopify is told nothing.
func TestSettingsTestPayment(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	shop := h.install("test-pay-shop.myshopify.com")
	if code, out := h.api(shop.Domain, http.MethodPost, "/shopify/api/settings/test-payment", nil); code != http.StatusUnprocessableEntity || out["error"].(map[string]any)["code"] != "missing" {
		t.Fatalf("without credentials: %d %v", code, out)
	}
	h.settings(shop.Domain, SettingsJSON{Mode: ModePaymentsApp, Sandbox: false, Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
	if code, out := h.api(shop.Domain, http.MethodPost, "/shopify/api/settings/test-payment", nil); code != http.StatusUnprocessableEntity || out["error"].(map[string]any)["code"] != "live_account" {
		t.Fatalf("live account: %d %v", code, out)
	}
	h.settings(shop.Domain, SettingsJSON{Mode: ModePaymentsApp, Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}})
	code, out := h.api(shop.Domain, http.MethodPost, "/shopify/api/settings/test-payment", nil)
	if code != http.StatusCreated || out["amount"] != "1.000" || out["currency"] != "KWD" {
		t.Fatalf("test payment: %d %v", code, out)
	}
	payURL, id := out["pay_url"].(string), out["payment_id"].(string)
	if payURL != h.base+"/pay/"+id {
		t.Fatalf("pay URL %q", payURL)
	}
	before := len(h.sim.Calls("paymentSessionResolve"))
	track := h.visit(payURL)
	ret, err := h.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	back := "https://" + shop.Domain + "/admin/apps/" + testKey
	if got := h.waitRedirect(ret, 20*time.Second); got != back {
		t.Fatalf("after paying, the merchant goes to %q, want %q", got, back)
	}
	h.settled(id)
	p, err := h.svc.Payment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != checkout.StatusPaid || p.SyncState != checkout.SyncDone || p.Metadata[MetaMode] != ModeTestPayment {
		t.Fatalf("test payment %s %s %v", p.Status, p.SyncState, p.Metadata)
	}
	if n := len(h.sim.Calls("paymentSessionResolve")); n != before {
		t.Fatalf("Shopify was told about a test payment (%d resolves)", n-before)
	}
}

// TestSettingsPage: the page is in the admin's language (App Bridge's
// locale), loads App Bridge first from Shopify's CDN, and may be framed
// only by the admin and the shop.
func TestSettingsPage(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	for _, c := range []struct{ locale, lang, dir, text string }{
		{"", "en", "ltr", "Check connection"}, {"en-US", "en", "ltr", "Make a test payment"},
		{"ar", "ar", "rtl", "تحقّق من الاتصال"}, {"ar-KW", "ar", "rtl", "أنشئ دفعة تجريبية"}, {"fr", "en", "ltr", "Sandbox (test) account"},
	} {
		code, _, body := get(t, noRedirect, h.base+"/shopify/app?shop=page-shop.myshopify.com&locale="+c.locale)
		if code != http.StatusOK || !strings.Contains(body, `<html lang="`+c.lang+`" dir="`+c.dir+`">`) || !strings.Contains(body, c.text) {
			t.Errorf("locale %q: %d, want lang %s dir %s with %q", c.locale, code, c.lang, c.dir, c.text)
		}
		head := body[:strings.Index(body, "</head>")]
		if i := strings.Index(head, "<script"); i < 0 || !strings.HasPrefix(head[i:], `<script nonce="`) ||
			!strings.Contains(head[i:strings.Index(head[i:], ">")+i], `src="https://cdn.shopify.com/shopifycloud/app-bridge.js"`) {
			t.Errorf("locale %q: App Bridge is not the first script", c.locale)
		}
		if !strings.Contains(body, "--p-color-bg-surface") {
			t.Error("Polaris tokens missing")
		}
	}
}
