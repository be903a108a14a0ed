// Package shopper serves the routes a shopper's browser and a gateway's
// notifications reach, for every platform:
//
//	GET      /pay/{payment}              → 302 to the gateway's hosted page
//	GET      /return/{payment}           ← the gateway sends the shopper back (success)
//	GET      /cancel/{payment}           ← … (failure or cancel)
//	GET      /wait/{payment}             "being confirmed" page until the state is final
//	GET|POST /notify/{gateway}/{payment} ← the gateway's server-to-server notification
//	POST     /notify/{gateway}           ← … sent to one URL per account (Checkout.com)
//
// Nothing here changes a payment on the caller's word: returns and
// notifications are recorded as claims and the gateway is asked.
package shopper

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jonboulle/clockwork"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
)

// Config configures the routes. The zero value is usable except PublicURL.
type Config struct {
	// PublicURL is the bridge's external base URL, used to rebuild the full
	// URL a gateway signed.
	PublicURL string
	// ReturnTimeout bounds the gateway check made while the shopper waits on
	// a return. Default 8 s; past it the shopper sees the waiting page.
	ReturnTimeout time.Duration
	// RefreshSeconds is how often the waiting page checks the payment again
	// (in the background, or by reloading in a browser without scripts).
	// Default 3.
	RefreshSeconds int
	// Destinations decide, per platform, where a shopper goes next. A
	// platform without one sends the shopper to the payment's ReturnURL
	// when paid and CancelURL otherwise.
	Destinations map[string]Destination
	// Gates hold, per platform, a shopper at the pay URL until the
	// platform lets the payment go on to the gateway. A platform without
	// one lets every shopper through.
	Gates map[string]Gate
	// Shops finds a payment's shop, for the store's name and address on
	// the shopper's pages. Nil leaves them out.
	Shops ShopFinder
	// PendingTimeout is how long the waiting page keeps checking, counted
	// from when the shopper first saw it (never from before the payment
	// was created). Past it the page stops checking and spinning, says the
	// payment is still being confirmed and not to pay again, and links
	// back to the store. Default 2 minutes.
	PendingTimeout time.Duration
	// Clock tells the time for PendingTimeout. Nil means the real clock.
	Clock clockwork.Clock
}

// Gate decides whether a shopper at the pay URL may go on to the
// gateway's page (Shopify confirms the checkout can still be fulfilled
// first).
type Gate interface {
	// Admit is called for open payments before the shopper is sent to
	// the gateway. false keeps the shopper on a "checking your order" page
	// that reloads the pay URL; a gate that ends the payment (the platform
	// withdrew it) returns false, and the shopper is sent on as for any
	// final payment.
	Admit(ctx context.Context, p *checkout.Payment) (bool, error)
}

// DefaultPendingTimeout is Config.PendingTimeout's default.
const DefaultPendingTimeout = 2 * time.Minute

// ShopFinder finds a shop by id (the store satisfies it).
type ShopFinder interface {
	Shop(ctx context.Context, id string) (*checkout.Shop, error)
}

// OrderReferencer is an optional interface of a Destination, for a
// platform whose order reference a shopper knows is not Payment.OrderID
// (a checkout session's id, say): it returns the reference to show, or ""
// to show none.
type OrderReferencer interface {
	OrderReference(p *checkout.Payment) string
}

// Destination decides where a shopper goes once their payment is final,
// for platforms with their own rules (Shopify sends the shopper to the URL
// its resolve mutation returned).
type Destination interface {
	// Next returns the URL to send the shopper to, or "" to keep them on
	// the waiting page (the platform has not answered yet). It is called
	// for final payments only.
	Next(ctx context.Context, p *checkout.Payment) (string, error)
}

// Routes serves the shopper and notification routes.
type Routes struct {
	svc *checkout.Service
	cfg Config
}

