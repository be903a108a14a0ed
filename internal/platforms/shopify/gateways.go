package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
)

// gatewayNames lists the gateways a merchant can pick: those registered
// with the core.
func (p *Platform) gatewayNames() []string {
	if p.svc == nil {
		return nil
	}
	return p.svc.GatewayNames()
}

// gatewayName is how people call the named gateway ("Checkout.com").
func (p *Platform) gatewayName(gateway string) string {
	if p.svc != nil {
		if caps, ok := p.svc.Capabilities(gateway); ok && caps.DisplayName != "" {
			return caps.DisplayName
		}
	}
	return gateway
}

// unsupported returns the merchant-readable reason of an
// *checkout.UnsupportedError in err's chain.
func unsupported(err error) (string, bool) {
	var ue *checkout.UnsupportedError
	if errors.As(err, &ue) {
		return ue.Reason, true
	}
	return "", false
}

// rejection is the outcome of rejecting one payment session, shared by the
// background rejection and the shopper's visit to the declined page.
type rejection struct {
	mu   sync.Mutex
	done bool
	url  string
}

// rejectionTTL is how long this process remembers a rejection's redirect.
const rejectionTTL = 10 * time.Minute

// rejectSessionOnce rejects the payment session gid with PROCESSING_ERROR
// and msg, once per process however many callers ask, and returns the
// redirect URL Shopify answered.
func (p *Platform) rejectSessionOnce(ctx context.Context, shop *checkout.Shop, gid, msg string) (string, error) {
	v, loaded := p.rejections.LoadOrStore(gid, &rejection{})
	if !loaded {
		time.AfterFunc(rejectionTTL, func() { p.rejections.Delete(gid) })
	}
	r := v.(*rejection)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return r.url, nil
	}
	var data map[string]sessionPayload
	vars := map[string]any{"id": gid, "reason": map[string]any{"code": "PROCESSING_ERROR", "merchantMessage": msg}}
	if err := p.graphql(ctx, shop, apiPayments, rejectMutation, vars, &data); err != nil {
		return "", err
	}
	pl := data["paymentSessionReject"]
	if err := userErrorsErr("paymentSessionReject", pl.UserErrors); err != nil {
		return "", err
	}
	r.done, r.url = true, pl.redirectURL()
	return r.url, nil
}

// declinedSig signs the declined page's parameters with the app secret, so
// that the page sends shoppers only where a genuine session said.
func (p *Platform) declinedSig(shop, gid, cancel, reason string) string {
	mac := hmac.New(sha256.New, []byte(p.cfg.APISecret))
	for _, s := range []string{"paybridge/shopify/declined", shop, gid, cancel, reason} {
		mac.Write([]byte(s))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// declinedURL is where a shopper goes whose payment session the shop's
// gateway cannot charge.
func (p *Platform) declinedURL(shop, gid, cancel, reason string) string {
	q := url.Values{"shop": {shop}, "gid": {gid}, "cancel": {cancel}, "reason": {reason}}
	q.Set("sig", p.declinedSig(shop, gid, cancel, reason))
	return p.cfg.PublicURL + "/shopify/declined?" + q.Encode()
}

// declinedWait bounds how long the declined page waits for Shopify.
const declinedWait = 5 * time.Second

// declined sends a shopper whose session was refused (a currency or an
// amount the gateway cannot charge) back to Shopify: to the redirect URL
// paymentSessionReject answers, or, when Shopify cannot be reached now,
// to the checkout (the session's cancel_url).
func (p *Platform) declined(c *gin.Context) {
	q := c.Request.URL.Query()
	shopDomain, gid, cancel, reason := q.Get("shop"), q.Get("gid"), q.Get("cancel"), q.Get("reason")
	want := p.declinedSig(shopDomain, gid, cancel, reason)
	if !ValidShop(shopDomain) || !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		c.String(http.StatusBadRequest, "This link is not valid.")
		return
	}
	c.Header("Cache-Control", "no-store")
	ctx, cancelCtx := context.WithTimeout(c.Request.Context(), declinedWait)
	defer cancelCtx()
	to := ""
	shop, err := p.db.ShopByDomain(ctx, checkout.PlatformShopify, shopDomain)
	if err == nil {
		to, err = p.rejectSessionOnce(ctx, shop, gid, reason)
	}
	if err != nil {
		p.log.WarnContext(ctx, "shopify: declined session: Shopify not told yet; the background rejection goes on", "session", gid, "err", err)
	}
	if to == "" {
		to = cancel
	}
	if u, perr := url.Parse(to); perr != nil || (u.Scheme != "https" && u.Scheme != "http") {
		c.String(http.StatusOK, "This payment method cannot take this order: "+reason+"\nGo back to the checkout and choose another payment method.")
		return
	}
	c.Redirect(http.StatusFound, to)
}

// unknownCredentials returns the names in creds that are none of the
// gateway's credential fields, sorted.
func unknownCredentials(caps checkout.Capabilities, creds map[string]string) []string {
	var out []string
	for k := range creds {
		if !slices.ContainsFunc(caps.Credentials, func(f checkout.CredentialField) bool { return f.Name == k }) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
