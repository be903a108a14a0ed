package server

import (
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"paybridge/internal/testenv"
)

func renderToString(t *testing.T, p Page) (string, *httptest.ResponseRecorder) {
	t.Helper()
	s, _ := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/page", func(c *gin.Context) { RenderPage(c, 200, p) })
	})
	w := do(s, httptest.NewRequest("GET", "/page", nil))
	return w.Body.String(), w
}

func TestShopperPages(t *testing.T) {
	kinds := []struct {
		kind        ShopperPageKind
		en, ar, css string
		refreshes   bool
	}{
		{ShopperPending, "Your payment is being confirmed", "جارٍ تأكيد عملية الدفع", "pending", true},
		{ShopperPaid, "Payment received", "تم استلام الدفعة", "success", false},
		{ShopperFailed, "Payment failed", "فشلت عملية الدفع", "error", false},
		{ShopperCanceled, "Payment canceled", "تم إلغاء عملية الدفع", "info", false},
		{ShopperExpired, "Payment expired", "انتهت مهلة الدفع", "info", false},
		{ShopperNotFound, "Payment not found", "لم يتم العثور على عملية الدفع", "error", false},
		{ShopperError, "Something went wrong", "حدث خطأ ما", "error", false},
		{ShopperDelayed, "Your payment is still being confirmed", "لا يزال تأكيد عملية الدفع جاريًا", "delayed", false},
		{ShopperPay, "Complete your payment", "أكمل عملية الدفع", "pay", false},
	}
	for _, k := range kinds {
		for _, lang := range []string{"en", "ar", "AR-kw", "fr", ""} {
			p := ShopperPage(lang, k.kind, "/pay/p_1/status", "https://store.example/cart?x=1&y=2")
			body, w := renderToString(t, p)
			wantAR := lang == "ar" || lang == "AR-kw"
			heading, html := k.en, `<html lang="en" dir="ltr">`
			if wantAR {
				heading, html = k.ar, `<html lang="ar" dir="rtl">`
			}
			if !strings.Contains(body, html) || !strings.Contains(body, "<h1>"+heading+"</h1>") {
				t.Errorf("%d/%q: want %s and heading %q:\n%s", k.kind, lang, html, heading, body)
			}
			if !strings.Contains(body, `<main class="`+k.css+`"`) {
				t.Errorf("%d/%q: want kind %s", k.kind, lang, k.css)
			}
			if got := strings.Contains(body, `http-equiv="refresh"`); got != k.refreshes {
				t.Errorf("%d/%q: refresh = %v", k.kind, lang, got)
			}
			if !strings.Contains(body, `href="https://store.example/cart?x=1&amp;y=2"`) {
				t.Errorf("%d/%q: no store link", k.kind, lang)
			}
			if !strings.Contains(body, `name="viewport"`) {
				t.Errorf("no viewport meta")
			}
			if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Security-Policy") == "" {
				t.Errorf("page headers: %v", w.Header())
			}
		}
	}
	p := ShopperPage("ar", ShopperPending, "/pay/p_1/status", "")
	body, _ := renderToString(t, p)
	if !strings.Contains(body, `<meta http-equiv="refresh" content="5;url=/pay/p_1/status">`) {
		t.Errorf("no meta refresh:\n%s", body)
	}
	if !strings.Contains(body, `<a href="/pay/p_1/status">تحقّق مرة أخرى الآن</a>`) {
		t.Errorf("no fallback link:\n%s", body)
	}
	if strings.Contains(body, `class="button"`) {
		t.Error("button without a link URL")
	}
}

func TestRenderPageUnsafeURLs(t *testing.T) {
	for _, u := range []string{"javascript:alert(1)", "//evil.example/x", "/\\evil.example", "data:text/html,x", "ftp://x/y"} {
		body, _ := renderToString(t, Page{Heading: "h", Kind: KindPending, RefreshSeconds: 3, RefreshURL: u, LinkURL: u, LinkText: "go"})
		if strings.Contains(body, "evil") || strings.Contains(body, "javascript") || strings.Contains(body, "data:text") ||
			strings.Contains(body, "ftp:") || strings.Contains(body, `class="button"`) {
			t.Errorf("%q kept:\n%s", u, body)
		}
		if !strings.Contains(body, `content="3"`) {
			t.Errorf("%q: refresh should fall back to reloading the page", u)
		}
	}
	// Text is escaped.
	body, _ := renderToString(t, Page{Heading: "<script>x</script>", Message: `"m"&`})
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("heading not escaped:\n%s", body)
	}
}

