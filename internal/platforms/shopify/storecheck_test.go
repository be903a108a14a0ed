package shopify

import (
	"maps"
	"net/http"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify/shopifytest"
)

// TestCheckStore: the connection check asks the Admin API's shop query
// with the shop's token, and tells a refused token from an outage.
func TestCheckStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	s := h.install("check.myshopify.com")
	ctx := t.Context()
	if r := h.p.CheckStore(ctx, s); r.Outcome != checkout.CheckOK {
		t.Fatalf("installed shop: %+v", r)
	}
	if calls := h.sim.Calls("shop"); len(calls) != 1 || calls[0].API != "admin" || !calls[0].Answered {
		t.Fatalf("shop query calls: %+v", calls)
	}
	if r := h.svc.CheckConnection(ctx, s); r.Store.Outcome != checkout.CheckOK {
		t.Errorf("through the core: %+v", r)
	}
	revoked := *s
	revoked.Secrets = maps.Clone(s.Secrets)
	revoked.Secrets[secretToken] = "shpat_revoked"
	delete(revoked.Secrets, secretRefresh)
	if r := h.p.CheckStore(ctx, &revoked); r.Outcome != checkout.CheckRefused || r.HTTPStatus != http.StatusUnauthorized ||
		!strings.Contains(r.Detail, "install the app again") || strings.Contains(r.Detail, "shpat_") {
		t.Errorf("revoked token: %+v", r)
	}
	for _, tc := range []struct {
		name string
		f    shopifytest.Failure
		want checkout.CheckOutcome
	}{
		{"down", shopifytest.Failure{Status: http.StatusServiceUnavailable}, checkout.CheckUnreachable},
		{"throttled", shopifytest.Failure{Throttled: true}, checkout.CheckUnreachable},
		{"forbidden", shopifytest.Failure{Status: http.StatusForbidden}, checkout.CheckFailed},
	} {
		h.sim.Fail("shop", 1, tc.f)
		if r := h.p.CheckStore(ctx, s); r.Outcome != tc.want {
			t.Errorf("%s: %+v, want %s", tc.name, r, tc.want)
		}
	}
	uninstalled := *s
	uninstalled.Secrets = map[string]string{}
	if r := h.p.CheckStore(ctx, &uninstalled); r.Outcome != checkout.CheckIncomplete {
		t.Errorf("no token: %+v", r)
	}
}
