// Package shopify makes paybridge a Shopify app, in both of Shopify's
// payment modes.
//
// Payments-app mode (approved Payments Partners): Shopify's checkout POSTs
// a payment session over mTLS; the shopper pays on the gateway's page; the
// result learned from the gateway goes back with the Payments Apps GraphQL
// API (paymentSessionResolve / Reject) and the shopper is sent on to the URL
// Shopify answers. Refund sessions become gateway refunds; capture and void
// sessions are rejected (no gateway paybridge ships authorizes now and
// captures later).
//
// Order-webhook mode (a merchant's custom app): orders/create for an unpaid
// order placed with the shop's manual payment method creates the gateway
// payment, puts its link on the order, and, once the gateway confirms,
// records the payment with orderCreateManualPayment (orderMarkAsPaid where
// that mutation is missing), exactly once.
//
// Routes on the public listener:
//
//	GET  /shopify/install         app URL: verify, redirect to Shopify's OAuth grant
//	GET  /shopify/callback        OAuth redirect: verify, exchange the code, store the token
//	POST /shopify/webhooks        webhooks (HMAC), compliance topics included
//	GET  /shopify/app             merchant settings page (embedded, App Bridge)
//	GET  /shopify/api/settings    its API, Authorization: Bearer <session token>
//	PUT  /shopify/api/settings
//	POST /shopify/api/settings/check          "check connection": the gateway and Shopify asked
//	POST /shopify/api/settings/test-payment   a sandbox test payment for the merchant to open
//
// Routes on the mTLS listener ([Platform.SessionRoutes], [Platform.SessionTLSConfig]):
//
//	POST /shopify/payments/sessions|refunds|captures|voids
//	POST /shopify/webhooks        (the same handler, for Shopify's mTLS deliveries)
//
// Webhook subscriptions are not created through the API: declare them in
// the app's configuration, e.g. shopify.app.toml:
//
//	[webhooks]
//	api_version = "2026-07"
//	  [[webhooks.subscriptions]]
//	  topics = ["app/uninstalled", "orders/create"]
//	  uri = "https://pay.example.com/shopify/webhooks"
//	  [[webhooks.subscriptions]]
//	  compliance_topics = ["customers/data_request", "customers/redact", "shop/redact"]
//	  uri = "https://pay.example.com/shopify/webhooks"
//
// and the payments extension's payment_session_url, refund_session_url,
// capture_session_url and void_session_url on the mTLS listener
// (https://pay.example.com:8443/shopify/payments/sessions, …).
//
// Each shop picks its gateway (UPayments, Checkout.com KNET, KuPay …) on
// the settings page. What that gateway cannot do is refused before any
// gateway call, with the gateway's reason (checkout.UnsupportedError): a
// payment session in a currency or for an amount it cannot charge exactly
// is recorded as a payment failed from the start, answered with its pay
// URL, and rejected through the store:sync ladder like any failed payment
// (the shopper goes on to the URL Shopify answers); a refund session it
// cannot perform (none at all, partial, a second one) is rejected; in
// order-webhook mode such an order gets no payment and a note saying why,
// once.
//
// A shop holds one gateway account, sandbox or live: a session Shopify
// marks test is charged only on a sandbox account and a real one only on
// a live account (see accountRefusal). Rejections of refund, capture and
// void sessions are rows (a refund failed from the start, or a session
// rejection record, ModeSessionReject) sent by the store:sync ladder.
//
// Decisions where Shopify's documentation is silent or the gateway cannot
// follow: a session of kind "authorization" is charged as a sale (the
// gateways capture at once; its later capture or void session is rejected
// with the gateway's reason and [MsgNoAuthorization]); a shopper who cancels on the gateway page goes
// back to the session's cancel_url and the session is left open, never
// rejected (a rejected session cannot be paid again; Shopify retires the
// abandoned one itself); a payment whose page lifetime ends without a
// result is rejected (PROCESSING_ERROR).
package shopify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// Defaults of [Config].
const (
	// DefaultAPIVersion is the Admin and Payments Apps API version used when
	// Config.APIVersion is empty. It must match the payments extension's.
	DefaultAPIVersion = "2026-07"
	// DefaultScopes are the OAuth scopes asked at install. The payments
	// extension grants write_payment_gateways and write_payment_sessions by
	// itself; order-webhook mode needs the order scopes.
	DefaultScopes = "read_orders,write_orders"
	// DefaultSessionAddr is where the mTLS session listener listens.
	DefaultSessionAddr = ":8443"
	// DefaultTimeout bounds each call to Shopify.
	DefaultTimeout = 10 * time.Second
	// DefaultWebhookBudget bounds the work done inline for one webhook;
	// Shopify gives up on a delivery after 5 s.
	DefaultWebhookBudget = 4 * time.Second
	// DefaultConfirmWait, DefaultConfirmRetry and DefaultConfirmTimeout
	// are Config.ConfirmWait, ConfirmRetry and ConfirmTimeout's defaults.
	// Shopify's check is an inventory lookup; a shopper is held at most
	// DefaultConfirmWait per page load, and a session Shopify never answers
	// is given up after DefaultConfirmTimeout (Shopify keeps an offsite
	// session open for longer: research/shopify.md §3).
	DefaultConfirmWait    = 3 * time.Second
	DefaultConfirmRetry   = 20 * time.Second
	DefaultConfirmTimeout = 2 * time.Minute
	// MethodName is how a manual payment recorded by paybridge was named on
	// the order before shops picked their gateway (UPayments' display
	// name); such transactions are still recognised as paybridge's.
	MethodName = "UPayments"
)

