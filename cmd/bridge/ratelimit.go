package main

import (
	"github.com/redis/go-redis/v9"

	"paybridge/internal/ratelimit"
	"paybridge/internal/routes"
)

// RateLimits are the limits on the routes an attacker can hammer, in
// ulule/limiter's notation ("60-M": 60 a minute; "-S", "-H" for seconds and
// hours). Each is read from its variable; see the README's configuration
// table.
type RateLimits struct {
	// NotifyPerPayment bounds the notifications for one payment.
	// BRIDGE_RATE_NOTIFY_PER_PAYMENT, default 60-M (a gateway retrying a
	// notification sends a handful).
	NotifyPerPayment string `env:"BRIDGE_RATE_NOTIFY_PER_PAYMENT" envDefault:"60-M"`
	// NotifyPerAddress bounds the notifications from one address, for
	// every payment: high, so a gateway's genuine burst for many payments
	// is never refused. BRIDGE_RATE_NOTIFY_PER_ADDRESS, default 60000-M
	// (1,000 a second).
	NotifyPerAddress string `env:"BRIDGE_RATE_NOTIFY_PER_ADDRESS" envDefault:"60000-M"`
	// ConnectPerAddress bounds WooCommerce connect-form submissions from
	// one address. BRIDGE_RATE_CONNECT_PER_ADDRESS, default 10-M.
	ConnectPerAddress string `env:"BRIDGE_RATE_CONNECT_PER_ADDRESS" envDefault:"10-M"`
	// InstallPerAddress bounds Shopify install starts from one address.
	// BRIDGE_RATE_INSTALL_PER_ADDRESS, default 30-M.
	InstallPerAddress string `env:"BRIDGE_RATE_INSTALL_PER_ADDRESS" envDefault:"30-M"`
	// AuthFailuresPerAddress bounds failed API-key authentications from one
	// address; past it, the address is refused until the window ends.
	// BRIDGE_RATE_AUTH_FAILURES_PER_ADDRESS, default 20-M.
	AuthFailuresPerAddress string `env:"BRIDGE_RATE_AUTH_FAILURES_PER_ADDRESS" envDefault:"20-M"`
}

// apiRoutes are the generic API's routes, whose failed authentications
// are counted.
var apiRoutes = []string{routes.APIGroup + routes.APIPayments, routes.APIGroup + routes.APIPayment,
	routes.APIGroup + routes.APIRefunds, routes.APIGroup + routes.APICustomerCards}

// rules are the limits as ratelimit rules over the routes they guard.
func (r RateLimits) rules() []ratelimit.Rule {
	notify := []string{routes.Notify, routes.NotifyAccount}
	return []ratelimit.Rule{
		{Name: "notify_address", Rate: r.NotifyPerAddress, Routes: notify, Key: ratelimit.ClientIP},
		{Name: "notify_payment", Rate: r.NotifyPerPayment, Routes: []string{routes.Notify}, Key: ratelimit.Param("id")},
		{Name: "woocommerce_connect", Rate: r.ConnectPerAddress, Routes: []string{routes.WooCommerceGroup + routes.WooCommerceConnect},
			Methods: []string{"POST"}, Key: ratelimit.ClientIP},
		{Name: "shopify_install", Rate: r.InstallPerAddress, Routes: []string{routes.ShopifyInstall}, Key: ratelimit.ClientIP},
		{Name: "api_auth_failures", Rate: r.AuthFailuresPerAddress, Routes: apiRoutes, Key: ratelimit.ClientIP, Failures: []int{401}},
	}
}

// limiter returns the rate limiter over the queue's Redis, or in memory
// when the queue is the embedded one: then this is the only process.
func (a *app) limiter(rdb redis.UniversalClient) (*ratelimit.Limiter, error) {
	return ratelimit.New(rdb, ratelimit.Config{Rules: a.cfg.RateLimits.rules(), Logger: a.log, Local: a.embedded != nil})
}
