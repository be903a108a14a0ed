package testenv

import (
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// recordTB is a testing.TB whose Errorf records the failure instead of
// failing the test, to check that Axe fails a test. Everything else,
// Fatalf included, goes to the real test.
type recordTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordTB) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// pages serves a page with known serious accessibility violations (an
// image without alt text, no lang, no title, text too faint to read) and a
// clean one.
func pages(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// A CSP like the bridge's: axe is injected through DevTools anyway.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		fmt.Fprint(w, `<!doctype html><html><body><main>
<img src="/missing.png"><p style="color:#eee;background:#fff">faint text</p></main></body></html>`)
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Fine</title></head>
<body><main><h1>Hello</h1><p>`+strings.Repeat("A readable line of text. ", 200)+`</p></main></body></html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAxe(t *testing.T) {
	srv := pages(t)
	ctx := Browser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	rec := &recordTB{TB: t}
	Axe(rec, ctx)
	got := rec.failures()
	for _, id := range []string{"image-alt", "html-has-lang", "document-title", "color-contrast"} {
		if !strings.Contains(got, id) {
			t.Errorf("Axe on the bad page did not report %s; it reported:\n%s", id, got)
		}
	}
	if !strings.Contains(got, `<img src="/missing.png">`) {
		t.Errorf("Axe's failure does not name the offending node:\n%s", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	rec = &recordTB{TB: t}
	Axe(rec, ctx)
	if got := rec.failures(); got != "" {
		t.Errorf("Axe failed the clean page:\n%s", got)
	}
}

func TestShoot(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BRIDGE_ARTIFACTS", dir)
	srv := pages(t)
	ctx := Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	for _, v := range Viewports {
		Shoot(t, ctx, "kit/good page", v.W, v.H)
		path := filepath.Join(dir, "kit_good_page-"+v.Name+".png")
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("%s: no screenshot: %v", v.Name, err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		// The whole page, wider at desktop, so taller at the phone's width.
		if cfg.Width != v.W || cfg.Height <= v.H/2 {
			t.Errorf("%s: screenshot %dx%d, want %d wide", v.Name, cfg.Width, cfg.Height, v.W)
		}
		if v == Phone && cfg.Height <= v.H {
			t.Errorf("phone: screenshot %dx%d is not the full page (taller than the viewport)", cfg.Width, cfg.Height)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"TestPages/pay/ar":  "TestPages_pay_ar",
		"../../etc/passwd":  "etc_passwd",
		"a b\tc":            "a_b_c",
		"":                  "page",
		"pay-en.v2":         "pay-en.v2",
		"دفع":               "page",
		"TestX/دفع/phone#1": "TestX_phone_1",
	} {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAxeScript fetches axe-core into its cache (scripts/test's deps step
// runs it alone) and checks it is the pinned version.
func TestAxeScript(t *testing.T) {
	js := string(AxeScript(t))
	if !strings.Contains(js[:min(len(js), 300)], AxeVersion) {
		t.Fatalf("axe.min.js does not start with its version %s: %.200q", AxeVersion, js)
	}
}
