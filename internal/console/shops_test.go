package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/store"
	"paybridge/internal/upay/upaytest"
)

var apiKeyRE = regexp.MustCompile(`id="api_key"[^>]*>(pbk_[^<]+)<`)

// An operator checks a shop's connection, breaks and mends its gateway
// credentials, disables and enables it, rotates its key and removes
// another, on both stacks; every action is in the shop's audit trail.
func TestShopActions(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		s, oldKey := e.apiShop("shop_a")
		e.user("ops@example.com", "")
		b := e.browser()
		b.login("ops@example.com")
		page := routes.ConsoleShopPath(s.ID)
		expect := func(r resp, location string) {
			t.Helper()
			if r.status != http.StatusSeeOther || r.header.Get("Location") != location {
				t.Fatalf("want 303 to %s, got %d %q\n%s", location, r.status, r.header.Get("Location"), r.body)
			}
		}
		if r := b.get("/admin/shops"); r.status != http.StatusOK || !strings.Contains(r.body, `href="`+page+`"`) ||
			!strings.Contains(r.body, "Connected") || !strings.Contains(r.body, "Readable") {
			t.Fatalf("shops: %d\n%s", r.status, r.body)
		}
		r := b.get(page)
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="cred_api_key"`) || !strings.Contains(r.body, "Not checked yet") {
			t.Fatalf("shop page: %d\n%s", r.status, r.body)
		}
		if strings.Contains(r.body, upaytest.DefaultKey) {
			t.Fatal("the shop page shows the gateway key")
		}

		expect(b.post(page, page+"/check", nil), page+"?notice=n_check_ok")
		if r := b.get(page); !strings.Contains(r.body, "The gateway accepted the stored credentials.") || !strings.Contains(r.body, "An API shop has no store") {
			t.Errorf("after a good check:\n%s", r.body)
		}
		// A wrong key: saved (never shown), then the check says so.
		expect(b.post(page, page+"/credentials", url.Values{"cred_api_key": {"not-the-key"}}), page+"?notice=n_credentials_saved")
		if got, _ := e.db.Shop(e.ctx(), s.ID); got.Gateway.Credentials["api_key"] != "not-the-key" {
			t.Fatalf("credentials: %v", got.Gateway.Credentials)
		}
		expect(b.post(page, page+"/check", nil), page+"?problem=e_check_problem")
		r = b.get(page)
		if !strings.Contains(r.body, "The gateway refused the stored credentials") || !strings.Contains(r.body, "HTTP 401") ||
			strings.Contains(r.body, "not-the-key") {
			t.Errorf("after a refused check:\n%s", r.body)
		}
		// An empty field keeps the stored value; too long a value is refused.
		expect(b.post(page, page+"/credentials", url.Values{"cred_api_key": {""}}), page+"?notice=n_credentials_unchanged")
		expect(b.post(page, page+"/credentials", url.Values{"cred_api_key": {strings.Repeat("k", 5000)}}), page+"?problem=e_credentials_bad")
		expect(b.post(page, page+"/credentials", url.Values{"cred_api_key": {upaytest.DefaultKey}}), page+"?notice=n_credentials_saved")

		expect(b.post(page, page+"/disable", url.Values{"reason": {"fraud review"}}), page+"?notice=n_shop_disabled")
		if got, _ := e.db.Shop(e.ctx(), s.ID); got.Status != checkout.ShopDisabled {
			t.Fatalf("status after disable: %s", got.Status)
		}
		if r := b.get(page); !strings.Contains(r.body, `action="`+page+`/enable"`) || strings.Contains(r.body, `action="`+page+`/disable"`) {
			t.Errorf("a disabled shop's page offers no enable button:\n%s", r.body)
		}
		expect(b.post(page, page+"/enable", url.Values{"reason": {"cleared"}}), page+"?notice=n_shop_enabled")
		if got, _ := e.db.Shop(e.ctx(), s.ID); got.Status != checkout.ShopConnected {
			t.Fatalf("status after enable: %s", got.Status)
		}

		// The new key is shown once, works, and the old one stops.
		r = b.post(page, page+"/rotate-key", url.Values{"reason": {"leaked in a log"}})
		m := apiKeyRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil || !strings.Contains(r.header.Get("Cache-Control"), "no-store") ||
			!strings.Contains(r.body, `id="webhook_secret"`) {
			t.Fatalf("rotate: %d %q\n%s", r.status, r.header.Get("Cache-Control"), r.body)
		}
		newKey := m[1]
		if got, want := e.apiStatus(newKey), http.StatusNotFound; got != want {
			t.Errorf("the new key: HTTP %d, want %d", got, want)
		}
		if got := e.apiStatus(oldKey); got != http.StatusUnauthorized {
			t.Errorf("the old key: HTTP %d, want 401", got)
		}
		if r := b.get(page); strings.Contains(r.body, newKey) {
			t.Error("the shop page shows the new key again")
		}

		evs, err := e.db.ShopEvents(e.ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ev := range evs {
			kinds = append(kinds, ev.Kind)
			if ev.Source != "console:ops@example.com" {
				t.Errorf("event %s by %q", ev.Kind, ev.Source)
			}
			if d := string(ev.Detail); strings.Contains(d, newKey) || strings.Contains(d, "not-the-key") || strings.Contains(d, upaytest.DefaultKey) {
				t.Errorf("event %s holds a secret: %s", ev.Kind, d)
			}
		}
		want := []string{store.ShopEventConnectionChecked, store.ShopEventCredentialsChanged, store.ShopEventConnectionChecked,
			store.ShopEventCredentialsChanged, store.ShopEventDisabled, store.ShopEventEnabled, store.ShopEventKeyRotated}
		if !slices.Equal(kinds, want) {
			t.Errorf("shop events %v, want %v", kinds, want)
		}
		if d := string(evs[4].Detail); !strings.Contains(d, "fraud review") {
			t.Errorf("the disable event lacks its reason: %s", d)
		}
		if d := string(evs[1].Detail); !strings.Contains(d, `"fields":["api_key"]`) {
			t.Errorf("the credentials event: %s", d)
		}
		if r := b.get(page); !strings.Contains(r.body, "API key rotated") || !strings.Contains(r.body, "leaked in a log") {
			t.Errorf("the audit trail on the page:\n%s", r.body)
		}

		// Removal needs the shop's id typed; a shop without payments goes.
		z, _ := e.apiShop("shop_z")
		zpage := routes.ConsoleShopPath(z.ID)
		expect(b.post(zpage, zpage+"/remove", url.Values{"confirm": {"shop_a"}}), zpage+"?problem=e_shop_confirm")
		expect(b.post(zpage, zpage+"/remove", url.Values{"confirm": {z.ID}}), "/admin/shops?notice=n_shop_deleted")
		if _, err := e.db.Shop(e.ctx(), z.ID); !errors.Is(err, checkout.ErrNotFound) {
			t.Errorf("removed shop: %v", err)
		}
		if r := b.get(zpage); r.status != http.StatusNotFound {
			t.Errorf("a deleted shop's page: %d", r.status)
		}
	})
}

// A merchant checks, edits and rotates their own shop, but may not
// disable, enable or remove it.
func TestShopMerchant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], nil)
	s, oldKey := e.apiShop("shop_a")
	e.user("a@example.com", s.ID)
	m := e.browser()
	m.login("a@example.com")
	page := routes.ConsoleShopPath(s.ID)
	r := m.get(page)
	if r.status != http.StatusOK || strings.Contains(r.body, "/disable") || strings.Contains(r.body, "/remove") {
		t.Fatalf("merchant's shop page: %d\n%s", r.status, r.body)
	}
	if r := m.post(page, page+"/check", nil); r.status != http.StatusSeeOther {
		t.Errorf("check: %d", r.status)
	}
	if r := m.post(page, page+"/credentials", url.Values{"cred_api_key": {upaytest.DefaultKey + "x"}}); r.header.Get("Location") != page+"?notice=n_credentials_saved" {
		t.Errorf("credentials: %d %q", r.status, r.header.Get("Location"))
	}
	r = m.post(page, page+"/rotate-key", nil)
	if mm := apiKeyRE.FindStringSubmatch(r.body); r.status != http.StatusOK || mm == nil || e.apiStatus(mm[1]) != http.StatusNotFound || e.apiStatus(oldKey) != http.StatusUnauthorized {
		t.Errorf("rotate: %d", r.status)
	}
	for _, verb := range []string{"disable", "enable", "remove"} {
		if r := m.post(page, page+"/"+verb, url.Values{"confirm": {s.ID}}); r.status != http.StatusNotFound {
			t.Errorf("%s as a merchant: %d", verb, r.status)
		}
	}
	if got, _ := e.db.Shop(e.ctx(), s.ID); got.Status != checkout.ShopConnected {
		t.Errorf("status: %s", got.Status)
	}
	evs, _ := e.db.ShopEvents(e.ctx(), s.ID)
	for _, ev := range evs {
		if ev.Source != "console:a@example.com" {
			t.Errorf("event %s by %q", ev.Kind, ev.Source)
		}
	}
	if len(evs) != 3 {
		t.Errorf("%d events, want 3 (check, credentials, rotation)", len(evs))
	}
}
