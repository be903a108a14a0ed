package shopify

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

// offScreen lists what on the loaded page runs off the viewport's sides:
// the page itself when it is wider, and any control.
func offScreen(t *testing.T, ctx context.Context) []string {
	t.Helper()
	off, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
  const w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth + 'px wide in ' + w);
  for (const el of document.querySelectorAll('input, select, button, .badge, a')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) out.push((el.id || el.className || el.tagName) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return out;
})()`))
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// do runs the actions with a bound, and on failure shows the page's text.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v; the page says:\n%s", what, err, text)
	}
}

// shown waits until the element sel is on the page and displayed: a
// predicate the browser polls on every DOM change (chromedp.Poll), so it
// sees the changes the page's script makes.
func shown(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return !!e && e.getClientRects().length > 0; })()`,
		chromedp.WithPollingMutation())
}

// TestSettingsPageInBrowser runs the settings page in Chromium as the
// Shopify admin shows it, in English and Arabic, at desktop and phone
// sizes: Shopify's CDN is out of reach (as in any test), so App Bridge is
// stood in for by window.shopify.idToken minting the session tokens the
// admin would. A merchant enters the UPayments key, saves, checks the
// connection and makes a test payment; each state is screenshot and
// axe-checked, with nothing off a phone's screen. Outside the admin (no
// App Bridge) the page says where to open it.
func TestSettingsPageInBrowser(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	shops := map[string]string{"en": h.install("browser-shop.myshopify.com").Domain, "ar": h.install("browser-shop-ar.myshopify.com").Domain}
	ctx := testenv.Browser(t)
	block := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "https://cdn.shopify.com/*", Block: true}}})
		return err
	})
	if err := chromedp.Do(ctx, block); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string) {
		t.Helper()
		for _, v := range testenv.Viewports {
			testenv.Shoot(t, ctx, name, v.W, v.H)
			testenv.Axe(t, ctx)
			if off := offScreen(t, ctx); len(off) > 0 {
				t.Errorf("%s at %s: off the screen: %s", name, v.Name, strings.Join(off, "; "))
			}
		}
	}
	appURL := func(lang string) string {
		return h.base + "/shopify/app?shop=" + shops[lang] + "&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYnJvd3Nlci1zaG9w&embedded=1&locale=" + lang
	}

	// Outside the admin.
	do(t, ctx, "outside the admin: load", chromedp.Navigate(appURL("en")))
	do(t, ctx, "outside the admin", shown(`#no-bridge`))
	shoot("shopify-settings-outside-admin")

	// The admin's session token for the shop in the page's URL.
	tokens := map[string]string{}
	for _, shop := range shops {
		tokens[shop] = sessionToken(t, shop, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(10 * time.Minute).Unix() })
	}
	js, _ := json.Marshal(tokens)
	stand := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.shopify = {idToken: async () => (` + string(js) + `)[new URLSearchParams(location.search).get("shop")], toast: {show: () => {}}};`})
		return err
	})
	if err := chromedp.Do(ctx, stand); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, dir, saved, checkOK, made string }{
		{"en", "ltr", "Settings saved", "Everything is connected", "Test payment of 1.000 KWD created"},
		{"ar", "rtl", "تم حفظ الإعدادات", "كل شيء متصل", "أُنشئت دفعة تجريبية بقيمة 1.000 KWD"},
	} {
		do(t, ctx, c.lang+": load", chromedp.Navigate(appURL(c.lang)), shown(`#status`))
		if dir, err := chromedp.Run(ctx, chromedp.AttributeValue("html", "dir")); err != nil || dir.Value != c.dir {
			t.Errorf("%s: dir=%q %v", c.lang, dir.Value, err)
		}
		shoot("shopify-settings-new-" + c.lang)

		// Enter the key, tick Sandbox, save.
		do(t, ctx, c.lang+": save",
			chromedp.SetValue(`#cred-api_key`, upaytest.DefaultKey),
			chromedp.Click(`#sandbox`),
			chromedp.Click(`#save`),
			shown(`#st-creds .badge.success`))
		if msg, _ := chromedp.Run(ctx, chromedp.TextContent(`#msg`)); msg != c.saved {
			t.Errorf("%s: after saving the page says %q", c.lang, msg)
		}

		// Check connection.
		do(t, ctx, c.lang+": check", chromedp.Click(`#check`), shown(`#checks li`), shown(`#banner .banner`))
		if b, _ := chromedp.Run(ctx, chromedp.TextContent(`#banner`)); !strings.Contains(b, c.checkOK) {
			t.Errorf("%s: check connection says %q", c.lang, b)
		}
		shoot("shopify-settings-checked-" + c.lang)

		// Test payment: a link the merchant opens.
		do(t, ctx, c.lang+": test payment", chromedp.Click(`#test`), shown(`#test-link`))
		if r, _ := chromedp.Run(ctx, chromedp.TextContent(`#test-result`)); !strings.Contains(r, c.made) {
			t.Errorf("%s: test payment says %q", c.lang, r)
		}
		href, err := chromedp.Run(ctx, chromedp.AttributeValue(`#test-link`, "href"))
		if err != nil || !strings.HasPrefix(href.Value, h.base+"/pay/pay_") {
			t.Errorf("%s: test payment link %q %v", c.lang, href.Value, err)
		}
		shoot("shopify-settings-test-payment-" + c.lang)
	}
}
