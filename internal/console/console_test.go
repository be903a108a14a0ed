package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Signing in, moving about and signing out, on both stacks.
func TestLoginFlow(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		e.user("ops@example.com", "")
		b := e.browser()
		r := b.get("/admin/payments")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/login?next=%2Fadmin%2Fpayments" {
			t.Fatalf("signed out: %d %q", r.status, r.header.Get("Location"))
		}
		r = b.get("/admin/login")
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
			t.Fatalf("login form: %d\n%s", r.status, r.body)
		}
		r = b.do(http.MethodPost, "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"wrong password!"}})
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong e-mail or password") {
			t.Fatalf("wrong password: %d\n%s", r.status, r.body)
		}
		r = b.do(http.MethodPost, "/admin/login", url.Values{"email": {"OPS@example.com"}, "password": {testPassword}, "next": {"/admin/shops"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/shops" {
			t.Fatalf("sign-in: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
		}
		ck := r.header.Get("Set-Cookie")
		for _, want := range []string{"paybridge_console=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck, want) {
				t.Errorf("cookie %q lacks %s", ck, want)
			}
		}
		r = b.get("/admin/payments")
		if r.status != http.StatusOK || !strings.Contains(r.body, "ops@example.com") {
			t.Fatalf("payments: %d\n%s", r.status, r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("CSP %q", csp)
		}
		r = b.post("/admin/payments", "/admin/logout", nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.status)
		}
		if r = b.get("/admin/payments"); r.status != http.StatusSeeOther {
			t.Fatalf("after logout: %d", r.status)
		}
	})
}