func TestPreferredLang(t *testing.T) {
	for in, want := range map[string]string{
		"": "en", "ar": "ar", "ar-KW,ar;q=0.9,en;q=0.8": "ar", "en-US,en;q=0.9,ar;q=0.8": "en",
		"fr-FR, ar;q=0.5": "ar", "fr": "en", "en;q=0.2, ar;q=0.7": "ar", "ar;q=bad, en": "en", "ar;q=0": "en", "ar;q=0, fr": "en",
	} {
		if got := PreferredLang(in); got != want {
			t.Errorf("PreferredLang(%q) = %q, want %q", in, got, want)
		}
	}
}

// pagesServer serves the Arabic pending page at /pay/p_1/status.
//
// testenv runs Chromium with a 5 s virtual-time budget, which a 5 s refresh
// would race (the dump could come mid-navigation), so the page shown here
// refreshes after refresh seconds instead; the built-in 5 s is checked in
// TestShopperPages. After the first visit, when paidAfterFirst is set, the
// status page answers with the Arabic "payment received" page, as it does
// once the gateway confirms.
func pagesServer(t *testing.T, refresh int, paidAfterFirst bool) *httptest.Server {
	t.Helper()
	var hits atomic.Int32
	s, _ := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/pay/:id/status", func(c *gin.Context) {
			if hits.Add(1) > 1 && paidAfterFirst {
				RenderPage(c, 200, ShopperPage("ar", ShopperPaid, "", "https://store.example/thanks"))
				return
			}
			p := ShopperPage("ar", ShopperPending, "/pay/"+c.Param("id")+"/status", "https://store.example/cart")
			p.RefreshSeconds = refresh
			RenderPage(c, 200, p)
		})
	})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// TestArabicPendingPageInChromium renders the Arabic pending page in a
// real headless Chromium and checks the DOM it built.
func TestArabicPendingPageInChromium(t *testing.T) {
	ts := pagesServer(t, 60, false)
	dom := testenv.DumpDOM(t, ts.URL+"/pay/p_1/status")
	for _, want := range []string{
		`<html lang="ar" dir="rtl">`,
		"<h1>جارٍ تأكيد عملية الدفع</h1>",
		`<meta http-equiv="refresh" content="60;url=/pay/p_1/status">`,
		`<a href="/pay/p_1/status">تحقّق مرة أخرى الآن</a>`,
		`<a class="button" href="https://store.example/cart">العودة إلى المتجر</a>`,
		"<title>جارٍ تأكيد الدفع</title>",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s\n%s", want, dom)
		}
	}
}

// TestPendingPageRefreshesInChromium checks that the meta refresh really
// moves a browser on: the pending page reloads its status URL, which by
// then shows the payment as received.
func TestPendingPageRefreshesInChromium(t *testing.T) {
	ts := pagesServer(t, 1, true)
	dom := testenv.DumpDOM(t, ts.URL+"/pay/p_1/status")
	if !strings.Contains(dom, "<h1>تم استلام الدفعة</h1>") || strings.Contains(dom, "http-equiv") {
		t.Errorf("the pending page did not refresh to the paid page:\n%s", dom)
	}
}

// TestArabicPendingPageScreenshot writes a phone-sized screenshot of the
// Arabic pending page to $PAGE_SCREENSHOT, for a person to look at. It
// runs only when that variable is set.
func TestArabicPendingPageScreenshot(t *testing.T) {
	out := os.Getenv("PAGE_SCREENSHOT")
	if out == "" {
		t.Skip("set PAGE_SCREENSHOT=/tmp/page-ar.png to take the screenshot")
	}
	ts := pagesServer(t, 60, false)
	testenv.Screenshot(t, ts.URL+"/pay/p_1/status", out, 390, 760)
}

// TestLandingInBrowser renders the production landing page in headless
// Chromium in English and Arabic at desktop and phone sizes: it fits the
// screen and axe-core finds no serious accessibility violation.
func TestLandingInBrowser(t *testing.T) {
	s, _ := newTest(t, Config{Version: "v9.9.9"}, nil)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	ctx := testenv.Browser(t)
	for _, lang := range []string{"en", "ar"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/?lang="+lang)); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang + "|" + document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"en": "en|", "ar": "ar|"}[lang]
		if !strings.HasPrefix(text, want) || strings.Contains(text, "v9.9.9") {
			t.Errorf("%s: %q", lang, text)
		}
		for _, v := range testenv.Viewports {
			testenv.Shoot(t, ctx, "landing-"+lang, v.W, v.H)
			if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || overflow {
				t.Errorf("%s at %s: wider than the screen (%v)", lang, v.Name, err)
			}
			testenv.Axe(t, ctx)
		}
	}
}
