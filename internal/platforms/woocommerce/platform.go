// Package woocommerce connects WooCommerce stores to paybridge.
//
// A merchant connects the store with wc-auth (or `bridge shops add
// --platform woocommerce` with keys made by hand), installs the small
// gateway plugin served at /woocommerce/plugin.zip, and from then on the
// plugin sends shoppers to the bridge with a signed link; the bridge reads
// the order over REST, creates the gateway payment and, once the gateway
// itself confirms it, marks the order paid through REST with exactly one
// order note.
//
// Routes:
//
//	GET  /woocommerce/connect                  the connect form
//	POST /woocommerce/connect                  start wc-auth (302 to the store)
//	POST /woocommerce/auth/callback            wc-auth posts the keys here (answers exactly 200)
//	GET  /woocommerce/auth/return/{shop}       where wc-auth sends the merchant back
//	GET  /woocommerce/plugin.zip               the gateway plugin
//	GET  /woocommerce/pay/{shop}/{order}       the plugin's signed pay link (302 to the gateway)
//	POST /woocommerce/webhooks/{shop}          WooCommerce webhooks (and their unsigned ping)
//	POST /woocommerce/refunds/{shop}           the plugin's signed refund request
//	POST /woocommerce/invoices/{shop}          the plugin's signed "Send payment link" request
package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// Shop secret and setting keys.
const (
	// SecretConsumerKey and SecretConsumerSecret are the REST API keys.
	SecretConsumerKey    = "consumer_key"
	SecretConsumerSecret = "consumer_secret"
	// SecretPlugin is the secret shared with the gateway plugin (pay links
	// and refund requests).
	SecretPlugin = "plugin_secret"

	// SettingStatus is "pending" (wc-auth not finished), "verifying"
	// (keys received, not yet accepted by the store), "refused" (the store
	// did not accept them), "connecting" (keys checked, webhooks not yet
	// registered), "connected", or "merged" (a reconnect whose keys went to
	// the store's existing shop).
	SettingStatus = "status"
	// SettingStoreURL is the store URL a pending connection is for.
	SettingStoreURL = "store_url"
	// SettingWebhookID is the id of our order.updated webhook in the store.
	SettingWebhookID = "webhook_id"
	// SettingMergedInto names the shop a "merged" pending shop's keys went to.
	SettingMergedInto = "merged_into"
	settingBrowser    = "connect_browser"
)

// Order meta keys the bridge writes; the plugin reads them.
const (
	MetaPaymentID = "_paybridge_payment_id"
	// MetaAttention is set ("paid_after_cancel", "amount_mismatch" …) when a
	// merchant must look at the order; the plugin flags it on the order list.
	MetaAttention = "_paybridge_attention"
)

// Payment metadata keys.
const (
	pmOrderID  = "wc_order_id"
	pmOrderKey = "wc_order_key"
	pmAttempt  = "wc_attempt"
	// pmChoices fingerprints the pay link's choices (method, save card,
	// splits): a second click with the same ones reuses the open attempt.
	pmChoices = "wc_choices"
)

// Store is what the platform needs from the database; *store.DB has it.
type Store interface {
	Shop(ctx context.Context, id string) (*checkout.Shop, error)
	CreateShop(ctx context.Context, s *checkout.Shop) error
	UpdateShop(ctx context.Context, s *checkout.Shop) error
	ShopByDomain(ctx context.Context, platform, domain string) (*checkout.Shop, error)
	ListShops(ctx context.Context) ([]*checkout.Shop, error)
	DeleteUnusedShop(ctx context.Context, id string) (bool, error)
	PaymentByOrder(ctx context.Context, shopID, orderID string) (*checkout.Payment, error)
	RecordReceipt(ctx context.Context, source, id string) (bool, error)
	PutOAuthState(ctx context.Context, state, platform, shopDomain, purpose string, expires time.Time) error
	TakeOAuthState(ctx context.Context, state string) (*store.OAuthState, error)
}

var _ Store = (*store.DB)(nil)

// Config configures the platform. PublicURL is required. The fields with
// an env tag are read from the bridge's environment
// (github.com/caarlos0/env/v11, see [Module]); the others are given by the
// bridge or by tests.
type Config struct {
	// PublicURL is the bridge's external base URL (BRIDGE_PUBLIC_URL).
	PublicURL string
	// AllowInsecureURLs accepts http:// and private store URLs
	// (BRIDGE_ALLOW_INSECURE_URLS; development and tests).
	AllowInsecureURLs bool
	// Timeout bounds each call to a store's REST API. Default 15 s.
	Timeout time.Duration
	// RefundWait is how long a plugin refund request waits for the gateway's
	// answer before answering "pending". Default 8 s.
	RefundWait time.Duration
	// AppName is shown on the store's wc-auth grant screen. Default "paybridge".
	AppName string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// WebhookCheckInterval is how often the reconciler checks the bridge's
	// webhooks on each store and re-activates disabled ones (one request
	// per store; [Platform.CheckWebhooks]).
	// BRIDGE_WEBHOOK_CHECK_INTERVAL, default 10m.
	WebhookCheckInterval time.Duration `env:"BRIDGE_WEBHOOK_CHECK_INTERVAL" envDefault:"10m"`
}