// Shop settings (checkout.Shop.Settings) the platform reads.
const (
	// SettingMode is ModePaymentsApp (default) or ModeOrderWebhook.
	SettingMode = "mode"
	// SettingManualMethod is the manual payment method's name in the shop
	// (order-webhook mode); default the gateway's display name
	// ("UPayments", "Checkout.com", "KuPay"). Manual payments are recorded
	// under this name.
	SettingManualMethod = "manual_method"
	// SettingPaymentMethod is the UPayments method to ask for ("knet",
	// "cc", … or empty for all).
	SettingPaymentMethod = "payment_method"
	// SettingLanguage is "en", "ar", or "" (follow the shopper's locale).
	SettingLanguage = "language"
	// SettingInvoice is how order-webhook mode reaches the shopper: ""
	// (a paybridge pay link on the order), "link" (the gateway's own pay
	// link on the order), or a gateway invoice sent by "email", "sms" or
	// "all".
	SettingInvoice = "invoice"
)

// Modes.
const (
	// ModePaymentsApp: Shopify's checkout sends payment sessions (approved
	// Payments Partners only).
	ModePaymentsApp = "payments_app"
	// ModeOrderWebhook: a manual payment method, orders/create, a pay link
	// or invoice, and a manual payment recorded on the order.
	ModeOrderWebhook = "order_webhook"
	// ModeSessionReject marks a record that is no payment: a capture, void
	// or refund session paybridge rejects that has no row of its own,
	// recorded failed from the start so that its rejection is durable
	// (see rejectDurably).
	ModeSessionReject = "session_reject"
)

// Shop secrets (checkout.Shop.Secrets) the platform keeps.
const (
	secretToken          = "access_token"
	secretTokenExpires   = "access_token_expires_at" // unix seconds; empty: never
	secretRefresh        = "refresh_token"
	secretRefreshExpires = "refresh_token_expires_at"
	secretScope          = "scope"
)

