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
	"strings"
	"time"

	"github.com/gin-gonic/gin"

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
	// RefreshSeconds is how often the waiting page reloads. Default 3.
	RefreshSeconds int
	// Destinations decide, per platform, where a shopper goes next. A
	// platform without one sends the shopper to the payment's ReturnURL
	// when paid and CancelURL otherwise.
	Destinations map[string]Destination
	// Gates hold, per platform, a shopper at the pay URL until the
	// platform lets the payment go on to the gateway. A platform without
	// one lets every shopper through.
	Gates map[string]Gate
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

func lang(c *gin.Context, p *checkout.Payment) string {
	if p != nil && p.Language == "ar" {
		return "ar"
	}
	if p == nil && strings.HasPrefix(c.GetHeader("Accept-Language"), "ar") {
		return "ar"
	}
	return "en"
}

func (rt *Routes) load(c *gin.Context) (*checkout.Payment, bool) {
	id := c.Param("id")
	if !checkout.ValidID("pay", id) {
		server.RenderPage(c, http.StatusNotFound, server.ShopperPage(lang(c, nil), server.ShopperNotFound, "", ""))
		return nil, false
	}
	p, err := rt.svc.Payment(c.Request.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) {
		server.RenderPage(c, http.StatusNotFound, server.ShopperPage(lang(c, nil), server.ShopperNotFound, "", ""))
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
	server.RenderPage(c, status, server.ShopperPage(lang(c, p), server.ShopperError, "", link))
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
	page := server.ShopperPage(lang(c, p), server.ShopperChecking, rt.svc.PayURL(p.ID), "")
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
			server.RenderPage(c, http.StatusBadRequest, server.ShopperPage(lang(c, p), server.ShopperError, "", ""))
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
	l := lang(c, p)
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
		page := server.ShopperPage(l, server.ShopperPending, routes.WaitURL(rt.cfg.PublicURL, p.ID), "")
		page.RefreshSeconds = rt.cfg.RefreshSeconds
		server.RenderPage(c, http.StatusOK, page)
		return
	}
	switch p.Status {
	case checkout.StatusPaid:
		if p.ReturnURL != "" {
			c.Redirect(http.StatusFound, p.ReturnURL)
			return
		}
		server.RenderPage(c, http.StatusOK, server.ShopperPage(l, server.ShopperPaid, "", ""))
	case checkout.StatusFailed, checkout.StatusCanceled, checkout.StatusExpired:
		if p.CancelURL != "" {
			c.Redirect(http.StatusFound, p.CancelURL)
			return
		}
		kind := map[checkout.Status]server.ShopperPageKind{checkout.StatusFailed: server.ShopperFailed,
			checkout.StatusCanceled: server.ShopperCanceled, checkout.StatusExpired: server.ShopperExpired}[p.Status]
		server.RenderPage(c, http.StatusOK, server.ShopperPage(l, kind, "", ""))
	default:
		page := server.ShopperPage(l, server.ShopperPending, routes.WaitURL(rt.cfg.PublicURL, p.ID), "")
		page.RefreshSeconds = rt.cfg.RefreshSeconds
		server.RenderPage(c, http.StatusOK, page)
	}
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