// New returns the routes over the core service.
func New(svc *checkout.Service, cfg Config) *Routes {
	if cfg.ReturnTimeout <= 0 {
		cfg.ReturnTimeout = 8 * time.Second
	}
	if cfg.RefreshSeconds <= 0 {
		cfg.RefreshSeconds = 3
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Routes{svc: svc, cfg: cfg}
}

// Register mounts the routes.
func (rt *Routes) Register(r gin.IRouter) {
	r.GET(routes.Pay, rt.pay)
	r.GET(routes.Return, rt.back)
	r.GET(routes.Cancel, rt.back)
	r.GET(routes.Wait, rt.wait)
	r.GET(routes.Notify, rt.notify)
	r.POST(routes.Notify, rt.notify)
	r.POST(routes.NotifyAccount, rt.notify) // account-level webhooks (Checkout.com workflows)
}

// lang is the language of the shopper's page: ?lang= (the pages' switch)
// first, then the payment's language when the merchant chose Arabic, then
// the browser's Accept-Language.
func lang(c *gin.Context, p *checkout.Payment) string {
	if q := strings.ToLower(c.Query("lang")); q != "" {
		if strings.HasPrefix(q, "ar") {
			return "ar"
		}
		return "en"
	}
	if p != nil && p.Language == "ar" {
		return "ar"
	}
	return server.PreferredLang(c.GetHeader("Accept-Language"))
}

// page is the shopper's page of kind in the request's language, about p
// when it is known: the store's name, the amount, the order reference and
// a switch to the other language.
func (rt *Routes) page(c *gin.Context, p *checkout.Payment, kind server.ShopperPageKind, refreshURL, linkURL string) server.Page {
	l := lang(c, p)
	page := server.ShopperPage(l, kind, refreshURL, linkURL)
	other := url.Values{"lang": {"ar"}}
	if l == "ar" {
		other.Set("lang", "en")
	}
	if p == nil {
		page.SwitchURL = c.Request.URL.Path + "?" + other.Encode()
		return page
	}
	// The switch shows the payment's current page: /wait renders every state.
	if since := c.Query("since"); since != "" {
		other.Set("since", since)
	}
	page.SwitchURL = routes.WaitURL(rt.cfg.PublicURL, p.ID) + "?" + other.Encode()
	page.Amount = formatAmount(p.Amount, l)
	page.Order = p.OrderID
	if or, ok := rt.cfg.Destinations[p.Platform].(OrderReferencer); ok {
		page.Order = or.OrderReference(p)
	}
	page.Reference = p.ID
	if shop := rt.shop(c, p); shop != nil {
		page.Store = shop.Name
	}
	return page
}

// Page returns the shopper's page of kind about p, as the routes show it:
// in the request's language, with the store's name, the amount, the order
// reference and the language switch; linkURL becomes its button. It is for
// a route or hook that shows a page of its own, such as a confirmation
// before the gateway's page (server.ShopperPay, linkURL the gateway's).
func (rt *Routes) Page(c *gin.Context, p *checkout.Payment, kind server.ShopperPageKind, linkURL string) server.Page {
	return rt.page(c, p, kind, "", linkURL)
}

// shop returns p's shop, or nil when there is no ShopFinder or it fails
// (the page is shown without the store's name).
func (rt *Routes) shop(c *gin.Context, p *checkout.Payment) *checkout.Shop {
	if rt.cfg.Shops == nil {
		return nil
	}
	const key = "paybridge.shopper-shop" // read once per request
	if v, ok := c.Get(key); ok {
		shop, _ := v.(*checkout.Shop)
		return shop
	}
	shop, err := rt.cfg.Shops.Shop(c.Request.Context(), p.ShopID)
	if err != nil {
		_ = c.Error(err)
		shop = nil
	}
	c.Set(key, shop)
	return shop
}

// storeURL is the link back to the store: the shop's address (its home
// page), else fallback.
func (rt *Routes) storeURL(c *gin.Context, p *checkout.Payment, fallback string) string {
	if shop := rt.shop(c, p); shop != nil && shop.Domain != "" {
		d := strings.TrimRight(shop.Domain, "/")
		if !strings.HasPrefix(d, "https://") && !strings.HasPrefix(d, "http://") {
			d = "https://" + d
		}
		if u, err := url.Parse(d); err == nil && u.Host != "" {
			return d + "/"
		}
	}
	return fallback
}

// pending shows the waiting page: refreshing itself every RefreshSeconds
// until PendingTimeout has passed since the shopper first saw it (the
// refresh URL carries that time as ?since=), then, without refreshing,
// the page saying the payment is still being confirmed, with a link back
// to the store.
func (rt *Routes) pending(c *gin.Context, p *checkout.Payment) {
	now := rt.cfg.Clock.Now()
	since := now
	if v, err := strconv.ParseInt(c.Query("since"), 10, 64); err == nil {
		// A time from the future is a bad link: start again. One from
		// before the payment existed counts from its creation.
		since = time.Unix(v, 0)
		if since.After(now) {
			since = now
		} else if created := p.CreatedAt.Truncate(time.Second); since.Before(created) {
			since = created
		}
	}
	if now.Sub(since) >= rt.cfg.PendingTimeout {
		server.RenderPage(c, http.StatusOK, rt.page(c, p, server.ShopperDelayed, "", rt.storeURL(c, p, p.ReturnURL)))
		return
	}
	q := url.Values{"since": {strconv.FormatInt(since.Unix(), 10)}}
	if c.Query("lang") != "" {
		q.Set("lang", lang(c, p))
	}
	page := rt.page(c, p, server.ShopperPending, routes.WaitURL(rt.cfg.PublicURL, p.ID)+"?"+q.Encode(), "")
	page.RefreshSeconds = rt.cfg.RefreshSeconds
	server.RenderPage(c, http.StatusOK, page)
}

func (rt *Routes) load(c *gin.Context) (*checkout.Payment, bool) {
	id := c.Param("id")
	if !checkout.ValidID("pay", id) {
		server.RenderPage(c, http.StatusNotFound, rt.page(c, nil, server.ShopperNotFound, "", ""))
		return nil, false
	}
	p, err := rt.svc.Payment(c.Request.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) {
		server.RenderPage(c, http.StatusNotFound, rt.page(c, nil, server.ShopperNotFound, "", ""))
		return nil, false
	}
	if err != nil {
		rt.fail(c, nil, err)
		return nil, false
	}
	return p, true
}

func (rt *Routes) fail(c *gin.Context, p *checkout.Payment, err error) {
	_ = c.Error(err) // logged by the access log middleware
	link := ""
	if p != nil {
		link = rt.svc.PayURL(p.ID)
	}
	status := http.StatusInternalServerError
	var ge *checkout.GatewayError
	if errors.As(err, &ge) {
		status = http.StatusBadGateway
	}
	server.RenderPage(c, status, rt.page(c, p, server.ShopperError, "", link))
}

func (rt *Routes) pay(c *gin.Context) {
	p, ok := rt.load(c)
	if !ok {
		return
	}
	if g := rt.cfg.Gates[p.Platform]; g != nil && !p.Status.Final() {
		if !rt.admit(c, g, p) {
			return
		}
	}
	to, p, err := rt.svc.Redirect(c.Request.Context(), c.Param("id"))
	if err != nil {
		rt.fail(c, p, err)
		return
	}
	if to == "" {
		rt.leave(c, p)
		return
	}
	c.Redirect(http.StatusFound, to)
}

// admit asks the payment's gate whether the shopper goes on to the
// gateway; when not, it answers: the payment's result when the gate ended
// it, else the "checking your order" page.
func (rt *Routes) admit(c *gin.Context, g Gate, p *checkout.Payment) bool {
	ctx := c.Request.Context()
	ok, err := g.Admit(ctx, p)
	if err != nil {
		rt.fail(c, p, err)
		return false
	}
	if ok {
		return true
	}
	if p, err = rt.svc.Payment(ctx, p.ID); err != nil {
		rt.fail(c, nil, err)
		return false
	}
	if p.Status.Final() {
		rt.leave(c, p)
		return false
	}
	c.Header("Cache-Control", "no-store")
	page := rt.page(c, p, server.ShopperChecking, rt.svc.PayURL(p.ID), "")
	page.RefreshSeconds = rt.cfg.RefreshSeconds
	server.RenderPage(c, http.StatusOK, page)
	return false
}

// back handles the shopper's return from the gateway page.
func (rt *Routes) back(c *gin.Context) {
	if _, ok := rt.load(c); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), rt.cfg.ReturnTimeout)
	defer cancel()
	p, err := rt.svc.Return(ctx, c.Param("id"), rt.callbackRequest(c, nil))
	if err != nil {
		if errors.Is(err, checkout.ErrBadSignature) {
			server.RenderPage(c, http.StatusBadRequest, rt.page(c, p, server.ShopperError, "", ""))
			return
		}
		rt.fail(c, p, err)
		return
	}
	rt.leave(c, p)
}

