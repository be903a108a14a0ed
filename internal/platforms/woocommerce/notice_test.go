package woocommerce

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"paybridge/internal/testenv"
)

// The shopper's notices (plugin/paybridge-upayments/includes/paybridge-notices.php).
var resultNotices = map[string]struct{ Kind, En, Ar string }{
	"failed": {"error",
		"Your payment was declined or could not be completed, and you have not been charged. You can try again or choose another payment method.",
		"رُفضت عملية الدفع أو تعذّر إتمامها، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى."},
	"canceled": {"notice",
		"You cancelled the payment, and you have not been charged. You can try again or choose another payment method.",
		"لقد ألغيت عملية الدفع، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى."},
	"expired": {"error",
		"The time to complete the payment ran out, and you have not been charged. Please try again.",
		"انتهت المهلة المتاحة لإتمام عملية الدفع، ولم يُخصم منك أي مبلغ. يُرجى المحاولة مرة أخرى."},
}

// pluginNotice runs the plugin's notice code (plugin/tests/notice_test.php)
// for a shopper arriving at url, in lang (en, ar-mo, ar-l10n) on page
// (pay, classic, block), and returns what WooCommerce would show as a
// notice and what the Checkout block's script is given ("KIND: TEXT", or
// "" for none).
func pluginNotice(t *testing.T, url, lang, page string) (notice, block string) {
	t.Helper()
	out := php(t, "plugin/tests/notice_test.php", url, lang, page)
	if !strings.Contains(out, "hook: template_redirect\n") {
		t.Fatalf("the notice is not added on template_redirect: %s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if v, ok := strings.CutPrefix(line, "notice "); ok {
			if notice != "" {
				t.Errorf("%s %s %s: a second notice %q", url, lang, page, v)
			}
			notice = v
		}
		if v, ok := strings.CutPrefix(line, "block "); ok {
			block = v
		}
	}
	return notice, block
}

// TestPluginResultNotice: a shopper sent back with paybridge_result sees
// the notice for it, once, in the store's language (Arabic from the .mo,
// as WordPress before 6.5 reads it, and from the .l10n.php): on the
// pay-for-order page and a classic checkout page as a WooCommerce notice;
// on a Checkout block page through the block's script only. Anything else
// shows nothing.
func TestPluginResultNotice(t *testing.T) {
	const pay = "https://store.example/checkout/order-pay/7/?pay_for_order=true&key=wc_order_k&paybridge_result="
	for result, want := range resultNotices {
		for _, lang := range []string{"en", "ar-mo", "ar-l10n"} {
			text := want.En
			if lang != "en" {
				text = want.Ar
			}
			wantLine := want.Kind + ": " + text
			for _, page := range []string{"pay", "classic", "block"} {
				notice, block := pluginNotice(t, pay+result, lang, page)
				wantNotice := wantLine
				if page == "block" {
					wantNotice = ""
				}
				if notice != wantNotice {
					t.Errorf("%s %s %s: notice %q, want %q", result, lang, page, notice, wantNotice)
				}
				if block != wantLine {
					t.Errorf("%s %s %s: the block's data %q, want %q", result, lang, page, block, wantLine)
				}
			}
		}
	}
	for _, url := range []string{
		"https://store.example/checkout/order-pay/7/?pay_for_order=true&key=k",
		"https://store.example/checkout/?paybridge_result=paid",
		"https://store.example/checkout/?paybridge_result=%3Cscript%3Efailed",
		"https://store.example/checkout/?paybridge_result[]=failed",
	} {
		if notice, block := pluginNotice(t, url, "en", "pay"); notice != "" || block != "" {
			t.Errorf("%s: notice %q, block %q, want none", url, notice, block)
		}
	}
}

// noticeHarness loads the plugin's assets/blocks.js with WooCommerce's
// block registry, settings and the notices store stubbed: the server's data
// for two choices, each carrying the notice (as every active choice does).
const noticeHarness = `<!doctype html><meta charset="utf-8"><body><script>
var notices = [];
var SETTINGS = {
  paybridge_upayments_knet_data: {title: "KNET", description: "", supports: ["products"], resultNotice: NOTICE, resultNoticeKind: KIND},
  paybridge_upayments_cc_data: {title: "Card", description: "", supports: ["products"], resultNotice: NOTICE, resultNoticeKind: KIND}
};
window.wp = {
  element: {createElement: function (type, props) { return {type: type, props: props || {}}; }, useState: function () { return [false, function () {}]; }, useEffect: function () {}},
  htmlEntities: {decodeEntities: function (s) { return s; }},
  i18n: {__: function (s) { return s; }},
  data: {dispatch: function (store) { return {createNotice: function (status, text, opts) { notices.push({store: store, status: status, text: text, opts: opts}); }}; }}
};
window.wc = {
  wcBlocksRegistry: {registerPaymentMethod: function () {}},
  wcSettings: {getSetting: function (k, d) { return Object.prototype.hasOwnProperty.call(SETTINGS, k) ? SETTINGS[k] : d; }}
};
</script><script src="/blocks.js"></script><script>
document.body.innerHTML = '<pre id="out"></pre>';
document.getElementById("out").textContent = JSON.stringify(notices);
</script>`

// TestBlocksResultNotice: on a Checkout block page, the script shows the
// notice the server passed, once, in the checkout's notice area; without
// one it shows nothing.
func TestBlocksResultNotice(t *testing.T) {
	testenv.Servers(t)
	js, err := pluginFS.ReadFile("plugin/paybridge-upayments/assets/blocks.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, kind, wantStatus string }{
		{resultNotices["failed"].Ar, "error", "error"},
		{resultNotices["canceled"].En, "notice", "info"},
		{"", "", ""},
	} {
		page := strings.NewReplacer("NOTICE", jsString(tc.text), "KIND", jsString(tc.kind)).Replace(noticeHarness)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/blocks.js" {
				w.Header().Set("Content-Type", "text/javascript")
				_, _ = w.Write(js)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		}))
		t.Cleanup(srv.Close)
		dom := testenv.DumpDOM(t, srv.URL+"/")
		_, rest, ok := strings.Cut(dom, `<pre id="out">`)
		raw, _, ok2 := strings.Cut(rest, "</pre>")
		if !ok || !ok2 {
			t.Fatalf("the harness printed nothing: %s", dom)
		}
		var got []struct {
			Store, Status, Text string
			Opts                struct {
				ID, Context   string
				IsDismissible bool
			}
		}
		if err := json.Unmarshal([]byte(html.UnescapeString(raw)), &got); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if tc.text == "" {
			if len(got) != 0 {
				t.Errorf("no notice passed, the script showed %+v", got)
			}
			continue
		}
		if len(got) != 1 {
			t.Fatalf("%q: %d notices, want 1: %+v", tc.text, len(got), got)
		}
		n := got[0]
		if n.Store != "core/notices" || n.Status != tc.wantStatus || n.Text != tc.text || n.Opts.Context != "wc/checkout" ||
			n.Opts.ID != "paybridge-result" || !n.Opts.IsDismissible {
			t.Errorf("notice %+v, want %s %q in wc/checkout", n, tc.wantStatus, tc.text)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// PluginNotice and ResultNotices are pluginNotice and resultNotices for
// the end-to-end tests (package woocommerce_test), which feed the plugin
// the address the bridge really sent the shopper to.
var (
	PluginNotice  = pluginNotice
	ResultNotices = resultNotices
)
