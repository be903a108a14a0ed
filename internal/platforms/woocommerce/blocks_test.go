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

// blocksHarness loads the plugin's real assets/blocks.js in a browser with
// WooCommerce's block registry and settings stubbed: the server's data for
// two ticked methods (KNET, and Card with the save box), none for the
// others. It renders each registered choice's content with the box ticked,
// runs its payment-setup callback, and prints what the block would send.
const blocksHarness = `<!doctype html><meta charset="utf-8"><body><script>
var registered = [];
var SETTINGS = {
  paybridge_upayments_knet_data: {title: "كي نت", description: "Pay &amp; go", supports: ["products", "refunds"], saveCard: false},
  paybridge_upayments_cc_data: {title: "Credit or debit card", description: "", supports: ["products"], saveCard: true, saveLabel: "Save my card for next time"}
};
window.wp = {
  element: {
    createElement: function (type, props) { return {type: type, props: props || {}, children: [].slice.call(arguments, 2)}; },
    useState: function () { return [true, function () {}]; },
    useEffect: function (fn) { fn(); }
  },
  htmlEntities: {decodeEntities: function (s) { var t = document.createElement("textarea"); t.innerHTML = s; return t.value; }},
  i18n: {__: function (s) { return s; }}
};
window.wc = {
  wcBlocksRegistry: {registerPaymentMethod: function (m) { registered.push(m); }},
  wcSettings: {getSetting: function (k, d) { return Object.prototype.hasOwnProperty.call(SETTINGS, k) ? SETTINGS[k] : d; }}
};
</script><script src="/blocks.js"></script><script>
var out = registered.map(function (m) {
  var setups = [];
  var tree = m.content.type({eventRegistration: {onPaymentSetup: function (cb) { setups.push(cb); return function () {}; }}});
  var res = setups.length ? setups[0]() : null;
  return {name: m.name, label: m.label.children[0], aria: m.ariaLabel, box: JSON.stringify(tree).indexOf("checkbox") >= 0,
    description: JSON.stringify(tree).indexOf("Pay & go") >= 0, features: m.supports.features,
    sends: res && res.type === "success" ? res.meta.paymentMethodData : null};
});
document.body.innerHTML = '<pre id="out"></pre>';
document.getElementById("out").textContent = JSON.stringify(out);
</script>`

// TestBlocksScript: each choice the server sends data for becomes its own
// Checkout block payment method with its name, and only a choice with the
// box sends "Save my card" as payment data (which WooCommerce hands to
// process_payment as $_POST).
func TestBlocksScript(t *testing.T) {
	js, err := pluginFS.ReadFile("plugin/paybridge-upayments/assets/blocks.js")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blocks.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(js)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(blocksHarness))
	}))
	defer srv.Close()
	dom := testenv.DumpDOM(t, srv.URL+"/")
	_, rest, ok := strings.Cut(dom, `<pre id="out">`)
	raw, _, ok2 := strings.Cut(rest, "</pre>")
	if !ok || !ok2 {
		t.Fatalf("the harness printed nothing: %s", dom)
	}
	var got []struct {
		Name, Label, Aria string
		Box, Description  bool
		Features          []string
		Sends             map[string]string
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(raw)), &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if len(got) != 2 {
		t.Fatalf("registered %d choices, want KNET and Card: %+v", len(got), got)
	}
	knet, cc := got[0], got[1]
	if knet.Name != "paybridge_upayments_knet" || knet.Label != "كي نت" || knet.Aria != "كي نت" || knet.Box || !knet.Description ||
		knet.Sends["paybridge_save_card"] != "" || len(knet.Features) != 2 {
		t.Errorf("KNET: %+v", knet)
	}
	if cc.Name != "paybridge_upayments_cc" || cc.Label != "Credit or debit card" || !cc.Box || cc.Sends["paybridge_save_card"] != "1" {
		t.Errorf("Card: %+v", cc)
	}
}
