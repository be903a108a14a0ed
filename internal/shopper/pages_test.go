package shopper_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
)

// pagesEnv serves the shopper routes over a real core and store, on a
// real listener (its URL is the bridge's public URL), with a shop that has
// a name and an address and payments in every state.
type pagesEnv struct {
	url   string
	waits atomic.Int64 // requests to /wait/
	db    *store.DB
	shop  *checkout.Shop
	clock *clockwork.FakeClock
	// pay returns a new payment of the shop in status.
	pay func(t *testing.T, status checkout.Status, amount checkout.Money, order string, edit ...func(*checkout.Payment)) *checkout.Payment
}

func newPagesEnv(t *testing.T, cfg shopper.Config) *pagesEnv {
	t.Helper()
	db, q := storeAndQueue(t)

	var h http.Handler
	var e *pagesEnv
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/wait/") {
			e.waits.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	e = &pagesEnv{url: ts.URL, db: db, clock: clockwork.NewFakeClockAt(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}
	svc := checkout.NewService(db, q, checkout.Config{PublicURL: ts.URL, Clock: e.clock})
	e.shop = &checkout.Shop{
		ID: checkout.NewID("shop"), Name: "Noor Perfumes", Platform: checkout.PlatformAPI, Domain: "https://noor.example",
		Gateway:    checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "sk_test"}},
		APIKeyHash: "hash-pages", WebhookSecret: "whsec_test", CreatedAt: e.clock.Now(),
	}
	if err := db.CreateShop(t.Context(), e.shop); err != nil {
		t.Fatal(err)
	}
	e.pay = func(t *testing.T, status checkout.Status, amount checkout.Money, order string, edit ...func(*checkout.Payment)) *checkout.Payment {
		t.Helper()
		now := e.clock.Now()
		p := &checkout.Payment{
			ID: checkout.NewID("pay"), ShopID: e.shop.ID, Platform: checkout.PlatformAPI, OrderID: order,
			Amount: amount, Refunded: checkout.Money{Currency: amount.Currency},
			Status: status, Gateway: "upay", CreatedAt: now, UpdatedAt: now,
		}
		p.GatewayOrderID = p.ID
		for _, f := range edit {
			f(p)
		}
		if err := db.Apply(context.Background(), checkout.Change{NewPayment: p}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg.PublicURL = ts.URL
	cfg.Shops = db
	cfg.Clock = e.clock
	rt := shopper.New(svc, cfg)
	srv := server.New(server.Config{})
	srv.Mount(rt)
	// The confirmation page a route may show before the gateway's.
	srv.Engine().GET("/test/pay/:id", func(c *gin.Context) {
		p, err := svc.Payment(c.Request.Context(), c.Param("id"))
		if err != nil {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		server.RenderPage(c, http.StatusOK, rt.Page(c, p, server.ShopperPay, "https://gateway.example/pay/1"))
	})
	// The page a gate (Shopify's checkout confirmation) holds the shopper on.
	srv.Engine().GET("/test/checking/:id", func(c *gin.Context) {
		p, err := svc.Payment(c.Request.Context(), c.Param("id"))
		if err != nil {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		server.RenderPage(c, http.StatusOK, rt.Page(c, p, server.ShopperChecking, ""))
	})
	// A page with a script that lacks the nonce: the CSP must stop it.
	srv.Engine().GET("/test/injected", func(c *gin.Context) {
		server.SetPolicy(c, server.StrictPolicy())
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><html lang="en"><title>x</title><script>window.ran = true</script>`))
	})
	h = srv.Handler()
	return e
}

// watchCSP makes the browser record, on every page it loads from now on,
// the Content-Security-Policy violations (blocked scripts, styles,
// fetches), for cspViolations.
func watchCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, cdpage.AddScriptToEvaluateOnNewDocument, cdpage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation", e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cspViolations returns the violations recorded on the current page.
func cspViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations || ["the CSP watcher did not run"]`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *pagesEnv) get(t *testing.T, path, acceptLanguage string) (int, string) {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.url + path
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+);url=([^"]+)">`)

// TestWaitingPageGivesUp: the waiting page refreshes itself, carrying the
// time the shopper arrived, until PendingTimeout has passed; then it stops,
// says the payment is still being confirmed and not to pay again, and
// links to the store. A payment that becomes final is shown as such.
func TestWaitingPageGivesUp(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{PendingTimeout: 90 * time.Second, RefreshSeconds: 4})
	p := e.pay(t, checkout.StatusPending, checkout.Money{Minor: 12345, Currency: "KWD"}, "1001")

	e.clock.Advance(20 * time.Second) // the shopper spent a while on the gateway's page
	arrived := e.clock.Now()
	code, body := e.get(t, "/wait/"+p.ID, "")
	m := refreshRE.FindStringSubmatch(body)
	if code != 200 || m == nil || m[1] != "4" {
		t.Fatalf("first visit: %d, want a page refreshing every 4 s:\n%s", code, body)
	}
	next := strings.ReplaceAll(m[2], "&amp;", "&")
	if want := e.url + "/wait/" + p.ID + "?since=" + itoa(arrived.Unix()); next != want {
		t.Fatalf("refresh URL %s, want %s", next, want)
	}
	for _, want := range []string{"<h1>Your payment is being confirmed</h1>", "Noor Perfumes", "KWD 12.345", "1001"} {
		if !strings.Contains(body, want) {
			t.Errorf("waiting page lacks %q", want)
		}
	}

	// Refreshes within the limit keep refreshing, to the same URL.
	e.clock.Advance(89 * time.Second)
	_, body = e.get(t, next, "")
	if m := refreshRE.FindStringSubmatch(body); m == nil || strings.ReplaceAll(m[2], "&amp;", "&") != next {
		t.Fatalf("at 89 s: want the same refresh:\n%s", body)
	}

	// At the limit it stops.
	e.clock.Advance(time.Second)
	_, body = e.get(t, next, "")
	if strings.Contains(body, `http-equiv="refresh"`) || strings.Contains(body, `class="spinner"`) {
		t.Errorf("at 90 s the page still refreshes or spins:\n%s", body)
	}
	for _, want := range []string{
		"<h1>Your payment is still being confirmed</h1>",
		"Please don&#39;t pay again",
		"charged once",
		`<a class="button" href="https://noor.example/">Return to the store</a>`,
		"Noor Perfumes", "KWD 12.345", "1001",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page past the limit lacks %q:\n%s", want, body)
		}
	}
	// The same in Arabic, through the language switch.
	_, body = e.get(t, next+"&lang=ar", "")
	for _, want := range []string{`<html lang="ar" dir="rtl">`, "<h1>لا يزال تأكيد عملية الدفع جاريًا</h1>", "يُرجى عدم الدفع مرة أخرى", "12.345 د.ك."} {
		if !strings.Contains(body, want) {
			t.Errorf("Arabic page past the limit lacks %q:\n%s", want, body)
		}
	}

	// A link without a time, or with one from the future, starts again;
	// one from before the payment existed counts from its creation.
	for _, since := range []string{"", "?since=" + itoa(e.clock.Now().Add(time.Hour).Unix()), "?since=bad"} {
		if _, body := e.get(t, "/wait/"+p.ID+since, ""); !refreshRE.MatchString(body) {
			t.Errorf("since %q: want a refreshing page:\n%s", since, body)
		}
	}
	if _, body := e.get(t, "/wait/"+p.ID+"?since=0", ""); refreshRE.MatchString(body) {
		t.Errorf("since=0 (the payment is 110 s old): want the page past the limit:\n%s", body)
	}
}

// TestWaitingPageDefaultLimit: without a configured limit the waiting page
// gives up after DefaultPendingTimeout (2 minutes), not before.
func TestWaitingPageDefaultLimit(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{})
	p := e.pay(t, checkout.StatusPending, checkout.Money{Minor: 500, Currency: "USD"}, "A-7")
	since := "?since=" + itoa(e.clock.Now().Unix())
	e.clock.Advance(shopper.DefaultPendingTimeout - time.Second)
	if _, body := e.get(t, "/wait/"+p.ID+since, ""); !refreshRE.MatchString(body) {
		t.Errorf("before 2 minutes: want a refreshing page:\n%s", body)
	}
	e.clock.Advance(time.Second)
	if _, body := e.get(t, "/wait/"+p.ID+since, ""); refreshRE.MatchString(body) || !strings.Contains(body, "still being confirmed") {
		t.Errorf("at 2 minutes: want the page past the limit:\n%s", body)
	}
}

// TestPageLanguage: ?lang= wins, then a payment in Arabic, then the
// browser's Accept-Language; each page links to itself in the other one.
func TestPageLanguage(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{})
	p := e.pay(t, checkout.StatusFailed, checkout.Money{Minor: 2500, Currency: "KWD"}, "1002")
	for _, tc := range []struct{ path, accept, want, switchTo string }{
		{"/wait/" + p.ID, "", "en", "ar"},
		{"/wait/" + p.ID, "ar-KW,ar;q=0.9,en;q=0.5", "ar", "en"},
		{"/wait/" + p.ID + "?lang=en", "ar", "en", "ar"},
		{"/wait/" + p.ID + "?lang=ar", "en-GB", "ar", "en"},
		{"/wait/pay_missing", "ar", "ar", "en"},
		{"/wait/pay_missing?lang=en", "ar", "en", "ar"},
	} {
		_, body := e.get(t, tc.path, tc.accept)
		dir := map[string]string{"en": "ltr", "ar": "rtl"}[tc.want]
		if !strings.Contains(body, `<html lang="`+tc.want+`" dir="`+dir+`">`) {
			t.Errorf("%s (%q): want %s:\n%s", tc.path, tc.accept, tc.want, body)
		}
		if !strings.Contains(body, `lang=`+tc.switchTo+`"`) || !strings.Contains(body, `class="switch"`) {
			t.Errorf("%s (%q): no switch to %s:\n%s", tc.path, tc.accept, tc.switchTo, body)
		}
	}
}

// TestCancelURLResult: a WooCommerce shopper whose payment did not go
// through is sent back to the order's pay page with the reason, for the
// plugin's notice; other platforms' cancel URLs are left as they are.
func TestCancelURLResult(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{})
	kwd := checkout.Money{Minor: 1000, Currency: "KWD"}
	const pay = "https://noor.example/checkout/order-pay/7/?pay_for_order=true&key=wc_order_abc"
	for _, tc := range []struct {
		platform string
		status   checkout.Status
		cancel   string
		want     string
	}{
		{checkout.PlatformWooCommerce, checkout.StatusFailed, pay, pay + "&paybridge_result=failed"},
		{checkout.PlatformWooCommerce, checkout.StatusCanceled, pay, pay + "&paybridge_result=canceled"},
		{checkout.PlatformWooCommerce, checkout.StatusExpired, "https://noor.example/checkout/#x", "https://noor.example/checkout/?paybridge_result=expired#x"},
		{checkout.PlatformAPI, checkout.StatusFailed, "https://merchant.example/cancel?sig=abc", "https://merchant.example/cancel?sig=abc"},
	} {
		p := e.pay(t, tc.status, kwd, "c-"+tc.platform+"-"+string(tc.status), func(p *checkout.Payment) {
			p.Platform, p.CancelURL = tc.platform, tc.cancel
		})
		req, _ := http.NewRequest(http.MethodGet, e.url+"/wait/"+p.ID, nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != tc.want {
			t.Errorf("%s %s: %d to %s, want 302 to %s", tc.platform, tc.status, resp.StatusCode, got, tc.want)
		}
	}
}

// TestWaitingPageInBrowser: in a real browser the waiting page asks for
// itself in the background without reloading (the page stays as it was,
// so a screen reader keeps its place) and moves on by itself once the
// payment is final.
func TestWaitingPageInBrowser(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{RefreshSeconds: 1, PendingTimeout: time.Hour})
	p := e.pay(t, checkout.StatusPending, checkout.Money{Minor: 7500, Currency: "KWD"}, "2001")
	ctx := testenv.Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/wait/"+p.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.stillHere = true`)); err != nil {
		t.Fatal(err)
	}
	start := e.waits.Load()
	testenv.EventuallyTrue(t, 20*time.Second, "two background checks", func() bool { return e.waits.Load() >= start+2 })
	if here, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.stillHere === true`)); err != nil || !here {
		t.Fatalf("the waiting page reloaded while the payment was pending (%v)", err)
	}

	paid := *p
	paid.Status, paid.Version = checkout.StatusPaid, p.Version
	if err := e.db.Apply(context.Background(), checkout.Change{Payment: &paid}); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyTrue(t, 20*time.Second, "the paid page", func() bool {
		h, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("h1") || {}).textContent || ""`))
		return err == nil && h == "Payment received"
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPagesInBrowser renders every shopper page in headless Chromium, in
// English and Arabic, at desktop and phone sizes: the page shows what it
// must, fits the phone's width, keeps the CSP (no blocked resources), and
// axe-core finds no serious accessibility violation. Screenshots go to the
// artifacts directory.
func TestPagesInBrowser(t *testing.T) {
	t.Parallel()
	e := newPagesEnv(t, shopper.Config{RefreshSeconds: 600, PendingTimeout: time.Minute})
	kwd := checkout.Money{Minor: 1234500, Currency: "KWD"}
	pending := e.pay(t, checkout.StatusPending, kwd, "1001")
	delayed := e.pay(t, checkout.StatusPending, kwd, "1002")
	paid := e.pay(t, checkout.StatusPaid, kwd, "1003")
	failed := e.pay(t, checkout.StatusFailed, kwd, "1004")
	canceled := e.pay(t, checkout.StatusCanceled, kwd, "1005")
	expired := e.pay(t, checkout.StatusExpired, kwd, "1006")
	errored := e.pay(t, checkout.StatusCreated, kwd, "1007")
	created := e.clock.Now()
	e.clock.Advance(2 * time.Minute) // past PendingTimeout for a shopper waiting since the payment's creation

	type want struct{ en, ar []string }
	pages := []struct {
		name, path string
		want       want
	}{
		{"pay", "/test/pay/" + pending.ID + "?", want{
			[]string{"Complete your payment", "Noor Perfumes", "KWD 1,234.500", "1001", "Continue to payment"},
			[]string{"أكمل عملية الدفع", "1,234.500 د.ك.", "المتابعة إلى الدفع"}}},
		{"checking", "/test/checking/" + pending.ID + "?", want{
			[]string{"Checking your order", "Nothing has been charged yet", "Noor Perfumes", "KWD 1,234.500", "1001"},
			[]string{"جارٍ التحقق من طلبك", "لم يُخصم أي مبلغ بعد", "1,234.500 د.ك."}}},
		{"wait", "/wait/" + pending.ID + "?", want{
			[]string{"Your payment is being confirmed", "Noor Perfumes", "KWD 1,234.500", "1001"},
			[]string{"جارٍ تأكيد عملية الدفع", "1,234.500 د.ك.", "رقم الطلب"}}},
		{"wait-delayed", "/wait/" + delayed.ID + "?since=" + itoa(created.Unix()) + "&", want{
			[]string{"Your payment is still being confirmed", "Please don't pay again", "Return to the store", "1002"},
			[]string{"لا يزال تأكيد عملية الدفع جاريًا", "يُرجى عدم الدفع مرة أخرى", "العودة إلى المتجر"}}},
		{"paid", "/wait/" + paid.ID + "?", want{
			[]string{"Payment received", "Noor Perfumes", "KWD 1,234.500", "1003", "Return to the store"},
			[]string{"تم استلام الدفعة", "1,234.500 د.ك."}}},
		{"failed", "/wait/" + failed.ID + "?", want{
			[]string{"Payment failed", "Noor Perfumes", "1004", "Return to the store"},
			[]string{"فشلت عملية الدفع", "العودة إلى المتجر"}}},
		{"canceled", "/wait/" + canceled.ID + "?", want{
			[]string{"Payment canceled", "1005"},
			[]string{"تم إلغاء عملية الدفع"}}},
		{"expired", "/wait/" + expired.ID + "?", want{
			[]string{"Payment expired", "1006", "Return to the store"},
			[]string{"انتهت مهلة الدفع"}}},
		// No gateway is registered here, so sending the shopper on fails.
		{"error", "/pay/" + errored.ID + "?", want{
			[]string{"Something went wrong", "don't pay again", "Try again", "1007"},
			[]string{"حدث خطأ ما", "حاول مرة أخرى"}}},
		{"not-found", "/wait/pay_doesnotexist?", want{
			[]string{"Payment not found"},
			[]string{"لم يتم العثور على عملية الدفع"}}},
	}
	ctx := testenv.Browser(t)
	watchCSP(t, ctx)
	// The control: the watcher sees a script the policy blocks.
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/test/injected")); err != nil {
		t.Fatal(err)
	}
	if v := cspViolations(t, ctx); len(v) == 0 {
		t.Fatalf("a script without the nonce ran or went unseen: %v", v)
	}
	for _, pg := range pages {
		for _, lang := range []string{"en", "ar"} {
			name := pg.name + "-" + lang
			if err := chromedp.Do(ctx, chromedp.Navigate(e.url+pg.path+"lang="+lang)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang + "|" + document.dir + "|" + document.body.innerText`))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantText := pg.want.en
			head := "en|ltr|"
			if lang == "ar" {
				wantText, head = pg.want.ar, "ar|rtl|"
			}
			if !strings.HasPrefix(text, head) {
				t.Errorf("%s: lang|dir = %.8q, want %s", name, text, head)
			}
			for _, w := range wantText {
				if !strings.Contains(text, w) {
					t.Errorf("%s: the page does not show %q:\n%s", name, w, text)
				}
			}
			if v := cspViolations(t, ctx); len(v) > 0 {
				t.Errorf("%s: the page broke its Content-Security-Policy: %v", name, v)
			}
			for _, v := range testenv.Viewports {
				testenv.Shoot(t, ctx, "shopper-"+name, v.W, v.H)
				overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
				if err != nil {
					t.Fatal(err)
				}
				if overflow {
					t.Errorf("%s at %s: the page is wider than the screen", name, v.Name)
				}
				testenv.Axe(t, ctx)
			}
		}
	}
}
