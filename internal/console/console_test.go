package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, `<html lang="en" dir="ltr">`) {
			t.Fatalf("login form: %d\n%s", r.status, r.body)
		}
		// Arabic from Accept-Language, or chosen with ?lang= and kept.
		ar := e.browser()
		ar.lang = "ar-KW,ar;q=0.9,en;q=0.5"
		if r := ar.get("/admin/login"); !strings.Contains(r.body, `<html lang="ar" dir="rtl">`) || !strings.Contains(r.body, "كلمة المرور") {
			t.Errorf("Accept-Language ar: %s", r.body[:200])
		}
		if r := b.get("/admin/login?lang=ar"); !strings.Contains(r.body, `dir="rtl"`) {
			t.Error("?lang=ar is not Arabic")
		}
		if r := b.get("/admin/login"); !strings.Contains(r.body, `dir="rtl"`) {
			t.Error("the chosen language is not kept")
		}
		b.get("/admin/login?lang=en")
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
		if r := b.get("/admin"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/payments" {
			t.Fatalf("/admin: %d %q", r.status, r.header.Get("Location"))
		}
		if r := b.get("/admin/login"); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in page when signed in: %d", r.status)
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

// Forms need the session's token and this site's origin; sessions end.
func TestFormsAndSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], func(c *Config) { c.IdleTimeout = 10 * time.Minute; c.MaxAge = time.Hour })
	e.user("ops@example.com", "")
	b := e.browser()
	b.login("ops@example.com")
	if r := b.do(http.MethodPost, "/admin/logout", url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
		t.Fatalf("forged CSRF token: %d\n%s", r.status, r.body)
	}
	if r := b.do(http.MethodPost, "/admin/logout", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", r.status)
	}
	page := b.get("/admin/payments")
	tok := csrfRE.FindStringSubmatch(page.body)[1]
	r := b.do(http.MethodPost, "/admin/logout", url.Values{"csrf": {tok}}, "Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "another site") {
		t.Fatalf("cross-site POST: %d\n%s", r.status, r.body)
	}
	r = b.do(http.MethodPost, "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {testPassword}}, "Origin", "https://evil.example")
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-origin sign-in: %d", r.status)
	}
	// A token of another session does not do.
	b2 := e.browser()
	b2.login("ops@example.com")
	if r := b2.do(http.MethodPost, "/admin/logout", url.Values{"csrf": {tok}}); r.status != http.StatusForbidden {
		t.Fatalf("another session's token: %d", r.status)
	}

	// Idle: a request within the limit keeps the session, a gap beyond ends it.
	start := time.Now()
	e.clock.set(start.Add(9 * time.Minute))
	if r := b.get("/admin/payments"); r.status != http.StatusOK {
		t.Fatalf("after 9 idle minutes: %d", r.status)
	}
	e.clock.set(start.Add(18 * time.Minute))
	if r := b.get("/admin/payments"); r.status != http.StatusOK {
		t.Fatalf("9 minutes after the last request: %d", r.status)
	}
	e.clock.set(start.Add(29 * time.Minute))
	if r := b.get("/admin/payments"); r.status != http.StatusSeeOther {
		t.Fatalf("11 idle minutes: %d, want a redirect to sign in", r.status)
	}
	// Absolute: however active, a session ends at MaxAge.
	e.clock.set(time.Time{})
	b3 := e.browser()
	b3.login("ops@example.com")
	now := time.Now()
	for m := 5; m < 60; m += 5 {
		e.clock.set(now.Add(time.Duration(m) * time.Minute))
		if r := b3.get("/admin/payments"); r.status != http.StatusOK {
			t.Fatalf("active session at %d minutes: %d", m, r.status)
		}
	}
	e.clock.set(now.Add(61 * time.Minute))
	if r := b3.get("/admin/payments"); r.status != http.StatusSeeOther {
		t.Fatalf("past MaxAge: %d", r.status)
	}
}

// Failed sign-ins are throttled per address, the right password included
// once over the limit.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], func(c *Config) { c.LoginFailuresPerAddress = "3-M" })
	e.user("ops@example.com", "")
	b := e.browser()
	for i := range 3 {
		r := b.do(http.MethodPost, "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"nope nope nope"}})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	r := b.do(http.MethodPost, "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {testPassword}})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed sign-ins") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("over the limit: %d %v\n%s", r.status, r.header, r.body)
	}
}

// A secure public URL makes a Secure, __Host- cookie.
func TestSecureCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], func(c *Config) { c.PublicURL = "https://pay.example.com" })
	e.user("ops@example.com", "")
	b := e.browser()
	r := b.do(http.MethodPost, "/admin/login", url.Values{"email": {"ops@example.com"}, "password": {testPassword}})
	ck := r.header.Get("Set-Cookie")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(ck, "__Host-paybridge_console=") || !strings.Contains(ck, "; Secure") {
		t.Fatalf("https sign-in: %d, cookie %q", r.status, ck)
	}
}
