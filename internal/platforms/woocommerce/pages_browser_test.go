package woocommerce_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

// fitsWidth fails the test when the loaded page is wider than the
// viewport, or a form control or value box runs off its right or left
// edge (a merchant on a phone would have to scroll sideways).
func fitsWidth(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	off, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
  const w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth + 'px wide in ' + w);
  for (const el of document.querySelectorAll('input, select, button, .value, .btn')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) out.push((el.id || el.className || el.tagName) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return out;
})()`))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if len(off) > 0 {
		t.Errorf("%s: off the screen: %s", where, strings.Join(off, "; "))
	}
}

// text is the loaded page's visible text.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConnectPagesInBrowser connects a store the way a merchant does, in
// Chromium, in English and in Arabic: the connect form, the store's grant
// screen, and the page with the plugin's values; each page at desktop and
// phone sizes, screenshot and axe-checked, with nothing off a phone's
// screen, and the copy buttons working.
func TestConnectPagesInBrowser(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "bridge.db"), "")
	ctx := testenv.Browser(t)
	shoot := func(name string) {
		t.Helper()
		for _, v := range testenv.Viewports {
			testenv.Shoot(t, ctx, name, v.W, v.H)
			testenv.Axe(t, ctx)
			fitsWidth(t, ctx, name+" at "+v.Name)
		}
	}
	for _, c := range []struct{ lang, dir, connected, copied string }{
		{"en", "ltr", "Your store is connected", "Copied"},
		{"ar", "rtl", "تم ربط متجرك", "تم النسخ"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/woocommerce/connect?lang="+c.lang)); err != nil {
			t.Fatal(err)
		}
		if dir, err := chromedp.Run(ctx, chromedp.AttributeValue("html", "dir")); err != nil || dir.Value != c.dir {
			t.Errorf("%s: dir=%q %v", c.lang, dir.Value, err)
		}
		shoot("woocommerce-connect-" + c.lang)

		// A refusal is shown on the form, in the page's language.
		if err := chromedp.Do(ctx,
			chromedp.SetValue("#store_url", e.wc.Base()),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`[role=alert]`)); err != nil {
			t.Fatal(err)
		}
		shoot("woocommerce-connect-error-" + c.lang)

		// The real connection: store, UPayments key, sandbox, Connect.
		if err := chromedp.Do(ctx,
			chromedp.SetValue("#store_url", e.wc.Base()),
			chromedp.SetValue(`[id="cred.upay.api_key"]`, upaytest.DefaultKey),
			chromedp.Click(`input[name=sandbox]`),
			chromedp.Click(`button[type=submit]`),
			chromedp.WaitVisible(`#approve`)); err != nil {
			t.Fatal(err)
		}
		grant, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(woocommercetest.ApproveURL(grant))); err != nil {
			t.Fatal(err)
		}
		testenv.EventuallyTrue(t, 20*time.Second, "the connected page", func() bool {
			return chromedp.Do(ctx, chromedp.Reload()) == nil && strings.Contains(text(t, ctx), c.connected)
		})
		page := text(t, ctx)
		for _, want := range []string{e.base, "shop_"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the connected page lacks %q:\n%s", c.lang, want, page)
			}
		}
		shoot("woocommerce-connected-" + c.lang)

		// Copy: the button says so and the live region tells a screen
		// reader (or says to copy by hand where the clipboard is refused).
		if err := chromedp.Do(ctx,
			chromedp.Click(`button[data-copy=shared_secret]`),
			chromedp.WaitNotPresent(`#copied:empty`)); err != nil {
			t.Fatal(err)
		}
		btn, _ := chromedp.Run(ctx, chromedp.TextContent(`button[data-copy=shared_secret]`))
		live, _ := chromedp.Run(ctx, chromedp.TextContent(`#copied`))
		if btn != c.copied && !strings.Contains(live, map[string]string{"en": "by hand", "ar": "يدويًا"}[c.lang]) {
			t.Errorf("%s: after Copy the button says %q and the live region %q", c.lang, btn, live)
		}
		fmt.Fprintln(testWriter{t}, c.lang, "copy:", btn, "/", live)
	}
}
