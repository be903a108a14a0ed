// Package console is the operator console at /admin: server-rendered pages
// (Go templates embedded here, English and Arabic, usable on a phone) where
// operators and merchants find payments and read their story, re-check a
// payment with its gateway, send its result to the store again, refund it,
// look at the shops and act on them (disable, enable, remove, rotate an api
// shop's key, edit its gateway credentials, check its connection), and
// replay or discard dead jobs. The asynq monitor
// (github.com/hibiken/asynqmon) is mounted at /admin/queues for operators.
//
// # Who sees what
//
// Users are made with `bridge users add` ([store.User]). An operator (no
// shop) sees every shop; a merchant only their own: every route that takes
// a payment, a job or a shop answers 404 for another shop's, exactly as for
// one that does not exist.
//
// # Sessions
//
// Signing in makes a session kept in the database by the SHA-256 of its
// token (a stolen database opens no session). The cookie is HttpOnly,
// SameSite=Lax, Secure (and named with the __Host- prefix) when the public
// URL is https. A session ends after [DefaultIdleTimeout] without a request
// or [DefaultMaxAge] after sign-in, whichever comes first, and at sign-out.
// Failed sign-ins are throttled per client address and per e-mail
// (internal/ratelimit, in the queue's Redis).
//
// # Forms
//
// Every POST passes two checks: net/http's CrossOriginProtection (the
// browser's Sec-Fetch-Site or Origin must be this site), and, once signed
// in, a token tied to the session (an HMAC of the session's token) in a
// hidden field. Every action on a payment is recorded in its audit trail
// as a [EventConsoleAction] naming the user; every action on a shop in
// the shop's audit trail (store.ShopEvent) with the source
// "console:<e-mail>".
//
// # Shops
//
// Operators act on every shop, merchants on their own: they may edit its
// gateway credentials, check its connection and rotate its API key (they
// hold that key and must act at once when it leaks); disabling, enabling
// and removing a shop are operators' (404 for a merchant). A rotated key
// and webhook secret are shown once, in the answer to the form (no-store),
// and never again. Credentials are never shown: the form says which are
// set, and an empty field keeps the stored value.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/ratelimit"
	"paybridge/internal/routes"
	"paybridge/internal/store"
)

// Defaults of [Config].
const (
	// DefaultIdleTimeout ends a session after 30 minutes without a request.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultMaxAge ends a session 12 hours after sign-in.
	DefaultMaxAge = 12 * time.Hour
	// DefaultLoginFailuresPerAddress bounds failed sign-ins from one
	// address: 10 a minute.
	DefaultLoginFailuresPerAddress = "10-M"
	// DefaultLoginFailuresPerEmail bounds failed sign-ins for one e-mail,
	// from anywhere: 20 an hour.
	DefaultLoginFailuresPerEmail = "20-H"
	// PageSize is how many payments a list page shows.
	PageSize = 50
)

// EventConsoleAction is the audit event of an action taken in the console.
// Its detail names the user, the action and its outcome.
const EventConsoleAction = "console_action"

