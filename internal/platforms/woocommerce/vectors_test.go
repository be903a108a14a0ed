package woocommerce

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

// vectorsFile holds the signature vectors the Go tests and the plugin's
// PHP tests (plugin/tests/signature_test.php) both check.
const vectorsFile = "signatures/woocommerce.json"

type vectors struct {
	Pay []struct {
		Name, Secret, Signature string
		ShopID                  string `json:"shop_id"`
		OrderID                 string `json:"order_id"`
		OrderKey                string `json:"order_key"`
		ReturnURL               string `json:"return_url"`
	}
	Refund []struct {
		Name, Secret, Body, Signature string
		ShopID                        string `json:"shop_id"`
		Timestamp                     int64
	}
	Webhook []struct{ Name, Secret, Body, Signature string }
	// PayChoices are pay links with the shopper's choices (v2).
	PayChoices []struct {
		Name, Secret, Signature, Method, Splits string
		ShopID                                  string `json:"shop_id"`
		OrderID                                 string `json:"order_id"`
		OrderKey                                string `json:"order_key"`
		ReturnURL                               string `json:"return_url"`
		SaveCard                                bool   `json:"save_card"`
	} `json:"pay_choices"`
	Invoice []struct {
		Name, Secret, Body, Signature string
		ShopID                        string `json:"shop_id"`
		Timestamp                     int64
	}
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	var v vectors
	if err := json.Unmarshal(testenv.Fixture(t, vectorsFile), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Pay) == 0 || len(v.Refund) == 0 || len(v.Webhook) == 0 || len(v.PayChoices) == 0 || len(v.Invoice) == 0 {
		t.Fatal("empty vectors")
	}
	return v
}

func TestSignatureVectors(t *testing.T) {
	v := loadVectors(t)
	for _, p := range v.Pay {
		if got := PaySignature(p.Secret, p.ShopID, p.OrderID, p.OrderKey, p.ReturnURL); got != p.Signature {
			t.Errorf("pay %s: %s, want %s", p.Name, got, p.Signature)
		}
	}
	for _, r := range v.Refund {
		if got := RefundSignature(r.Secret, r.ShopID, r.Timestamp, []byte(r.Body)); got != r.Signature {
			t.Errorf("refund %s: %s, want %s", r.Name, got, r.Signature)
		}
	}
	for _, w := range v.Webhook {
		if !VerifyWebhook(w.Secret, []byte(w.Body), w.Signature) {
			t.Errorf("webhook %s: does not verify", w.Name)
		}
	}
	for _, p := range v.PayChoices {
		ch := PayChoices{Method: p.Method, SaveCard: p.SaveCard, Splits: p.Splits}
		if got := PayLinkSignature(p.Secret, p.ShopID, p.OrderID, p.OrderKey, p.ReturnURL, ch); got != p.Signature {
			t.Errorf("pay with choices %s: %s, want %s", p.Name, got, p.Signature)
		}
		if got := PaySignature(p.Secret, p.ShopID, p.OrderID, p.OrderKey, p.ReturnURL); got == p.Signature {
			t.Errorf("pay with choices %s: the link without them has the same signature", p.Name)
		}
	}
	for _, r := range v.Invoice {
		if got := InvoiceSignature(r.Secret, r.ShopID, r.Timestamp, []byte(r.Body)); got != r.Signature {
			t.Errorf("invoice %s: %s, want %s", r.Name, got, r.Signature)
		}
		if RefundSignature(r.Secret, r.ShopID, r.Timestamp, []byte(r.Body)) == r.Signature {
			t.Errorf("invoice %s: signs like a refund", r.Name)
		}
	}
}

