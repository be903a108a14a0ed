package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"paybridge/internal/routes"
)

// TestModules checks the module lists: names are unique and agree with
// what the modules build, every credential gets its own flag, and each
// gateway's demo simulator answers under its mount, as BRIDGE_SIMULATORS
// serves it.
func TestModules(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range platformModules() {
		if seen[m.Name()] {
			t.Errorf("platform %s listed twice", m.Name())
		}
		seen[m.Name()] = true
	}
	flags := map[string]string{}
	for _, g := range gatewayModules() {
		gw := g.Gateway()
		if gw.Name() != g.Name() || seen[g.Name()] {
			t.Errorf("gateway module %s: adapter %s, or a name already taken", g.Name(), gw.Name())
		}
		seen[g.Name()] = true
		caps := gw.Capabilities()
		if caps.DisplayName == "" || len(caps.Credentials) == 0 {
			t.Errorf("%s declares no display name or no credentials: %+v", g.Name(), caps)
		}
		for _, c := range caps.Credentials {
			f := g.Name() + "-" + strings.ReplaceAll(c.Name, "_", "-")
			if other, dup := flags[f]; dup {
				t.Errorf("--%s: %s and %s", f, other, g.Name())
			}
			flags[f] = g.Name()
		}

		const public = "http://bridge.test"
		h, attrs := g.Simulator(public)
		if len(attrs)%2 != 0 {
			t.Errorf("%s: simulator log attributes %v are not key/value pairs", g.Name(), attrs)
		}
		mux := http.NewServeMux()
		mux.Handle(routes.SimulatorPath(g.Name())+"/", http.StripPrefix(routes.SimulatorPath(g.Name()), h))
		var rec *httptest.ResponseRecorder
		// Every simulator refuses an unauthenticated status request; a
		// 404 would mean the mount or the prefix is wrong.
		for _, path := range []string{"/api/v1/get-payment-status/x", "/payments/x", "/v1/payment/status/x"} {
			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, public+routes.SimulatorPath(g.Name())+path, nil))
			if rec.Code == http.StatusUnauthorized {
				break
			}
		}
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s simulator at %s: %d, want 401 for an unauthenticated status request", g.Name(), routes.SimulatorPath(g.Name()), rec.Code)
		}
	}
	for alias, f := range flagAliases {
		if _, ok := flags[f]; !ok || flags[alias] != "" {
			t.Errorf("alias --%s names --%s, which no gateway declares, or shadows a flag", alias, f)
		}
	}
}
