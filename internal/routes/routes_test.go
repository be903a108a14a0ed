package routes

import (
	"strings"
	"testing"
)

// matches reports whether path fits a Gin pattern: ":x" takes one
// segment, "*x" the rest.
func matches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return len(xs) >= i
		}
		if i >= len(xs) || (!strings.HasPrefix(p, ":") && p != xs[i]) || (strings.HasPrefix(p, ":") && xs[i] == "") {
			return false
		}
	}
	return len(xs) == len(ps)
}

// TestBuildersMatchPatterns checks that each URL builder produces a path
// its route pattern serves, so a renamed route cannot leave its links
// behind.
func TestBuildersMatchPatterns(t *testing.T) {
	const base = "https://pay.example.com"
	tests := []struct {
		pattern, url string
	}{
		{Pay, PayURL(base, "pay_1")},
		{Return, ReturnURL(base, "pay_1")},
		{Cancel, CancelURL(base, "pay_1")},
		{Wait, WaitURL(base, "pay_1")},
		{Notify, NotifyURL(base, "upay", "pay_1")},
		{NotifyAccount, NotifyAccountURL(base, "cko")},
		{WooCommerceGroup + WooCommerceConnect, WooCommerceConnectURL(base)},
		{WooCommerceGroup + WooCommerceAuthCallback, WooCommerceAuthCallbackURL(base)},
		{WooCommerceGroup + WooCommerceAuthReturn, WooCommerceAuthReturnURL(base, "shop_1")},
		{WooCommerceGroup + WooCommercePlugin, WooCommercePluginURL(base)},
		{WooCommerceGroup + WooCommerceWebhooks, WooCommerceWebhooksURL(base, "shop_1")},
		{ShopifyCallback, ShopifyCallbackURL(base)},
		{ShopifyApp, strings.Split(ShopifyAppURL(base, "a.myshopify.com"), "?")[0]},
		{SimulatorPattern("upay"), SimulatorURL(base, "upay") + "/api/v1/charge"},
		{ConsolePayment, ConsolePaymentPath("pay_1")},
		{ConsoleShop, ConsoleShopPath("shop_1")},
		{Console, strings.TrimPrefix(ConsoleURL(base), base)},
	}
	for _, tt := range tests {
		path, ok := strings.CutPrefix(tt.url, base)
		if strings.HasPrefix(tt.url, "/") {
			path, ok = tt.url, true
		}
		if !ok || !matches(tt.pattern, path) {
			t.Errorf("%s does not serve %s", tt.pattern, tt.url)
		}
	}
	if !strings.HasPrefix(WooCommerceAuthReturnURL(base, "s"), base+WooCommerceAuthReturnPath) {
		t.Error("the wc-auth return URL is outside its cookie's path")
	}
	if matches(Pay, "/pay/") || matches(Pay, "/pay/a/b") || matches(Notify, "/notify/upay") {
		t.Error("matches accepts a path the pattern does not serve")
	}
}