// Payment metadata keys.
const (
	// MetaMode is the mode the payment was made in.
	MetaMode = "shopify_mode"
	// MetaShop is the shop's myshopify domain.
	MetaShop = "shopify_shop"
	// MetaGID is the payment session's gid (payments app) or the order's
	// (order webhook).
	MetaGID = "shopify_gid"
	// MetaGroup is the payment session's group.
	MetaGroup = "shopify_group"
	// MetaKind is the session's kind ("sale" or "authorization").
	MetaKind = "shopify_kind"
	// MetaCancelURL is where a shopper who cancels goes back to.
	MetaCancelURL = "shopify_cancel_url"
	// MetaRedirectURL is nextAction.context.redirectUrl, set once resolved
	// or rejected.
	MetaRedirectURL = "shopify_redirect_url"
	// MetaSessionState is what Shopify was told: "resolved", "rejected".
	MetaSessionState = "shopify_session_state"
	// MetaOrderStatusURL is the order's status page (order webhook).
	MetaOrderStatusURL = "shopify_order_status_url"
	// MetaTransaction is the Shopify transaction that recorded the payment
	// (order webhook); its presence means "recorded, never again".
	MetaTransaction = "shopify_transaction_id"
	// MetaNoted says the pay link was put on the order.
	MetaNoted = "shopify_noted"
	// MetaTest is the payment session's test flag ("true", "false").
	MetaTest = "shopify_test"
	// MetaAPIVersion is the Shopify-Api-Version of the payment's latest
	// session request: its mutations use that version.
	MetaAPIVersion = "shopify_api_version"
	// MetaRejectMutation is the mutation a session rejection record sends
	// ("captureSessionReject", "voidSessionReject", "refundSessionReject").
	MetaRejectMutation = "shopify_reject_mutation"
)