// WooCommerce's own unit test vector (tests/legacy/unit-tests/webhooks/
// crud.php, test_generate_signature): empty secret, payload "secret".
func TestWebhookSignatureWooCommerceVector(t *testing.T) {
	const sig = "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="
	if got := WebhookSignature("", []byte("secret")); got != sig {
		t.Fatalf("WebhookSignature = %s, want %s", got, sig)
	}
	if !VerifyWebhook("", []byte("secret"), sig) {
		t.Fatal("published vector does not verify")
	}
	body := []byte(`{"id":727,"status":"processing","total":"12.345"}`)
	good := WebhookSignature("abcDEF123", body)
	for i := range body {
		altered := bytes.Clone(body)
		altered[i] ^= 0x01
		if VerifyWebhook("abcDEF123", altered, good) {
			t.Fatalf("body altered at byte %d still verifies", i)
		}
	}
	for _, bad := range []string{"", "!!!", good[:10], strings.ToLower(good)} {
		if VerifyWebhook("abcDEF123", body, bad) {
			t.Errorf("header %q verifies", bad)
		}
	}
	if VerifyWebhook("abcDEF124", body, good) {
		t.Error("another secret verifies")
	}
}

func php(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.PHP(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("php %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestPluginLint(t *testing.T) {
	n := 0
	err := filepath.WalkDir("plugin", func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".php") {
			n++
			if out := php(t, "-l", p); !strings.Contains(out, "No syntax errors") {
				t.Errorf("php -l %s: %s", p, out)
			}
		}
		return err
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d PHP files: %v", n, err)
	}
}

// TestPluginSignatures runs the plugin's own PHP against the shared
// vectors, then checks that the pay links the PHP builds are accepted by
// the bridge's verification.
func TestPluginSignatures(t *testing.T) {
	out := php(t, "plugin/tests/signature_test.php", testenv.FixturePath(t, vectorsFile))
	if !strings.Contains(out, "ok 12") {
		t.Fatalf("PHP signature test: %s", out)
	}
	v := loadVectors(t)
	secrets := map[string]string{}
	for _, p := range v.Pay {
		secrets[p.Name] = p.Secret
	}
	for _, p := range v.PayChoices {
		secrets[p.Name] = p.Secret
	}
	links := 0
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "url ")
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, " ")
		name, link := rest[:i], rest[i+1:]
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "woocommerce" || parts[1] != "pay" {
			t.Fatalf("PHP link path %q", u.Path)
		}
		q := u.Query()
		ch := PayChoices{Method: q.Get("method"), SaveCard: q.Get("save_card") == "1", Splits: q.Get("splits")}
		if !verifyHex(PayLinkSignature(secrets[name], parts[2], parts[3], q.Get("key"), q.Get("return"), ch), q.Get("sig")) {
			t.Errorf("the bridge refuses the PHP link %s", link)
		}
		if verifyHex(PaySignature(secrets[name], parts[2], parts[3], q.Get("key")+"x", q.Get("return")), q.Get("sig")) {
			t.Errorf("a changed key verifies for %s", name)
		}
		links++
	}
	if links != len(v.Pay)+len(v.PayChoices) {
		t.Fatalf("%d links from PHP, want %d", links, len(v.Pay)+len(v.PayChoices))
	}
}

// TestPluginSplits runs the plugin's reading of an order's splits (meta
// and filter) in PHP.
func TestPluginSplits(t *testing.T) {
	if out := php(t, "plugin/tests/splits_test.php"); !strings.Contains(out, "ok 8") {
		t.Fatalf("PHP splits test: %s", out)
	}
}

func TestPluginZip(t *testing.T) {
	b, err := PluginZip()
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	for _, want := range []string{"paybridge-upayments/paybridge-upayments.php", "paybridge-upayments/includes/class-paybridge-gateway.php",
		"paybridge-upayments/includes/class-paybridge-blocks.php", "paybridge-upayments/assets/blocks.js",
		"paybridge-upayments/languages/paybridge-upayments-ar.l10n.php", "paybridge-upayments/languages/paybridge-upayments-ar.mo",
		"paybridge-upayments/includes/paybridge-notices.php"} {
		if !names[want] {
			t.Errorf("zip lacks %s (has %v)", want, names)
		}
	}
}