// Store is what the console reads and writes; *store.DB implements it.
type Store interface {
	UserByEmail(ctx context.Context, email string) (*store.User, error)
	CreateSession(ctx context.Context, s *store.Session) error
	SessionUser(ctx context.Context, tokenHash string) (*store.Session, *store.User, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	PruneSessions(ctx context.Context, now, idleBefore time.Time) (int64, error)
	SearchPayments(ctx context.Context, q store.PaymentSearch) ([]*checkout.Payment, error)
	Payment(ctx context.Context, id string) (*checkout.Payment, error)
	Events(ctx context.Context, paymentID string) ([]checkout.Event, error)
	Refunds(ctx context.Context, paymentID string) ([]*checkout.Refund, error)
	Refund(ctx context.Context, id string) (*checkout.Refund, error)
	Shop(ctx context.Context, id string) (*checkout.Shop, error)
	ShopListing(ctx context.Context) ([]store.ListedShop, error)
	ShopEvents(ctx context.Context, shopID string) ([]store.ShopEvent, error)
	DisableShop(ctx context.Context, id string, by store.ShopActor) (checkout.ShopStatus, error)
	EnableShop(ctx context.Context, id string, by store.ShopActor) (checkout.ShopStatus, error)
	RemoveShop(ctx context.Context, id string, force bool, by store.ShopActor) (*store.ShopRemoval, error)
	RotateShopKey(ctx context.Context, id, apiKeyHash, webhookSecret string, by store.ShopActor) error
	SetShopCredentials(ctx context.Context, id string, creds map[string]string, by store.ShopActor) (bool, error)
	RecordShopEvent(ctx context.Context, e store.ShopEvent) error
}

// Core is the part of the core the console's buttons call, the way the
// API and the job workers call it; *checkout.Service implements it.
type Core interface {
	Confirm(ctx context.Context, id, source string) (*checkout.Payment, error)
	SyncPayment(ctx context.Context, id string) error
	CreateRefund(ctx context.Context, paymentID string, req checkout.RefundRequest) (*checkout.Refund, bool, error)
	RecordEvents(ctx context.Context, evs ...checkout.Event) error
	Supports(gateway string, f checkout.Feature) error
	Capabilities(gateway string) (checkout.Capabilities, bool)
	CheckConnection(ctx context.Context, shop *checkout.Shop) checkout.ConnectionCheck
}

// Config configures a [Console].
type Config struct {
	// Store and Core are required.
	Store Store
	Core  Core
	// Queue is the queue's Redis (the embedded one or a real one): dead
	// jobs, the asynq monitor and the sign-in throttle live there.
	// Required.
	Queue asynq.RedisConnOpt
	// PublicURL is the bridge's public base URL; https makes the cookie
	// Secure. Required.
	PublicURL string
	// IdleTimeout and MaxAge bound a session; zero means
	// [DefaultIdleTimeout] and [DefaultMaxAge].
	IdleTimeout, MaxAge time.Duration
	// LoginFailuresPerAddress and LoginFailuresPerEmail bound failed
	// sign-ins (ulule/limiter notation, "10-M"); empty means the defaults.
	LoginFailuresPerAddress, LoginFailuresPerEmail string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now (tests move it).
	Now func() time.Time
}

// Console serves the console. Create it with [New], mount it with
// server.Mount, and Close it when done.
type Console struct {
	cfg     Config
	log     *slog.Logger
	secure  bool
	cookie  string
	rdb     redis.UniversalClient
	limiter *ratelimit.Limiter
	jobs    *jobs.Admin
	monitor *asynqmon.HTTPHandler
	cop     *http.CrossOriginProtection
}

// New checks cfg and returns the console.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Store == nil || cfg.Core == nil:
		return nil, errors.New("console: a store and a core are required")
	case cfg.Queue == nil:
		return nil, errors.New("console: the queue's Redis is required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("console: public URL %q: want http(s)://host", cfg.PublicURL)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.LoginFailuresPerAddress == "" {
		cfg.LoginFailuresPerAddress = DefaultLoginFailuresPerAddress
	}
	if cfg.LoginFailuresPerEmail == "" {
		cfg.LoginFailuresPerEmail = DefaultLoginFailuresPerEmail
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, log: cfg.Logger, secure: u.Scheme == "https"}
	c.cookie = "paybridge_console"
	if c.secure {
		c.cookie = "__Host-paybridge_console" // Secure, Path=/, no Domain: no subdomain can set it
	}
	rc, ok := cfg.Queue.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("console: the queue's Redis client is not a go-redis client")
	}
	c.rdb = rc
	c.limiter, err = ratelimit.New(rc, ratelimit.Config{Logger: cfg.Logger, Prefix: "paybridge:rate:", Rules: []ratelimit.Rule{
		{Name: "console_login_address", Rate: cfg.LoginFailuresPerAddress, Routes: []string{routes.ConsoleLogin},
			Methods: []string{http.MethodPost}, Key: ratelimit.ClientIP, Failures: []int{http.StatusUnauthorized}},
		{Name: "console_login_email", Rate: cfg.LoginFailuresPerEmail, Routes: []string{routes.ConsoleLogin},
			Methods: []string{http.MethodPost}, Key: func(g *gin.Context) string { return store.NormalizeEmail(g.PostForm("email")) },
			Failures: []int{http.StatusUnauthorized}},
	}})
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	c.jobs = jobs.NewAdmin(cfg.Queue)
	c.monitor = asynqmon.New(asynqmon.Options{RootPath: routes.ConsoleQueues, RedisConnOpt: cfg.Queue})
	c.cop = http.NewCrossOriginProtection()
	if err := c.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
		c.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	return c, nil
}

