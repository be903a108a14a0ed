// Package routes holds every path the bridge serves: the patterns the
// routers register (Gin syntax, ":name" for a parameter) and the builders
// that turn a public base URL and ids into the URLs handed to shoppers,
// gateways, stores and merchants. It imports none of paybridge's packages,
// so that every package can use it.
//
// A builder's base is the bridge's public URL without a trailing slash
// (BRIDGE_PUBLIC_URL); ids are inserted as they are: paybridge's ids are
// URL-safe by construction.
package routes

// Operations routes (internal/server), on every role.
const (
	// Landing is the landing page.
	Landing = "/"
	// Healthz is the liveness check.
	Healthz = "/healthz"
	// Readyz is the readiness check (database, Redis).
	Readyz = "/readyz"
	// Metrics is the Prometheus scrape endpoint.
	Metrics = "/metrics"
)

// Shopper and gateway routes (internal/shopper), common to every platform.
const (
	// Pay sends the shopper to the gateway's hosted page.
	Pay = "/pay/:id"
	// Return is where the gateway sends the shopper back after success.
	Return = "/return/:id"
	// Cancel is where the gateway sends the shopper back after a failure
	// or a cancel.
	Cancel = "/cancel/:id"
	// Wait is the "being confirmed" page.
	Wait = "/wait/:id"
	// Notify receives a gateway's server-to-server notification about one
	// payment.
	Notify = "/notify/:gateway/:id"
	// NotifyAccount receives the notifications a gateway sends to one URL
	// per account (Checkout.com's workflows).
	NotifyAccount = "/notify/:gateway"
)

// PayURL is where a shopper is sent to pay payment id.
func PayURL(base, id string) string { return base + "/pay/" + id }

// ReturnURL is the success return URL of payment id.
func ReturnURL(base, id string) string { return base + "/return/" + id }

// CancelURL is the failure and cancel return URL of payment id.
func CancelURL(base, id string) string { return base + "/cancel/" + id }

// WaitURL is the waiting page of payment id.
func WaitURL(base, id string) string { return base + "/wait/" + id }

// NotifyURL is where gateway sends its notifications about payment id.
func NotifyURL(base, gateway, id string) string { return base + "/notify/" + gateway + "/" + id }

// NotifyAccountURL is the account-level notification URL of gateway.
func NotifyAccountURL(base, gateway string) string { return base + "/notify/" + gateway }

// The generic JSON API (internal/platforms/api), relative to [APIGroup].
const (
	// APIGroup is the prefix of every API route.
	APIGroup = "/api/v1"
	// APIPayments creates payments.
	APIPayments = "/payments"
	// APIPayment reads one payment.
	APIPayment = "/payments/:id"
	// APIRefunds creates and lists a payment's refunds.
	APIRefunds = "/payments/:id/refunds"
	// APICustomerCards forgets a customer's saved cards (DELETE).
	APICustomerCards = "/customers/:unique_id/cards"
)

// WooCommerce routes (internal/platforms/woocommerce), relative to
// [WooCommerceGroup].
const (
	// WooCommerceGroup is the prefix of every WooCommerce route.
	WooCommerceGroup = "/woocommerce"
	// WooCommerceConnect is the connect form (GET) and its submission (POST).
	WooCommerceConnect = "/connect"
	// WooCommerceAuthCallback is where wc-auth posts the REST keys.
	WooCommerceAuthCallback = "/auth/callback"
	// WooCommerceAuthReturn is where wc-auth sends the merchant back.
	WooCommerceAuthReturn = "/auth/return/:shop"
	// WooCommercePlugin serves the gateway plugin.
	WooCommercePlugin = "/plugin.zip"
	// WooCommercePay is the plugin's signed pay link.
	WooCommercePay = "/pay/:shop/:order"
	// WooCommerceWebhooks receives a store's webhooks.
	WooCommerceWebhooks = "/webhooks/:shop"
	// WooCommerceRefunds receives the plugin's signed refund requests.
	WooCommerceRefunds = "/refunds/:shop"
	// WooCommerceInvoices receives the plugin's signed "Send payment link"
	// requests.
	WooCommerceInvoices = "/invoices/:shop"
)

// WooCommerceConnectURL is the connect form.
func WooCommerceConnectURL(base string) string { return base + "/woocommerce/connect" }

// WooCommerceAuthCallbackURL is wc-auth's callback_url.
func WooCommerceAuthCallbackURL(base string) string { return base + "/woocommerce/auth/callback" }

// WooCommerceAuthReturnPath is the path of wc-auth's return_url, shared by
// every shop (the browser cookie's path).
const WooCommerceAuthReturnPath = "/woocommerce/auth/return/"

// WooCommerceAuthReturnURL is wc-auth's return_url for shop.
func WooCommerceAuthReturnURL(base, shop string) string {
	return base + WooCommerceAuthReturnPath + shop
}

// WooCommercePluginURL is where the plugin's zip is downloaded.
func WooCommercePluginURL(base string) string { return base + "/woocommerce/plugin.zip" }

// WooCommerceWebhooksURL is the delivery URL of shop's webhooks.
func WooCommerceWebhooksURL(base, shop string) string { return base + "/woocommerce/webhooks/" + shop }