func TestParseTotal(t *testing.T) {
	tests := []struct {
		in, cur string
		minor   int64
		err     error
	}{
		{"12.345", "KWD", 12345, nil},
		{"12.35", "KWD", 12350, nil}, // a KWD store left at 2 decimals
		{"12", "KWD", 12000, nil},
		{"10.000", "USD", 1000, nil}, // a USD store set to 3 decimals
		{"10.005", "USD", 0, checkout.ErrTooPrecise},
		{"1.2345", "KWD", 0, checkout.ErrTooPrecise},
		{"-1.000", "KWD", 0, checkout.ErrInvalidAmount},
		{"1e3", "KWD", 0, checkout.ErrInvalidAmount},
		{"", "KWD", 0, checkout.ErrInvalidAmount},
		{"5", "XXX", 0, checkout.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		m, err := ParseTotal(tt.in, tt.cur)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseTotal(%q, %s) err = %v, want %v", tt.in, tt.cur, err, tt.err)
			}
			continue
		}
		if err != nil || m.Minor != tt.minor {
			t.Errorf("ParseTotal(%q, %s) = %v, %v; want %d", tt.in, tt.cur, m, err, tt.minor)
		}
	}
}

func TestPaidChange(t *testing.T) {
	pay := &checkout.Payment{ID: "pay_x", Status: checkout.StatusPaid, Amount: checkout.Money{Minor: 12345, Currency: "KWD"},
		TransactionID: "T1", GatewayRef: "R1"}
	paid := "2026-11-21T10:00:00"
	tests := []struct {
		name     string
		order    Order
		wantKeys []string
		noteHas  string
	}{
		{"pending: set_paid, no status", Order{Status: "pending", Total: "12.345", Currency: "KWD"}, []string{"meta_data", "set_paid", "transaction_id"}, "received"},
		{"failed: set_paid", Order{Status: "failed", Total: "12.345", Currency: "KWD"}, []string{"meta_data", "set_paid", "transaction_id"}, "received"},
		{"on-hold: explicit status", Order{Status: "on-hold", Total: "12.345", Currency: "KWD"}, []string{"meta_data", "status", "transaction_id"}, "received"},
		{"cancelled: processing, flagged", Order{Status: "cancelled", Total: "12.345", Currency: "KWD"}, []string{"meta_data", "status", "transaction_id"}, "paid after cancellation"},
		{"already ours: nothing", Order{Status: "processing", Total: "12.345", Currency: "KWD", TransactionID: "T1", DatePaid: &paid}, nil, "received"},
		{"paid by another: flag only", Order{Status: "processing", Total: "12.345", Currency: "KWD", TransactionID: "OTHER", DatePaid: &paid}, []string{"meta_data"}, "paid twice"},
		{"total changed: on hold", Order{Status: "pending", Total: "13.000", Currency: "KWD"}, []string{"meta_data", "status", "transaction_id"}, "on hold"},
		{"2-decimal store, rounded total differs", Order{Status: "pending", Total: "12.35", Currency: "KWD"}, []string{"meta_data", "status", "transaction_id"}, "WARNING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, note := paidChange(&tt.order, pay, "UPayments")
			var keys []string
			for k := range up {
				keys = append(keys, k)
			}
			if strings.Join(sorted(keys), ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("update keys %v, want %v (%v)", sorted(keys), tt.wantKeys, up)
			}
			if tt.order.Status == "pending" && up["set_paid"] == true && up["status"] != nil {
				t.Error("set_paid with a status: WooCommerce would skip payment_complete")
			}
			if !strings.Contains(note, tt.noteHas) {
				t.Errorf("note %q lacks %q", note, tt.noteHas)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestJobError(t *testing.T) {
	tests := []struct {
		err       error
		permanent bool
		after     bool
	}{
		{&APIError{HTTPStatus: 401, Code: "woocommerce_rest_authentication_error"}, true, false},
		{&APIError{HTTPStatus: 403, Code: "woocommerce_rest_cannot_edit"}, true, false},
		{&APIError{HTTPStatus: 404, Code: "woocommerce_rest_shop_order_invalid_id"}, true, false},
		{&APIError{HTTPStatus: 429, RetryAfter: 7e9}, false, true},
		{&APIError{HTTPStatus: 503, RetryAfter: 1e9}, false, true},
		{&APIError{HTTPStatus: 500}, false, false},
		{errors.New("connection refused"), false, false},
	}
	for _, tt := range tests {
		err := JobError("op", tt.err)
		var ra *checkout.RetryAfterError
		if checkout.IsPermanent(err) != tt.permanent || errors.As(err, &ra) != tt.after {
			t.Errorf("%v → %v (permanent %v)", tt.err, err, checkout.IsPermanent(err))
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: cause lost", tt.err)
		}
	}
}

func TestSameSite(t *testing.T) {
	for _, tt := range []struct {
		u, store string
		want     bool
	}{
		{"https://store.example/checkout/order-received/1/?key=k", "https://store.example", true},
		{"https://www.store.example/x", "https://store.example", true},
		{"https://store.example/x", "https://www.store.example/shop", true},
		{"https://evil.example/x", "https://store.example", false},
		{"https://store.example.evil.example/x", "https://store.example", false},
		{"javascript:alert(1)", "https://store.example", false},
		{"//store.example/x", "https://store.example", false},
	} {
		if got := sameSite(tt.u, tt.store); got != tt.want {
			t.Errorf("sameSite(%q, %q) = %v", tt.u, tt.store, got)
		}
	}
}

func TestOrderURLs(t *testing.T) {
	o := &Order{ID: 11, OrderKey: "wc_order_k", PaymentURL: "https://store.example/kasse/order-pay/11/?pay_for_order=true&key=wc_order_k"}
	ret, cancel := orderURLs("https://store.example", o, "")
	if ret != "https://store.example/kasse/order-received/11/?key=wc_order_k" || cancel != o.PaymentURL {
		t.Fatalf("derived: %s, %s", ret, cancel)
	}
	ret, _ = orderURLs("https://store.example", o, "https://store.example/kasse/bestellung-erhalten/11/?key=wc_order_k")
	if ret != "https://store.example/kasse/bestellung-erhalten/11/?key=wc_order_k" {
		t.Fatalf("from the plugin: %s", ret)
	}
	o.PaymentURL = ""
	ret, cancel = orderURLs("https://store.example", o, "")
	if ret != "https://store.example/checkout/order-received/11/?key=wc_order_k" || cancel != "https://store.example/checkout/order-pay/11/?pay_for_order=true&key=wc_order_k" {
		t.Fatalf("fallback: %s, %s", ret, cancel)
	}
}

func TestNormalizeStoreURL(t *testing.T) {
	for in, want := range map[string]string{
		"store.example":                   "https://store.example",
		"https://Store.Example/shop/":     "https://store.example/shop",
		"https://store.example/?x=1#frag": "https://store.example",
	} {
		if got, err := NormalizeStoreURL(in, false); err != nil || got != want {
			t.Errorf("NormalizeStoreURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"http://store.example", "https://127.0.0.1", "https://user:pw@store.example", "https://localhost"} {
		if _, err := NormalizeStoreURL(bad, false); err == nil {
			t.Errorf("NormalizeStoreURL(%q) accepted", bad)
		}
	}
}

// TestPluginArabic: every string the plugin shows through __() or
// esc_html__(), and every method name, has an Arabic translation in
// languages/paybridge-upayments-ar.l10n.php.
func TestPluginArabic(t *testing.T) {
	out := php(t, "-r", `define("ABSPATH", 1); define("PAYBRIDGE_TESTING", 1);
		$t = include "plugin/paybridge-upayments/languages/paybridge-upayments-ar.l10n.php";
		require "plugin/paybridge-upayments/includes/paybridge-signature.php";
		echo json_encode(array("messages" => $t["messages"], "methods" => array_values(paybridge_method_names())));`)
	var l10n struct {
		Messages map[string]string
		Methods  []string
	}
	if err := json.Unmarshal([]byte(out), &l10n); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lit := regexp.MustCompile(`(?:esc_html__|__)\(\s*'((?:[^'\\]|\\.)*)'`)
	want := append([]string(nil), l10n.Methods...)
	err := filepath.WalkDir("plugin/paybridge-upayments", func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".php") || strings.Contains(p, "languages") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			want = append(want, strings.ReplaceAll(m[1], `\'`, `'`))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 40 {
		t.Fatalf("found only %d strings", len(want))
	}
	for _, s := range want {
		if l10n.Messages[s] == "" {
			t.Errorf("no Arabic for %q", s)
		}
	}
}