func (rt *Routes) wait(c *gin.Context) {
	p, ok := rt.load(c)
	if !ok {
		return
	}
	rt.leave(c, p)
}

// PendingDestination is a Destination that can also release a shopper
// whose payment the gateway reports as still in progress (Shopify, once
// the session was marked pending, shows its own "processing" page).
type PendingDestination interface {
	// PendingNext returns where a shopper with a pending payment goes, or
	// "" to keep them on the waiting page.
	PendingNext(ctx context.Context, p *checkout.Payment) (string, error)
}

// leave sends the shopper on: to the merchant when the payment is final,
// else to the waiting page.
func (rt *Routes) leave(c *gin.Context, p *checkout.Payment) {
	c.Header("Cache-Control", "no-store")
	if pd, ok := rt.cfg.Destinations[p.Platform].(PendingDestination); ok && p.Status == checkout.StatusPending {
		to, err := pd.PendingNext(c.Request.Context(), p)
		if err != nil {
			rt.fail(c, p, err)
			return
		}
		if to != "" {
			c.Redirect(http.StatusFound, to)
			return
		}
	}
	if d := rt.cfg.Destinations[p.Platform]; d != nil && p.Status.Final() {
		to, err := d.Next(c.Request.Context(), p)
		if err != nil {
			rt.fail(c, p, err)
			return
		}
		if to != "" {
			c.Redirect(http.StatusFound, to)
			return
		}
		rt.pending(c, p)
		return
	}
	switch p.Status {
	case checkout.StatusPaid:
		if p.ReturnURL != "" {
			c.Redirect(http.StatusFound, p.ReturnURL)
			return
		}
		server.RenderPage(c, http.StatusOK, rt.page(c, p, server.ShopperPaid, "", rt.storeURL(c, p, "")))
	case checkout.StatusFailed, checkout.StatusCanceled, checkout.StatusExpired:
		if p.CancelURL != "" {
			c.Redirect(http.StatusFound, cancelURL(p))
			return
		}
		kind := map[checkout.Status]server.ShopperPageKind{checkout.StatusFailed: server.ShopperFailed,
			checkout.StatusCanceled: server.ShopperCanceled, checkout.StatusExpired: server.ShopperExpired}[p.Status]
		server.RenderPage(c, http.StatusOK, rt.page(c, p, kind, "", rt.storeURL(c, p, "")))
	default:
		rt.pending(c, p)
	}
}