// Close closes the console's connections to Redis.
func (c *Console) Close() error {
	return errors.Join(c.monitor.Close(), c.jobs.Close(), c.rdb.Close())
}

// Register adds the console's routes.
func (c *Console) Register(r gin.IRouter) {
	g := r.Group("", c.common)
	g.GET(routes.Console, c.requireUser, func(g *gin.Context) { g.Redirect(http.StatusSeeOther, routes.ConsolePayments) })
	g.GET(routes.ConsoleLogin, c.loginForm)
	g.POST(routes.ConsoleLogin, c.throttlePage, c.limiter.Handler, c.login)
	a := g.Group("", c.requireUser)
	a.POST(routes.ConsoleLogout, c.logout)
	a.GET(routes.ConsolePayments, c.payments)
	a.GET(routes.ConsolePayment, c.payment)
	a.POST(routes.ConsolePaymentRecheck, c.recheck)
	a.POST(routes.ConsolePaymentResync, c.resync)
	a.POST(routes.ConsolePaymentRefund, c.refund)
	a.GET(routes.ConsolePaymentExport, c.export)
	a.GET(routes.ConsoleShops, c.shops)
	a.GET(routes.ConsoleShop, c.shop)
	a.POST(routes.ConsoleShopCredentials, c.saveCredentials)
	a.POST(routes.ConsoleShopCheck, c.checkConnection)
	a.POST(routes.ConsoleShopRotateKey, c.rotateKey)
	a.POST(routes.ConsoleShopDisable, c.requireOperator, c.disableShop)
	a.POST(routes.ConsoleShopEnable, c.requireOperator, c.enableShop)
	a.POST(routes.ConsoleShopRemove, c.requireOperator, c.removeShop)
	a.GET(routes.ConsoleJobs, c.deadJobs)
	a.POST(routes.ConsoleJobReplay, c.replayJob)
	a.POST(routes.ConsoleJobDiscard, c.discardJob)
	mon := gin.WrapH(c.monitor)
	a.Any(routes.ConsoleQueues, c.requireOperator, mon)
	a.Any(routes.ConsoleQueues+"/*path", c.requireOperator, mon)
}

// common runs on every console route: the cross-origin check on unsafe
// methods and the page language.
func (c *Console) common(g *gin.Context) {
	g.Header("Cache-Control", "no-store")
	g.Header("X-Frame-Options", "DENY")
	g.Set(langKey, pickLang(g))
	if err := c.cop.Check(g.Request); err != nil {
		c.renderError(g, http.StatusForbidden, "err_cross_origin", err)
		return
	}
	g.Next()
}

// source is the audit events' Source of the console's actions.
const source = "console"

// action records a console action on a payment in its audit trail, naming
// the user, the action, its particulars and its outcome (nil: "ok").
func (c *Console) action(g *gin.Context, paymentID, refundID, what string, extra map[string]any, outcome error) {
	u := currentUser(g)
	d := map[string]any{"user": u.Email, "action": what, "outcome": "ok"}
	if outcome != nil {
		d["outcome"] = "error"
		d["error"] = outcome.Error()
	}
	for k, v := range extra {
		d[k] = v
	}
	ev := checkout.Event{PaymentID: paymentID, RefundID: refundID, Kind: EventConsoleAction, Source: source, Detail: mustJSON(d)}
	// The action has happened: record it even if the request is ending.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.Request.Context()), 10*time.Second)
	defer cancel()
	if err := c.cfg.Core.RecordEvents(ctx, ev); err != nil {
		c.log.ErrorContext(ctx, "console: record action", "payment", paymentID, "action", what, "user", u.Email, "err", err)
	}
	c.log.InfoContext(ctx, "console action", "payment", paymentID, "action", what, "user", u.Email, "outcome", d["outcome"])
}

// safeNext returns next when it is a console path to go back to after
// signing in, and the payments list otherwise.
func safeNext(next string) string {
	if next == routes.Console || (strings.HasPrefix(next, routes.Console+"/") && !strings.HasPrefix(next, "//") &&
		!strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, routes.ConsoleLogin)) {
		return next
	}
	return routes.ConsolePayments
}
