package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/routes"
	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

// TestShopifyThroughBridge configures the Shopify app the way an operator
// does (SHOPIFY_* variables, certificate files) and runs a payments-app
// payment through the real wiring: OAuth install, the settings API with a
// session token, a payment session on the mTLS listener, the gateway page,
// Shopify's confirmation of the checkout before the shopper pays, and the
// resolve that sends the shopper back to Shopify.
func TestShopifyThroughBridge(t *testing.T) {
	t.Parallel()
	const apiKey, apiSecret, shop = "app-key", "app-secret", "dates.myshopify.com"
	sim := shopifytest.New(apiKey, apiSecret)
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	certPEM, keyPEM := sim.ServerCertPEM()
	files := map[string][]byte{"ca.pem": sim.ClientCAPEM(), "cert.pem": certPEM, "key.pem": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sessionAddr := l.Addr().String()
	l.Close()
	b := startBridgeEnv(t, backends[0], &upayDriver{}, map[string]string{"SHOPIFY_API_KEY": apiKey, "SHOPIFY_API_SECRET": apiSecret,
		"SHOPIFY_ADMIN_ORIGIN": sim.AdminOrigin(), "SHOPIFY_MTLS_ADDR": sessionAddr,
		"SHOPIFY_MTLS_CA_FILE": filepath.Join(dir, "ca.pem"), "SHOPIFY_MTLS_CERT_FILE": filepath.Join(dir, "cert.pem"),
		"SHOPIFY_MTLS_KEY_FILE": filepath.Join(dir, "key.pem"), "SHOPIFY_CONFIRM_SESSIONS": "true"})
	// The payments extension confirms checkouts (oversell protection).
	sim.SetConfirmation("https://" + sessionAddr + routes.ShopifyConfirmSessions)

	// Install: the merchant's browser goes through OAuth with the simulator.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := b.base + "/shopify/install?" + sim.InstallQuery(shop, time.Now()).Encode()
	for range 3 {
		resp, err := browser.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("install step %s: %d", next, resp.StatusCode)
		}
		next = resp.Header.Get("Location")
	}
	if next != b.base+"/shopify/app?shop="+url.QueryEscape(shop) {
		t.Fatalf("install ended at %q", next)
	}

	// Settings, with an App Bridge session token.
	now := time.Now()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://" + shop + "/admin", "dest": "https://" + shop,
		"aud": apiKey, "sub": "1", "exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix()}).SignedString([]byte(apiSecret))
	body, _ := json.Marshal(map[string]any{"mode": "payments_app", "sandbox": true, "gateway": "upay",
		"credentials": map[string]string{"api_key": upaytest.DefaultKey}})
	req, _ := http.NewRequest(http.MethodPut, b.base+"/shopify/api/settings", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("settings: %d", resp.StatusCode)
	}

	// Shopify's checkout posts a payment session over mTLS.
	sessions := "https://" + sessionAddr + "/shopify/payments/sessions"
	if _, _, err := sim.PostSession(sessions, shop, shopifytest.PaymentSessionBody("nocert", "1.000", "KWD", sim.URL+"/checkouts/nocert"), false); err == nil {
		t.Fatal("a session without a client certificate was accepted")
	}
	code, out, err := sim.PostSession(sessions, shop, shopifytest.PaymentSessionBody("s1", "12.345", "KWD", sim.URL+"/checkouts/s1"), true)
	payURL, _ := out["redirect_url"].(string)
	if err != nil || code != http.StatusCreated || !strings.HasPrefix(payURL, b.base+"/pay/pay_") {
		t.Fatalf("payment session: %d %v %v", code, out, err)
	}
	if code, _ := follow(t, b.base+"/shopify/payments/sessions"); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Fatalf("the session route answered %d on the public listener", code)
	}
	code, page := follow(t, payURL)
	if code != http.StatusFound || !strings.HasPrefix(page, b.sim.URL+"/pay/") {
		t.Fatalf("pay URL: %d → %q", code, page)
	}
	ret, err := b.sim.Complete(strings.TrimPrefix(page, b.sim.URL+"/pay/"), upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	want := sim.URL + "/checkouts/s1/thank_you"
	u := ret
	testenv.Eventually(t, 15*time.Second, "the shopper to be sent back to Shopify", func() error {
		code, loc := follow(t, u)
		if code == http.StatusFound && loc == want {
			return nil
		}
		id := strings.TrimPrefix(strings.SplitN(payURL, "?", 2)[0], b.base+"/pay/")
		u = b.base + "/wait/" + id
		return fmt.Errorf("shopper: %d → %q, want Shopify's %q", code, loc, want)
	})
	if st := sim.Session("gid://shopify/PaymentSession/s1"); st.State != "resolved" || st.Resolves != 1 || st.Confirms != 1 {
		t.Fatalf("session: %+v", st)
	}
}