// ResultParam names the query parameter added to a WooCommerce payment's
// cancel URL (the order's pay page) when the shopper is sent back: why the
// payment did not go through ("failed", "canceled" or "expired"). The
// plugin shows the shopper a notice saying so, in the store's language; it
// changes nothing else (the order's state comes from the bridge's REST
// updates). Other platforms' cancel URLs are left as the merchant gave
// them, since an API merchant's may be signed.
const ResultParam = "paybridge_result"

// cancelURL is where a shopper whose payment failed, was cancelled or
// expired goes: the payment's CancelURL, with ResultParam on WooCommerce's.
func cancelURL(p *checkout.Payment) string {
	if p.Platform != checkout.PlatformWooCommerce {
		return p.CancelURL
	}
	u, err := url.Parse(p.CancelURL)
	if err != nil {
		return p.CancelURL
	}
	add := ResultParam + "=" + url.QueryEscape(string(p.Status))
	if u.RawQuery == "" {
		u.RawQuery = add
	} else {
		u.RawQuery += "&" + add
	}
	return u.String()
}

func (rt *Routes) callbackRequest(c *gin.Context, body []byte) checkout.CallbackRequest {
	return checkout.CallbackRequest{
		Method: c.Request.Method,
		URL:    rt.cfg.PublicURL + c.Request.URL.Path,
		Query:  c.Request.URL.Query(),
		Header: c.Request.Header.Clone(),
		Body:   body,
	}
}

// notify answers the gateway fast: record the claim, enqueue a confirm.
func (rt *Routes) notify(c *gin.Context) {
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	id := c.Param("id")
	if id == "" {
		// An account-level webhook: the gateway's adapter names the payment.
		err = rt.svc.NotifyAccount(c.Request.Context(), c.Param("gateway"), rt.callbackRequest(c, body))
	} else if !checkout.ValidID("pay", id) {
		server.WriteError(c, server.Error(http.StatusNotFound, "not_found", "unknown payment"))
		return
	} else {
		err = rt.svc.Notify(c.Request.Context(), c.Param("gateway"), id, rt.callbackRequest(c, body))
	}
	switch {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"received": true})
	case errors.Is(err, checkout.ErrUnreadable):
		// Before ErrNotFound: an account-level webhook whose body cannot be
		// read names no payment, and the core wraps both.
		server.WriteError(c, server.Wrap(err, http.StatusBadRequest, "unreadable_callback", "the notification body could not be read"))
	case errors.Is(err, checkout.ErrNotFound):
		server.WriteError(c, server.Wrap(err, http.StatusNotFound, "not_found", "unknown payment"))
	case errors.Is(err, checkout.ErrBadSignature):
		server.WriteError(c, server.Wrap(err, http.StatusUnauthorized, "bad_signature", "signature did not verify"))
	default:
		server.WriteError(c, err)
	}
}
