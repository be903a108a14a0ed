package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"paybridge/internal/checkout"
)

func TestInstall(t *testing.T) {
	// It owns its harness: its own database, queue server and simulators.
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	h.sim.SetTokenTTL(time.Hour)
	shop := h.install("abaya-house.myshopify.com")
	if shop.Secrets[secretToken] == "" || shop.Secrets[secretRefresh] == "" || shop.Secrets[secretTokenExpires] == "" {
		t.Fatalf("stored secrets: %d keys, refresh %v", len(shop.Secrets), shop.Secrets[secretRefresh] != "")
	}
	if !strings.HasPrefix(shop.Secrets[secretToken], "shpat_") {
		t.Fatal("token not stored")
	}

	install := func(q url.Values) int {
		code, _, _ := get(t, browser(), h.base+"/shopify/install?"+q.Encode())
		return code
	}
	t.Run("Refused", func(t *testing.T) {
		forged := h.sim.InstallQuery("abaya-house.myshopify.com", time.Now())
		forged.Set("hmac", strings.Repeat("ab", 32))
		tampered := h.sim.InstallQuery("abaya-house.myshopify.com", time.Now())
		tampered.Set("shop", "evil-house.myshopify.com")
		stale := h.sim.InstallQuery("abaya-house.myshopify.com", time.Now().Add(-2*time.Minute))
		notShopify := h.sim.InstallQuery("abaya-house.example.com", time.Now())
		for _, c := range []struct {
			name string
			q    url.Values
			want int
		}{
			{"forged hmac", forged, http.StatusUnauthorized},
			{"tampered shop", tampered, http.StatusUnauthorized},
			{"stale timestamp", stale, http.StatusUnauthorized},
			{"non-Shopify shop", notShopify, http.StatusBadRequest},
			{"no hmac", url.Values{"shop": {"abaya-house.myshopify.com"}}, http.StatusUnauthorized},
		} {
			if got := install(c.q); got != c.want {
				t.Errorf("%s: %d, want %d", c.name, got, c.want)
			}
		}
	})

	t.Run("ReusedState", func(t *testing.T) {
		b := browser()
		_, loc, _ := get(t, b, h.base+"/shopify/install?"+h.sim.InstallQuery("abaya-house.myshopify.com", time.Now()).Encode())
		_, cb, _ := get(t, b, loc)
		if code, _, body := get(t, b, cb); code != http.StatusFound {
			t.Fatalf("first callback: %d %s", code, body)
		}
		// The same callback again (a replay), even with the cookie set again.
		u, _ := url.Parse(cb)
		b.Jar.SetCookies(u, []*http.Cookie{{Name: stateCookie, Value: u.Query().Get("state"), Path: "/shopify/callback"}})
		if code, _, _ := get(t, b, cb); code != http.StatusForbidden {
			t.Fatalf("reused state: %d", code)
		}
	})

	t.Run("StateFromAnotherBrowser", func(t *testing.T) {
		b := browser()
		_, loc, _ := get(t, b, h.base+"/shopify/install?"+h.sim.InstallQuery("abaya-house.myshopify.com", time.Now()).Encode())
		_, cb, _ := get(t, b, loc)
		if code, _, _ := get(t, browser(), cb); code != http.StatusForbidden {
			t.Fatalf("callback without the state cookie: %d", code)
		}
	})

	t.Run("StateForAnotherShop", func(t *testing.T) {
		b := browser()
		_, loc, _ := get(t, b, h.base+"/shopify/install?"+h.sim.InstallQuery("abaya-house.myshopify.com", time.Now()).Encode())
		u, _ := url.Parse(loc)
		q := url.Values{"code": {"x"}, "shop": {"other-shop.myshopify.com"}, "state": {u.Query().Get("state")}}
		if code, _, _ := get(t, b, h.base+"/shopify/callback?"+h.sim.SignQuery(q, time.Now()).Encode()); code != http.StatusForbidden {
			t.Fatalf("state of another shop: %d", code)
		}
	})

	t.Run("ExpiringTokenRefreshed", func(t *testing.T) {
		s, _ := h.db.Shop(context.Background(), shop.ID)
		old := s.Secrets[secretToken]
		h.sim.ExpireTokens()
		// The stored expiry still says valid: the 401 forces a refresh.
		if err := h.p.configurePaymentsApp(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		s, _ = h.db.Shop(context.Background(), shop.ID)
		if s.Secrets[secretToken] == old {
			t.Fatal("token not refreshed")
		}
		// And ahead of time, from the stored expiry.
		s.Secrets[secretTokenExpires] = "1"
		if err := h.db.UpdateShop(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		prev := s.Secrets[secretToken]
		if err := h.p.configurePaymentsApp(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		s, _ = h.db.Shop(context.Background(), shop.ID)
		if s.Secrets[secretToken] == prev {
			t.Fatal("token not refreshed before expiry")
		}
	})
}

func TestVerifyQuery(t *testing.T) {
	// Shopify's documented example (shopify.dev, "Verify a request"):
	// secret "hush", code/shop/state/timestamp signed as below.
	q, _ := url.ParseQuery("code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")
	shop, err := VerifyQuery("hush", q, time.Unix(1337178173, 0))
	if err != nil || shop != "some-shop.myshopify.com" {
		t.Fatalf("Shopify's example: %q %v", shop, err)
	}
	if _, err := VerifyQuery("hush", q, time.Unix(1337178173+91, 0)); err != ErrStale {
		t.Fatalf("91 s late: %v", err)
	}
	if _, err := VerifyQuery("other", q, time.Unix(1337178173, 0)); err != ErrBadHMAC {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestVerifyQueryStrict: exactly the form Shopify signs, as strictly as
// @shopify/shopify-api checks it.
func TestVerifyQueryStrict(t *testing.T) {
	const secret = "hush"
	at := time.Unix(1337178173, 0)
	mac := func(msg string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	base := func() url.Values {
		return url.Values{"shop": {"some-shop.myshopify.com"}, "state": {"a b&c"}, "timestamp": {"1337178173"}}
	}
	signed := func(q url.Values, h string) url.Values { q["hmac"] = []string{h}; return q }
	enc := "shop=some-shop.myshopify.com&state=a+b%26c&timestamp=1337178173"
	raw := "shop=some-shop.myshopify.com&state=a b&c&timestamp=1337178173"
	repeated := func() url.Values { q := base(); q["ids"] = []string{"1", "2"}; return q }
	repEnc := "ids=1%2C2&" + enc
	repArray := `ids=%5B%221%22%2C%20%222%22%5D&` + enc
	for _, c := range []struct {
		name string
		q    url.Values
		want error
	}{
		{"encoded", signed(base(), mac(enc)), nil},
		{"repeated key joined with a comma", signed(repeated(), mac(repEnc)), nil},
		{"raw k=v text", signed(base(), mac(raw)), ErrBadHMAC},
		{"space as %20", signed(base(), mac(strings.Replace(enc, "a+b", "a%20b", 1))), ErrBadHMAC},
		{"star and tilde as URLSearchParams writes them", func() url.Values {
			q := base()
			q["state"] = []string{"*~"}
			return signed(q, mac("shop=some-shop.myshopify.com&state=*%7E&timestamp=1337178173"))
		}(), nil},
		{"repeated key as an array", signed(repeated(), mac(repArray)), ErrBadHMAC},
		{"uppercase hex", signed(base(), strings.ToUpper(mac(enc))), ErrBadHMAC},
		{"hmac twice", func() url.Values { q := signed(base(), mac(enc)); q["hmac"] = append(q["hmac"], mac(enc)); return q }(), ErrBadHMAC},
		{"timestamp twice", func() url.Values {
			q := base()
			q["timestamp"] = []string{"1337178173", "1337178173"}
			return signed(q, mac("shop=some-shop.myshopify.com&state=a+b%26c&timestamp=1337178173%2C1337178173"))
		}(), ErrStale},
		{"short hmac", signed(base(), mac(enc)[:62]), ErrBadHMAC},
	} {
		if _, err := VerifyQuery(secret, c.q, at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestValidShop(t *testing.T) {
	for in, want := range map[string]bool{
		"shop.myshopify.com": true, "my-shop-1.myshopify.com": true,
		"shop.myshopify.com.evil.com": false, "evil.com": false, "-shop.myshopify.com": false,
		"shop.myshopify.io": false, "a/b.myshopify.com": false, "": false, "shop.myshopify.com/": false,
	} {
		if got := ValidShop(in); got != want {
			t.Errorf("ValidShop(%q) = %v", in, got)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		in, cur, want string
		ok            bool
	}{
		{"12.345", "KWD", "12.345", true}, {"123.00", "USD", "123.00", true}, {"500.00", "JPY", "500", true},
		{"12.3450", "KWD", "12.345", true}, {"12.3456", "KWD", "", false}, {"1e3", "KWD", "", false}, {"-1", "KWD", "", false},
	} {
		m, err := checkout.ParseMoneyPadded(c.in, c.cur)
		if (err == nil) != c.ok || (c.ok && m.String() != c.want) {
			t.Errorf("ParseMoneyPadded(%q, %s) = %v, %v", c.in, c.cur, m, err)
		}
	}
}

func TestSessionTokens(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	shop := h.install("token-shop.myshopify.com")
	call := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/shopify/api/settings", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "https://" + shop.Domain + "/admin",
		"dest": "https://" + shop.Domain, "aud": testKey, "exp": time.Now().Add(time.Minute).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	wrongSig, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://" + shop.Domain + "/admin",
		"dest": "https://" + shop.Domain, "aud": testKey, "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte("not-the-secret"))
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"iss": "https://" + shop.Domain + "/admin",
		"dest": "https://" + shop.Domain, "aud": testKey, "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte(testSecret))
	critJWT := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://" + shop.Domain + "/admin",
		"dest": "https://" + shop.Domain, "aud": testKey, "exp": time.Now().Add(time.Minute).Unix(), "b64": false})
	critJWT.Header["crit"] = []string{"b64"}
	critToken, _ := critJWT.SignedString([]byte(testSecret))
	for _, c := range []struct {
		name string
		tok  string
		want int
	}{
		{"valid", sessionToken(t, shop.Domain, nil), http.StatusOK},
		{"within leeway", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() }), http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"wrong signature", wrongSig, http.StatusUnauthorized},
		{"alg none", none, http.StatusUnauthorized},
		{"HS512", hs512, http.StatusUnauthorized},
		{"wrong audience", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["aud"] = "another-app" }), http.StatusUnauthorized},
		{"expired", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), http.StatusUnauthorized},
		{"not yet valid", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Minute).Unix() }), http.StatusUnauthorized},
		{"no exp", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { delete(c, "exp") }), http.StatusUnauthorized},
		{"dest not a shop", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["dest"] = "https://evil.example.com" }), http.StatusUnauthorized},
		{"iss of another shop", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["iss"] = "https://other.myshopify.com/admin" }), http.StatusUnauthorized},
		{"unknown shop", sessionToken(t, "nobody.myshopify.com", nil), http.StatusNotFound},
		{"exp a string", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10) }), http.StatusUnauthorized},
		{"nbf a string", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["nbf"] = strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) }), http.StatusUnauthorized},
		{"aud an array", sessionToken(t, shop.Domain, func(c jwt.MapClaims) { c["aud"] = []string{testKey} }), http.StatusUnauthorized},
		{"crit header", critToken, http.StatusUnauthorized},
	} {
		if got := call(c.tok); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// The settings page itself is public and framable by the admin only.
	resp, err := http.Get(h.base + "/shopify/app?shop=" + shop.Domain)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors https://admin.shopify.com https://"+shop.Domain) {
		t.Fatalf("settings page: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if code, out := h.settings(shop.Domain, SettingsJSON{Mode: "bogus"}); code != http.StatusUnprocessableEntity {
		t.Fatalf("bad mode: %d %v", code, out)
	}
	_ = checkout.PlatformShopify
}