// DefaultWebhookCheckInterval is the default Config.WebhookCheckInterval.
const DefaultWebhookCheckInterval = 10 * time.Minute

func (c Config) withDefaults() Config {
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.RefundWait <= 0 {
		c.RefundWait = 8 * time.Second
	}
	if c.AppName == "" {
		c.AppName = "paybridge"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WebhookCheckInterval <= 0 {
		c.WebhookCheckInterval = DefaultWebhookCheckInterval
	}
	return c
}

// Platform serves the WooCommerce routes and implements checkout.Syncer
// for WooCommerce shops.
type Platform struct {
	svc   *checkout.Service
	store Store
	cfg   Config
	log   *slog.Logger
	// bg tracks background work started by requests (webhook
	// registration after wc-auth, the note on a refused order).
	bg sync.WaitGroup
	// noting holds "shop/order" keys whose refusal note is being written.
	noting sync.Map
}

var _ checkout.Syncer = (*Platform)(nil)

// New returns the platform over the core service and the database.
func New(svc *checkout.Service, st Store, cfg Config) *Platform {
	cfg = cfg.withDefaults()
	return &Platform{svc: svc, store: st, cfg: cfg, log: cfg.Logger}
}

// Wait waits for background work started by requests (the webhook
// registration that follows a wc-auth callback, at most two minutes; the
// note on an order its gateway cannot charge). Call
// it on shutdown before closing the database.
func (p *Platform) Wait() { p.bg.Wait() }

// Register mounts the routes.
func (p *Platform) Register(r gin.IRouter) {
	g := r.Group(routes.WooCommerceGroup)
	g.GET(routes.WooCommerceConnect, p.connectForm)
	g.POST(routes.WooCommerceConnect, p.connectStart)
	g.POST(routes.WooCommerceAuthCallback, p.authCallback)
	g.GET(routes.WooCommerceAuthReturn, p.authReturn)
	g.GET(routes.WooCommercePlugin, p.pluginZip)
	g.GET(routes.WooCommercePay, p.pay)
	g.POST(routes.WooCommerceWebhooks, p.webhook)
	g.POST(routes.WooCommerceRefunds, p.refund)
	g.POST(routes.WooCommerceInvoices, p.invoice)
}

// clientFor returns a REST client for a connected shop.
func clientFor(shop *checkout.Shop, timeout time.Duration) (*Client, error) {
	if shop.Platform != checkout.PlatformWooCommerce {
		return nil, fmt.Errorf("shop %s is a %s shop, not WooCommerce", shop.ID, shop.Platform)
	}
	key, secret := shop.Secrets[SecretConsumerKey], shop.Secrets[SecretConsumerSecret]
	if shop.Domain == "" || key == "" || secret == "" {
		return nil, errNotConnected
	}
	return NewClient(shop.Domain, key, secret, timeout), nil
}

var errNotConnected = errors.New("the store is not connected yet (no REST API keys)")

// NormalizeStoreURL checks a store address and returns it in the form the
// bridge stores (scheme://host[:port][/path], lower-case host, no trailing
// slash, no query). A bare host gets https://.
func NormalizeStoreURL(raw string, allowInsecure bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("store URL %q is not a URL", raw)
	}
	if u.User != nil {
		return "", errors.New("store URL must not contain credentials")
	}
	u.Host = strings.ToLower(u.Host)
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	s := u.String()
	if err := checkout.CheckURLContext(context.Background(), s, allowInsecure, nil); err != nil { // no lookup: as before
		return "", fmt.Errorf("store URL %s: %w", s, err)
	}
	return s, nil
}

// ParseTotal reads a WooCommerce money string (formatted with the store's
// decimal setting, which need not match the currency: a KWD store set to 2
// decimals sends "12.35") as exact minor units. Extra decimals beyond the
// currency's must be zeros; anything that is not a plain decimal, or would
// need rounding, is refused.
func ParseTotal(s, currency string) (checkout.Money, error) {
	return checkout.ParseMoneyPadded(strings.TrimSpace(s), currency)
}