// Config configures the platform. APIKey, APISecret and PublicURL are
// required; every other zero field takes the default its comment names.
// The fields with an env tag are read from the bridge's environment
// (github.com/caarlos0/env/v11, see [Module]); the others are given by the
// bridge or by tests.
type Config struct {
	// APIKey is the app's client id (SHOPIFY_API_KEY).
	APIKey string `env:"SHOPIFY_API_KEY"`
	// APISecret is the app's client secret (SHOPIFY_API_SECRET): it signs
	// install/callback queries, webhooks and session tokens.
	APISecret string `env:"SHOPIFY_API_SECRET"`
	// Scopes asked at install (SHOPIFY_SCOPES). Default DefaultScopes.
	Scopes string `env:"SHOPIFY_SCOPES"`
	// APIVersion of the Admin and Payments Apps APIs (SHOPIFY_API_VERSION).
	// Default DefaultAPIVersion.
	APIVersion string `env:"SHOPIFY_API_VERSION"`
	// AdminOrigin replaces "https://{shop}" in every call to a shop (tests
	// only: SHOPIFY_ADMIN_ORIGIN). "{shop}" inside it is replaced by the
	// shop's domain. Default empty: https://{shop}.
	AdminOrigin string `env:"SHOPIFY_ADMIN_ORIGIN"`
	// PublicURL is the bridge's external base URL (BRIDGE_PUBLIC_URL), for
	// the OAuth redirect URI and the pay links.
	PublicURL string
	// ExpiringTokens asks for expiring offline tokens (60 min, with a
	// refresh token), required of public apps from 2027
	// (SHOPIFY_EXPIRING_TOKENS). Default false.
	ExpiringTokens bool `env:"SHOPIFY_EXPIRING_TOKENS" envDefault:"false"`

	// SessionAddr is where the mTLS session listener listens
	// (SHOPIFY_MTLS_ADDR). Default DefaultSessionAddr.
	SessionAddr string `env:"SHOPIFY_MTLS_ADDR" envDefault:":8443"`
	// SessionCAFile is the PEM bundle of the CA chain Shopify's client
	// certificates are checked against (SHOPIFY_MTLS_CA_FILE). Required to
	// serve sessions unless SessionClientCAs is set. The bridge serves the
	// session listener when it is set.
	SessionCAFile string `env:"SHOPIFY_MTLS_CA_FILE"`
	// SessionCertFile and SessionKeyFile are the session listener's own
	// certificate (from a public CA) and key (SHOPIFY_MTLS_CERT_FILE,
	// SHOPIFY_MTLS_KEY_FILE). Required unless SessionCertificate is set.
	SessionCertFile string `env:"SHOPIFY_MTLS_CERT_FILE"`
	SessionKeyFile  string `env:"SHOPIFY_MTLS_KEY_FILE"`
	// SessionClientCAs and SessionCertificate replace the files (tests).
	SessionClientCAs   *x509.CertPool
	SessionCertificate *tls.Certificate

	// ConfirmSessions asks Shopify to confirm each payments-app session
	// (paymentSessionConfirm: Shopify checks the items are still in stock)
	// before the shopper is sent to the gateway's page
	// (SHOPIFY_CONFIRM_SESSIONS). Turn it on only with the payments
	// extension's supports_oversell_protection set and its
	// confirmation_callback_url pointing at routes.ShopifyConfirmSessions on
	// the session listener; sessions on API versions older than
	// ConfirmStatesSince are never confirmed. Default false.
	ConfirmSessions bool `env:"SHOPIFY_CONFIRM_SESSIONS" envDefault:"false"`
	// ConfirmWait is how long the pay URL holds the shopper waiting for
	// Shopify's confirmation before showing the "checking your order"
	// page, which asks again (SHOPIFY_CONFIRM_WAIT). Default
	// DefaultConfirmWait.
	ConfirmWait time.Duration `env:"SHOPIFY_CONFIRM_WAIT"`
	// ConfirmRetry is how long after asking without an answer the bridge
	// asks Shopify again (SHOPIFY_CONFIRM_RETRY). Default
	// DefaultConfirmRetry.
	ConfirmRetry time.Duration `env:"SHOPIFY_CONFIRM_RETRY"`
	// ConfirmTimeout is how long after first asking the bridge gives up
	// on a confirmation that never came: the payment is withdrawn and the
	// session rejected, so the shopper can check out again
	// (SHOPIFY_CONFIRM_TIMEOUT). Default DefaultConfirmTimeout.
	ConfirmTimeout time.Duration `env:"SHOPIFY_CONFIRM_TIMEOUT"`

	// HTTPClient calls Shopify. Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call to Shopify. Default DefaultTimeout.
	Timeout time.Duration
	// WebhookBudget bounds the inline work of one webhook. Default
	// DefaultWebhookBudget.
	WebhookBudget time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Scopes == "" {
		c.Scopes = DefaultScopes
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.ConfirmWait <= 0 {
		c.ConfirmWait = DefaultConfirmWait
	}
	if c.ConfirmRetry <= 0 {
		c.ConfirmRetry = DefaultConfirmRetry
	}
	if c.ConfirmTimeout <= 0 {
		c.ConfirmTimeout = DefaultConfirmTimeout
	}
	if c.SessionAddr == "" {
		c.SessionAddr = DefaultSessionAddr
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.WebhookBudget <= 0 {
		c.WebhookBudget = DefaultWebhookBudget
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.AdminOrigin = strings.TrimRight(c.AdminOrigin, "/")
	return c
}

// Store is what the platform needs from the database (*store.DB).
type Store interface {
	ShopByDomain(ctx context.Context, platform, domain string) (*checkout.Shop, error)
	Shop(ctx context.Context, id string) (*checkout.Shop, error)
	CreateShop(ctx context.Context, s *checkout.Shop) error
	UpdateShop(ctx context.Context, s *checkout.Shop) error
	PaymentByOrder(ctx context.Context, shopID, orderID string) (*checkout.Payment, error)
	RecordReceipt(ctx context.Context, source, id string) (bool, error)
	ForgetReceipt(ctx context.Context, source, id string) error
	PutOAuthState(ctx context.Context, state, platform, shopDomain, purpose string, expires time.Time) error
	TakeOAuthState(ctx context.Context, state string) (*store.OAuthState, error)
	ShopPayments(ctx context.Context, shopID string, max int) ([]*checkout.Payment, error)
}

var _ Store = (*store.DB)(nil)

// Platform is the Shopify app. It serves the routes, and implements
// checkout.Syncer (register it for checkout.PlatformShopify) and
// shopper.Destination.
type Platform struct {
	svc *checkout.Service
	db  Store
	cfg Config
	log *slog.Logger
	// refresh serialises token refreshes per shop within this process.
	refresh sync.Map // shop id → *sync.Mutex
}

// New returns the platform. It fails on a missing APIKey, APISecret or
// PublicURL.
func New(svc *checkout.Service, db Store, cfg Config) (*Platform, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.APIKey == "":
		return nil, errors.New("shopify: SHOPIFY_API_KEY is required")
	case cfg.APISecret == "":
		return nil, errors.New("shopify: SHOPIFY_API_SECRET is required")
	case cfg.PublicURL == "":
		return nil, errors.New("shopify: the bridge's public URL is required")
	}
	return &Platform{svc: svc, db: db, cfg: cfg, log: cfg.Logger}, nil
}

// Close releases nothing: every call to Shopify is made by a request or
// a job (session rejections are durable rows synced by the job ladder),
// none in the background. It is kept for platforms.Closer.
func (p *Platform) Close() {}

// Register mounts the public routes.
func (p *Platform) Register(r gin.IRouter) {
	r.GET(routes.ShopifyInstall, p.install)
	r.GET(routes.ShopifyCallback, p.callback)
	r.POST(routes.ShopifyWebhooks, p.webhook)
	r.GET(routes.ShopifyApp, p.settingsPage)
	r.GET(routes.ShopifySettings, p.authSession, p.getSettings)
	r.PUT(routes.ShopifySettings, p.authSession, p.putSettings)
	p.registerSettings(r)
}

// shopRe is Shopify's documented shop-domain pattern; only permanent
// *.myshopify.com domains are accepted.
var shopRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$`)

// ValidShop reports whether domain is a permanent myshopify.com domain.
func ValidShop(domain string) bool { return len(domain) <= 255 && shopRe.MatchString(domain) }

// origin is where calls for shop go: https://{shop}, or AdminOrigin.
func (p *Platform) origin(shop string) string {
	if p.cfg.AdminOrigin != "" {
		return strings.ReplaceAll(p.cfg.AdminOrigin, "{shop}", shop)
	}
	return "https://" + shop
}

func (p *Platform) now() time.Time { return p.cfg.Now() }

// mode returns the shop's configured mode.
func mode(shop *checkout.Shop) string {
	if shop.Settings[SettingMode] == ModeOrderWebhook {
		return ModeOrderWebhook
	}
	return ModePaymentsApp
}

// manualMethod is the shop's manual payment method name: the setting, or
// the display name of its gateway.
func (p *Platform) manualMethod(shop *checkout.Shop) string {
	if m := strings.TrimSpace(shop.Settings[SettingManualMethod]); m != "" {
		return m
	}
	return p.gatewayName(shop.Gateway.Gateway)
}

// readFile is os.ReadFile, a variable for tests.
var readFile = os.ReadFile

// SessionTLSConfig is the TLS configuration of the session listener:
// TLS 1.2+, the server certificate, and a client certificate required and
// verified against Shopify's CA bundle. Serve [Platform.SessionRoutes]
// behind it, e.g. server.Serve(ctx, tls.NewListener(ln, cfg)).
func (p *Platform) SessionTLSConfig() (*tls.Config, error) {
	pool := p.cfg.SessionClientCAs
	if pool == nil {
		if p.cfg.SessionCAFile == "" {
			return nil, errors.New("shopify: SHOPIFY_MTLS_CA_FILE is required to serve payment sessions")
		}
		pem, err := readFile(p.cfg.SessionCAFile)
		if err != nil {
			return nil, fmt.Errorf("shopify: SHOPIFY_MTLS_CA_FILE: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("shopify: SHOPIFY_MTLS_CA_FILE %s holds no PEM certificate", p.cfg.SessionCAFile)
		}
	}
	var cert tls.Certificate
	if p.cfg.SessionCertificate != nil {
		cert = *p.cfg.SessionCertificate
	} else {
		if p.cfg.SessionCertFile == "" || p.cfg.SessionKeyFile == "" {
			return nil, errors.New("shopify: SHOPIFY_MTLS_CERT_FILE and SHOPIFY_MTLS_KEY_FILE are required to serve payment sessions")
		}
		c, err := tls.LoadX509KeyPair(p.cfg.SessionCertFile, p.cfg.SessionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("shopify: session listener certificate: %w", err)
		}
		cert = c
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// SessionAddr is the configured address of the session listener.
func (p *Platform) SessionAddr() string { return p.cfg.SessionAddr }