// Shopify routes (internal/platforms/shopify). The session routes are
// served on the mTLS listener, with [ShopifyWebhooks] again.
const (
	// ShopifyInstall is the app URL.
	ShopifyInstall = "/shopify/install"
	// ShopifyCallback is the OAuth redirect URI.
	ShopifyCallback = "/shopify/callback"
	// ShopifyWebhooks receives webhooks, compliance topics included.
	ShopifyWebhooks = "/shopify/webhooks"
	// ShopifyApp is the embedded settings page.
	ShopifyApp = "/shopify/app"
	// ShopifySettings is the settings page's API.
	ShopifySettings = "/shopify/api/settings"
	// ShopifyPaymentSessions, ShopifyRefundSessions, ShopifyCaptureSessions
	// and ShopifyVoidSessions receive the payments app's sessions.
	ShopifyPaymentSessions = "/shopify/payments/sessions"
	ShopifyRefundSessions  = "/shopify/payments/refunds"
	ShopifyCaptureSessions = "/shopify/payments/captures"
	ShopifyVoidSessions    = "/shopify/payments/voids"
	// ShopifyConfirmSessions receives Shopify's confirmation results (the
	// payments extension's confirmation_callback_url).
	ShopifyConfirmSessions = "/shopify/payments/confirmations"
)

// ShopifyCallbackURL is the OAuth redirect URI.
func ShopifyCallbackURL(base string) string { return base + ShopifyCallback }

// ShopifyAppURL is the settings page for shop (a myshopify domain, query
// escaped by the caller).
func ShopifyAppURL(base, escapedShop string) string {
	return base + ShopifyApp + "?shop=" + escapedShop
}

// Gateway simulators (BRIDGE_SIMULATORS, demos only).
const (
	// SimulatorGroup is the prefix under which each gateway's simulator is
	// mounted at [SimulatorPath].
	SimulatorGroup = "/sim"
)

// SimulatorPath is where gateway's simulator is mounted; everything below
// it is the simulator's.
func SimulatorPath(gateway string) string { return SimulatorGroup + "/" + gateway }

// SimulatorPattern is the route pattern matching everything below
// [SimulatorPath].
func SimulatorPattern(gateway string) string { return SimulatorPath(gateway) + "/*path" }

// SimulatorURL is the base URL of gateway's simulator.
func SimulatorURL(base, gateway string) string { return base + SimulatorPath(gateway) }

// The operator console (internal/console). Every route but the sign-in
// page needs a signed-in user.
const (
	// Console is the console's root; it redirects to [ConsolePayments].
	Console = "/admin"
	// ConsoleLogin is the sign-in form (GET) and its submission (POST).
	ConsoleLogin = "/admin/login"
	// ConsoleLogout ends the session (POST).
	ConsoleLogout = "/admin/logout"
	// ConsolePayments searches and lists payments.
	ConsolePayments = "/admin/payments"
	// ConsolePayment is one payment's page.
	ConsolePayment = "/admin/payments/:id"
	// ConsolePaymentRecheck asks the gateway again (POST).
	ConsolePaymentRecheck = "/admin/payments/:id/recheck"
	// ConsolePaymentResync sends the result to the store again (POST).
	ConsolePaymentResync = "/admin/payments/:id/resync"
	// ConsolePaymentRefund refunds the payment (POST).
	ConsolePaymentRefund = "/admin/payments/:id/refund"
	// ConsolePaymentExport downloads the payment's story as JSON.
	ConsolePaymentExport = "/admin/payments/:id/export"
	// ConsoleShops lists the shops.
	ConsoleShops = "/admin/shops"
	// ConsoleShop is one shop's page: its details and its audit trail.
	ConsoleShop = "/admin/shops/:id"
	// ConsoleShopDisable and ConsoleShopEnable change its status, and
	// ConsoleShopRemove removes it (POST, operators only).
	ConsoleShopDisable = "/admin/shops/:id/disable"
	ConsoleShopEnable  = "/admin/shops/:id/enable"
	ConsoleShopRemove  = "/admin/shops/:id/remove"
	// ConsoleShopRotateKey gives an api shop a new API key and webhook
	// secret, shown once in the answer (POST).
	ConsoleShopRotateKey = "/admin/shops/:id/rotate-key"
	// ConsoleShopCredentials saves its gateway credentials (POST).
	ConsoleShopCredentials = "/admin/shops/:id/credentials"
	// ConsoleShopCheck asks its gateway and its store whether they accept
	// the bridge (POST).
	ConsoleShopCheck = "/admin/shops/:id/check"
	// ConsoleJobs lists the dead (archived) jobs.
	ConsoleJobs = "/admin/jobs"
	// ConsoleJobReplay and ConsoleJobDiscard act on one dead job (POST).
	ConsoleJobReplay  = "/admin/jobs/:queue/:task/replay"
	ConsoleJobDiscard = "/admin/jobs/:queue/:task/discard"
	// ConsoleQueues is where the asynq monitor is mounted (operators only).
	ConsoleQueues = "/admin/queues"
)

// ConsolePaymentPath is the console page of payment id.
func ConsolePaymentPath(id string) string { return ConsolePayments + "/" + id }

// ConsoleShopPath is the console page of shop id.
func ConsoleShopPath(id string) string { return ConsoleShops + "/" + id }

// ConsoleURL is the console's address.
func ConsoleURL(base string) string { return base + Console }
