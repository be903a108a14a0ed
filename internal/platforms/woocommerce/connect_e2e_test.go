package woocommerce_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/upay/upaytest"
)

// startConnect posts the connect form (form) with a fresh browser and
// returns it with the store's grant URL and the state in it.
func (e *env) startConnect(t *testing.T, form url.Values) (*http.Client, string, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	br := &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := br.PostForm(e.base+"/woocommerce/connect", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	auth := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("connect: %d → %q", resp.StatusCode, auth)
	}
	u, _ := url.Parse(auth)
	return br, auth, u.Query().Get("user_id")
}

// testForgedCallback: someone who knows only the store's address starts a
// connection for it and posts made-up keys to the callback themselves (it
// is unsigned, and the state is in the grant URL they were sent to). The
// store's shop keeps its keys and gateway account, and they never see its
// shared secret; their connection ends "refused", and says so.
func testForgedCallback(t *testing.T, e *env) {
	ctx := context.Background()
	before, err := e.db.ShopByDomain(ctx, checkout.PlatformWooCommerce, e.wc.Base())
	if err != nil {
		t.Fatal(err)
	}
	br, auth, state := e.startConnect(t, connectForm(e.wc.Base(), "upay", map[string]string{"api_key": "attackers-own-account"}))
	u, _ := url.Parse(auth)
	ret, _ := url.Parse(u.Query().Get("return_url"))
	resp, err := http.Post(e.base+"/woocommerce/auth/callback", "application/json",
		strings.NewReader(`{"key_id":7,"user_id":"`+state+`","consumer_key":"ck_forged","consumer_secret":"cs_forged","key_permissions":"read_write"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d", resp.StatusCode) // wc-auth's answer does not tell forged from real
	}
	var page string
	waitFor(t, 10*time.Second, "the forged connection to be refused", func() bool {
		_, _, page = get(t, br, ret.String()+"?success=1")
		return strings.Contains(page, "did not accept")
	})
	if strings.Contains(page, before.Secrets[woocommerce.SecretPlugin]) || strings.Contains(page, before.ID) {
		t.Fatal("the forger sees the store's plugin settings")
	}
	after, err := e.db.ShopByDomain(ctx, checkout.PlatformWooCommerce, e.wc.Base())
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || after.Secrets[woocommerce.SecretConsumerKey] != before.Secrets[woocommerce.SecretConsumerKey] ||
		after.Gateway.Credentials["api_key"] != before.Gateway.Credentials["api_key"] || after.Settings[woocommerce.SettingStatus] != "connected" {
		t.Fatalf("the store's shop changed: %+v → %+v", before.Settings, after.Settings)
	}
	// A store not connected yet is not claimed by forged keys either: its
	// real connection later gets a shop of its own.
	other := woocommercetest.NewServer()
	defer other.Close()
	other.AllowHTTPCallback = true
	_, _, state = e.startConnect(t, connectForm(other.Base(), "upay", map[string]string{"api_key": upaytest.DefaultKey}))
	resp, err = http.Post(e.base+"/woocommerce/auth/callback", "application/json",
		strings.NewReader(`{"key_id":7,"user_id":"`+state+`","consumer_key":"ck_forged","consumer_secret":"cs_forged","key_permissions":"read_write"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.plat.Wait()
	if s, err := e.db.ShopByDomain(ctx, checkout.PlatformWooCommerce, other.Base()); err == nil {
		t.Fatalf("forged keys claimed the store: shop %s %v", s.ID, s.Settings)
	}
}

// testShowAgain: a merchant on another device asks for the plugin settings
// again; the store asks them to approve, and then they see the same
// values; the gateway account is unchanged. A store that is not connected
// is told so.
func testShowAgain(t *testing.T, e *env) {
	ctx := context.Background()
	before, err := e.db.ShopByDomain(ctx, checkout.PlatformWooCommerce, e.wc.Base())
	if err != nil {
		t.Fatal(err)
	}
	br, auth, _ := e.startConnect(t, url.Values{"store_url": {e.wc.Base()}, "intent": {"show"}})
	if !strings.HasPrefix(auth, e.wc.Base()+"/wc-auth/v1/authorize?") {
		t.Fatalf("show again goes to %q", auth)
	}
	code, ret, _ := get(t, br, woocommercetest.ApproveURL(auth))
	if code != http.StatusFound {
		t.Fatalf("approve: %d", code)
	}
	var page string
	waitFor(t, 10*time.Second, "the plugin settings to be shown again", func() bool {
		_, _, page = get(t, br, ret)
		return strings.Contains(page, "Your store is connected")
	})
	if !strings.Contains(page, before.ID) || !strings.Contains(page, before.Secrets[woocommerce.SecretPlugin]) {
		t.Fatalf("the values are not shown again: %s", page)
	}
	after, err := e.db.ShopByDomain(ctx, checkout.PlatformWooCommerce, e.wc.Base())
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || after.Gateway.Gateway != before.Gateway.Gateway || len(after.Gateway.Credentials) != len(before.Gateway.Credentials) {
		t.Fatalf("gateway account changed: %v → %v", before.Gateway.Gateway, after.Gateway.Gateway)
	}
	testHappyPath(t, e) // the store's new keys work
	// Not connected: refused on the form, in the page's language.
	resp, err := e.browser().PostForm(e.base+"/woocommerce/connect", url.Values{"store_url": {"https://not-connected.example"}, "intent": {"show"}, "lang": {"ar"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 1<<16)
	n, _ := resp.Body.Read(b)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b[:n]), "غير مربوط") {
		t.Fatalf("show again for an unknown store: %d", resp.StatusCode)
	}
}

// testReturnPages: the page wc-auth returns to says plainly what happened,
// in the merchant's language: an unknown connection, a refusal on the
// store, and a connected store seen from another browser (no values).
func testReturnPages(t *testing.T, e *env) {
	for _, c := range []struct {
		name, path string
		code       int
		want, not  string
	}{
		{"unknown", "/woocommerce/auth/return/shop_unknown", http.StatusNotFound, "Connection not found", ""},
		{"unknown, Arabic", "/woocommerce/auth/return/shop_unknown?lang=ar", http.StatusNotFound, "لم يتم العثور على الربط", ""},
		{"denied", "/woocommerce/auth/return/" + e.shop.ID + "?success=0", http.StatusOK, "Access was not granted", e.shop.Secrets[woocommerce.SecretPlugin]},
		{"another browser", "/woocommerce/auth/return/" + e.shop.ID, http.StatusOK, "shown only in the browser that started", e.shop.Secrets[woocommerce.SecretPlugin]},
		{"another browser, Arabic", "/woocommerce/auth/return/" + e.shop.ID + "?lang=ar", http.StatusOK, `dir="rtl"`, e.shop.Secrets[woocommerce.SecretPlugin]},
	} {
		code, _, body := get(t, noRedirect, e.base+c.path)
		if code != c.code || !strings.Contains(body, c.want) || (c.not != "" && strings.Contains(body, c.not)) {
			t.Errorf("%s: %d, want %d with %q", c.name, code, c.code, c.want)
		}
	}
}
