package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/testenv"
)

// An operator signs in, searches, opens a payment, refunds part of it and
// replays a dead job, in headless Chromium, in English and Arabic; every
// page is shot at desktop and phone size and checked with axe-core.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], nil)
	a := e.shop("shop_a")
	e.user("operations@example.com", "")
	// The store refuses the results: each sync fails for good and its
	// job is archived, with the error, by the real worker.
	e.setCallback(http.StatusBadRequest)
	e.worker()
	paid := map[string]string{}
	for _, l := range []string{"en", "ar"} {
		p := e.paid(a, "WC-10"+map[string]string{"en": "42", "ar": "43"}[l], "12.500")
		paid[l] = p.ID
		e.waitArchived(jobs.QueueDefault, "sync:"+p.ID)
	}
	e.pay(a, "WC-1044", "3.000")
	e.pay(a, "WC-1045-a-very-long-order-reference-from-the-store", "250.000")

	pg := newTab(t, "console-")
	ctx, do, shoot := pg.ctx, pg.do, pg.shoot
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	for _, l := range []string{"en", "ar"} {
		do("open the sign-in page", chromedp.Navigate(e.srv.URL+"/admin/login?lang="+l), chromedp.WaitVisible(chromedp.CSS("#email")))
		shoot(l + "-login")
		do("sign in", chromedp.SendKeys(chromedp.CSS("#email"), "operations@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
			chromedp.Click(chromedp.CSS("form.stack button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("table.list")))
		shoot(l + "-payments")
		do("search", chromedp.SendKeys(chromedp.CSS("#q"), "WC-10"+map[string]string{"en": "42", "ar": "43"}[l]), chromedp.Click(chromedp.CSS("form.search button.primary")))
		testenv.EventuallyTrue(t, 10*time.Second, "the search results", func() bool {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.search.includes("q=") && document.readyState === "complete"`))
			return err == nil && ok
		})
		do("see the result", chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/payments/`+paid[l]+`"]`)))
		if rows := text("table.list tbody"); strings.Contains(rows, "WC-1044") {
			t.Errorf("%s: search shows other orders: %s", l, rows)
		}
		shoot(l + "-search")
		do("open the payment", chromedp.Click(chromedp.CSS(`a[href="/admin/payments/`+paid[l]+`"]`)), chromedp.WaitVisible(chromedp.CSS("form.refund")))
		shoot(l + "-payment")
		do("refund part", chromedp.SetValue(chromedp.CSS("#amount"), "2.000"), chromedp.SendKeys(chromedp.CSS("#reason"), "damaged"),
			chromedp.Click(chromedp.CSS("form.refund button.danger")), chromedp.WaitVisible(chromedp.CSS(".msg.ok")))
		if got := text("section.card:nth-of-type(3)"); !strings.Contains(got, "2.000 KWD") {
			t.Errorf("%s: refunds after refunding: %s", l, got)
		}
		shoot(l + "-refunded")
		do("open the dead jobs", chromedp.Navigate(e.srv.URL+"/admin/jobs"), chromedp.WaitVisible(chromedp.CSS("ul.jobs")))
		shoot(l + "-jobs")
		do("replay", chromedp.Click(chromedp.CSS(`form[action$="sync:`+paid[l]+`/replay"] button`)), chromedp.WaitVisible(chromedp.CSS(".msg.ok")))
		shoot(l + "-replayed")
		do("sign out", chromedp.Click(chromedp.CSS("form.inline button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	// A merchant sees their own shop's payments only, and no queue monitor.
	other := e.shop("shop_b")
	e.pay(other, "B-77", "9.000")
	e.user("merchant@example.com", "shop_b")
	do("merchant sign-in", chromedp.Navigate(e.srv.URL+"/admin/login?lang=en"), chromedp.SendKeys(chromedp.CSS("#email"), "merchant@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword), chromedp.Click(chromedp.CSS("form.stack button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table.list")))
	if rows := text("main"); !strings.Contains(rows, "B-77") || strings.Contains(rows, "WC-1042") || strings.Contains(text("header"), "Queues") {
		t.Errorf("merchant's payments page: %s", rows)
	}
	shoot("merchant-payments")
	if acts := strings.Join(e.consoleActions(paid["ar"]), "\n"); !strings.Contains(acts, `"action":"refund"`) || !strings.Contains(acts, `"action":"replay_job"`) {
		t.Errorf("the browser's actions are not in the audit trail:\n%s", acts)
	}
}

// An operator checks a shop's connection, rotates its key (the new key
// works against the API, the old one gets 401) and disables and enables
// it, in headless Chromium, in English and Arabic, each page shot at
// desktop and phone size and checked with axe-core.
func TestShopsInBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], nil)
	s, key := e.apiShop("shop_a")
	e.user("operations@example.com", "")
	pg := newTab(t, "console-shop-")
	ctx, do, shoot := pg.ctx, pg.do, pg.shoot
	status := func() checkout.ShopStatus {
		t.Helper()
		got, err := e.db.Shop(e.ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	for _, l := range []string{"en", "ar"} {
		do("sign in", chromedp.Navigate(e.srv.URL+"/admin/login?lang="+l), chromedp.SendKeys(chromedp.CSS("#email"), "operations@example.com"),
			chromedp.SendKeys(chromedp.CSS("#password"), testPassword), chromedp.Click(chromedp.CSS("form.stack button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("form.inline button")))
		do("open the shops", chromedp.Navigate(e.srv.URL+"/admin/shops"), chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/shops/shop_a"]`)))
		shoot(l + "-list")
		do("open the shop", chromedp.Click(chromedp.CSS(`a[href="/admin/shops/shop_a"]`)), chromedp.WaitVisible(chromedp.CSS("#connection")))
		shoot(l + "-page")
		do("check the connection", chromedp.Click(chromedp.CSS("#connection button")), chromedp.WaitVisible(chromedp.CSS(".msg.ok")),
			chromedp.WaitVisible(chromedp.CSS("ul.checks")))
		shoot(l + "-checked")

		do("rotate the key", chromedp.Click(chromedp.CSS("#key summary")), chromedp.SendKeys(chromedp.CSS("#rotate_reason"), "yearly rotation"),
			chromedp.Click(chromedp.CSS("#key button.danger")), chromedp.WaitVisible(chromedp.CSS("#api_key")))
		fresh, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#api_key")))
		if err != nil {
			t.Fatal(err)
		}
		fresh = strings.TrimSpace(fresh)
		shoot(l + "-rotated")
		if got := e.apiStatus(fresh); got != http.StatusNotFound {
			t.Errorf("%s: the new key: HTTP %d, want 404 (known key, no such payment)", l, got)
		}
		if got := e.apiStatus(key); got != http.StatusUnauthorized {
			t.Errorf("%s: the old key: HTTP %d, want 401", l, got)
		}
		key = fresh

		do("back to the shop", chromedp.Click(chromedp.CSS(`main a.button[href="/admin/shops/shop_a"]`)), chromedp.WaitVisible(chromedp.CSS("#status")))
		do("disable", chromedp.SendKeys(chromedp.CSS("#disable_reason"), "chargeback review"),
			chromedp.Click(chromedp.CSS(`#status form[action$="/disable"] button`)), chromedp.WaitVisible(chromedp.CSS(".msg.ok")),
			chromedp.WaitVisible(chromedp.CSS(`#status form[action$="/enable"]`)))
		if got := status(); got != checkout.ShopDisabled {
			t.Errorf("%s: after disable: %s", l, got)
		}
		shoot(l + "-disabled")
		do("enable", chromedp.SendKeys(chromedp.CSS("#enable_reason"), "review done"),
			chromedp.Click(chromedp.CSS(`#status form[action$="/enable"] button`)), chromedp.WaitVisible(chromedp.CSS(".msg.ok")),
			chromedp.WaitVisible(chromedp.CSS(`#status form[action$="/disable"]`)))
		if got := status(); got != checkout.ShopConnected {
			t.Errorf("%s: after enable: %s", l, got)
		}
		shoot(l + "-enabled")
		do("sign out", chromedp.Click(chromedp.CSS("form.inline button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	evs, err := e.db.ShopEvents(e.ctx(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, " "); strings.Count(got, "shop_key_rotated") != 2 || strings.Count(got, "shop_disabled") != 2 || strings.Count(got, "shop_enabled") != 2 {
		t.Errorf("the browser's actions in the shop's audit trail: %s", got)
	}
}

// tab is a browser tab of a test: do runs a step in it (failing the test
// with where the tab was), shoot takes its screenshots at every viewport
// (named prefix+name) and checks each with axe-core.
type tab struct {
	t      *testing.T
	ctx    context.Context
	prefix string
}

func newTab(t *testing.T, prefix string) *tab {
	return &tab{t: t, ctx: testenv.Browser(t), prefix: prefix}
}

func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	actx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		loc, _ := chromedp.Run(p.ctx, chromedp.Location())
		p.t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

func (p *tab) shoot(name string) {
	p.t.Helper()
	for _, vp := range testenv.Viewports {
		testenv.Shoot(p.t, p.ctx, p.prefix+name, vp.W, vp.H)
		testenv.Axe(p.t, p.ctx)
	}
}
