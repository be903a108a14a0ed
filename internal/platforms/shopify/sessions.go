package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
	"paybridge/internal/wire"
)

// Merchant messages of rejected sessions.
const (
	// MsgNoAuthorization follows the gateway's reason on capture and void
	// sessions: the payment was taken in full at checkout.
	MsgNoAuthorization = "Payments are captured in full at checkout, so there is nothing to capture or void. Refund the order instead."
)

// sessionRoutes serves the mTLS endpoints.
type sessionRoutes struct{ p *Platform }

// Register mounts the session endpoints (and the webhook endpoint).
func (r sessionRoutes) Register(g gin.IRouter) {
	g.POST(routes.ShopifyPaymentSessions, r.p.paymentSession)
	g.POST(routes.ShopifyRefundSessions, r.p.refundSession)
	g.POST(routes.ShopifyCaptureSessions, r.p.captureSession)
	g.POST(routes.ShopifyVoidSessions, r.p.voidSession)
	g.POST(routes.ShopifyWebhooks, r.p.webhook)
}

// SessionRoutes returns the routes to serve on the mTLS listener only.
func (p *Platform) SessionRoutes() server.Routes { return sessionRoutes{p} }

// decodeStrict decodes JSON with numbers kept as json.Number.
func decodeJSON(b []byte, v any) error { return wire.DecodeJSON(b, v) }

// sessionShop finds the shop a session request is for.
func (p *Platform) sessionShop(c *gin.Context) (*checkout.Shop, []byte, bool) {
	domain := c.GetHeader("Shopify-Shop-Domain")
	if !ValidShop(domain) {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_shop", "Shopify-Shop-Domain must be a *.myshopify.com domain"))
		return nil, nil, false
	}
	shop, err := p.db.ShopByDomain(c.Request.Context(), checkout.PlatformShopify, domain)
	if errors.Is(err, checkout.ErrNotFound) {
		server.WriteError(c, server.Error(http.StatusNotFound, "unknown_shop", "this shop has not installed the app"))
		return nil, nil, false
	}
	if err != nil {
		server.WriteError(c, err)
		return nil, nil, false
	}
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return nil, nil, false
	}
	return shop, body, true
}

type address struct {
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	PhoneNumber string `json:"phone_number"`
}

// PaymentSession is the body of a start-payment-session request.
type PaymentSession struct {
	ID             string `json:"id"`
	GID            string `json:"gid"`
	Group          string `json:"group"`
	SessionID      string `json:"session_id"`
	Amount         string `json:"amount"`
	Currency       string `json:"currency"`
	Test           bool   `json:"test"`
	MerchantLocale string `json:"merchant_locale"`
	Kind           string `json:"kind"`
	PaymentMethod  struct {
		Type string `json:"type"`
		Data struct {
			CancelURL string `json:"cancel_url"`
		} `json:"data"`
	} `json:"payment_method"`
	Customer struct {
		Email          string  `json:"email"`
		PhoneNumber    string  `json:"phone_number"`
		Locale         string  `json:"locale"`
		BillingAddress address `json:"billing_address"`
	} `json:"customer"`
}

func shopperLanguage(shop *checkout.Shop, locale string) string {
	switch l := shop.Settings[SettingLanguage]; l {
	case "en", "ar":
		return l
	}
	if strings.HasPrefix(strings.ToLower(locale), "ar") {
		return "ar"
	}
	return "en"
}

// paymentSession starts a payment: one payment per Shopify session id,
// however often Shopify retries, answered with our pay URL.
func (p *Platform) paymentSession(c *gin.Context) {
	shop, body, ok := p.sessionShop(c)
	if !ok {
		return
	}
	var in PaymentSession
	if err := decodeJSON(body, &in); err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusBadRequest, "invalid_json", "the session is not valid JSON"))
		return
	}
	if in.ID == "" || in.GID == "" || len(in.ID) > 100 {
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", "id and gid are required"))
		return
	}
	amount, err := checkout.ParseMoneyPadded(in.Amount, in.Currency)
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_amount", "amount: "+err.Error()))
		return
	}
	name := strings.TrimSpace(in.Customer.BillingAddress.GivenName + " " + in.Customer.BillingAddress.FamilyName)
	phone := in.Customer.PhoneNumber
	if phone == "" {
		phone = in.Customer.BillingAddress.PhoneNumber
	}
	kind := in.Kind
	if kind == "" {
		kind = "sale"
	}
	req := checkout.PaymentRequest{Fit: true,
		OrderID:       in.ID,
		Amount:        amount,
		Description:   "Shopify checkout " + in.ID,
		Language:      shopperLanguage(shop, in.Customer.Locale),
		PaymentMethod: shop.Settings[SettingPaymentMethod],
		Customer:      checkout.Customer{Name: name, Email: in.Customer.Email, Mobile: phone},
		Metadata: map[string]string{
			MetaMode: ModePaymentsApp, MetaShop: shop.Domain, MetaGID: in.GID, MetaGroup: in.Group,
			MetaKind: kind, MetaCancelURL: in.PaymentMethod.Data.CancelURL,
		},
	}
	// A currency or an amount the shop's gateway cannot charge exactly:
	// recorded as declined without any gateway call (see declineSession).
	if err := p.svc.CheckPayment(shop.Gateway.Gateway, amount); err != nil {
		if reason, ok := unsupported(err); ok {
			p.declineSession(c, shop, req, reason)
			return
		}
		server.WriteError(c, err)
		return
	}
	pay, _, err := p.svc.CreatePayment(c.Request.Context(), shop, checkout.PlatformShopify, req, "shopify")
	var ge *checkout.GatewayError
	reason, refused := unsupported(err)
	switch {
	case refused:
		p.declineSession(c, shop, req, reason)
	case err == nil, errors.As(err, &ge) && pay != nil:
		// A gateway failure leaves the payment without a charge: the pay
		// URL creates it when the shopper arrives.
		if err != nil {
			p.log.WarnContext(c.Request.Context(), "shopify: charge not created yet; the pay URL will retry", "payment", pay.ID, "err", err)
		}
		c.JSON(http.StatusCreated, gin.H{"redirect_url": p.svc.PayURL(pay.ID)})
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		server.WriteError(c, server.Wrap(err, http.StatusConflict, "session_conflict", "a session with this id exists with other details"))
	default:
		var ve *checkout.ValidationError
		if errors.As(err, &ve) {
			server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_field", ve.Error()))
			return
		}
		server.WriteError(c, err)
	}
}

// declineSession answers a session the shop's gateway cannot charge. The
// session is recorded as a payment failed from the start
// (checkout.Service.Decline: no gateway call, reason kept in
// Metadata[checkout.MetaDeclineReason]), so that its rejection goes
// through the durable store:sync ladder like any failed payment:
// SyncPayment sends paymentSessionReject with the reason, retried across
// restarts until Shopify takes it. Shopify gets our pay URL, which sends
// the shopper on to the redirect URL the rejection answers (see Next).
func (p *Platform) declineSession(c *gin.Context, shop *checkout.Shop, req checkout.PaymentRequest, reason string) {
	ctx := c.Request.Context()
	pay, err := p.svc.Decline(ctx, shop, checkout.PlatformShopify, req, reason, "shopify")
	if err != nil {
		// Nothing recorded: Shopify retries the session.
		server.WriteError(c, fmt.Errorf("shopify: decline session %s: %w", req.Metadata[MetaGID], err))
		return
	}
	p.log.InfoContext(ctx, "shopify: payment session declined before any gateway call",
		"shop", shop.Domain, "session", req.Metadata[MetaGID], "payment", pay.ID, "gateway", shop.Gateway.Gateway, "reason", reason)
	c.JSON(http.StatusCreated, gin.H{"redirect_url": p.svc.PayURL(pay.ID)})
}

// RefundSession is the body of a refund session request.
type RefundSession struct {
	ID        string `json:"id"`
	GID       string `json:"gid"`
	PaymentID string `json:"payment_id"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
}

// refundSession turns a refund session into a gateway refund referenced
// by the session id: a retried session gets the same refund. What cannot
// be refunded is rejected after the 201.
func (p *Platform) refundSession(c *gin.Context) {
	shop, body, ok := p.sessionShop(c)
	if !ok {
		return
	}
	var in RefundSession
	if err := decodeJSON(body, &in); err != nil || in.ID == "" || in.GID == "" || in.PaymentID == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_json", "id, gid and payment_id are required"))
		return
	}
	reject := func(msg string) {
		c.JSON(http.StatusCreated, gin.H{})
		p.later(func(ctx context.Context) error { return p.rejectRefundSession(ctx, shop, in.GID, msg) })
	}
	pay, err := p.db.PaymentByOrder(c.Request.Context(), shop.ID, in.PaymentID)
	if errors.Is(err, checkout.ErrNotFound) {
		reject("paybridge has no payment for this session")
		return
	}
	if err != nil {
		server.WriteError(c, err)
		return
	}
	amount, err := checkout.ParseMoneyPadded(in.Amount, in.Currency)
	if err != nil {
		reject("invalid refund amount: " + err.Error())
		return
	}
	_, _, err = p.svc.CreateRefund(c.Request.Context(), pay.ID, checkout.RefundRequest{Amount: amount, Reason: "Shopify refund session " + in.ID,
		Source: checkout.PlatformShopify, Reference: in.ID})
	var ve *checkout.ValidationError
	switch {
	case err == nil:
		c.JSON(http.StatusCreated, gin.H{})
	case errors.Is(err, checkout.ErrUnsupported):
		// No refunds, no partial or no second refund at this gateway:
		// refused before any gateway call, with the gateway's reason.
		reason, _ := unsupported(err)
		reject(reason)
	case errors.Is(err, checkout.ErrRefundExceeds), errors.Is(err, checkout.ErrNotPaid), errors.As(err, &ve),
		errors.Is(err, checkout.ErrIdempotencyConflict):
		reject(err.Error())
	default:
		server.WriteError(c, err)
	}
}

// captureSession and voidSession: every payment is charged as a sale (an
// "authorization" session included), so neither can succeed; they are
// rejected with the payment's gateway's reason when it cannot authorize
// and capture later (checkout.FeatureCapture), and MsgNoAuthorization.
func (p *Platform) captureSession(c *gin.Context) { p.rejectSession(c, "captureSessionReject") }

func (p *Platform) voidSession(c *gin.Context) { p.rejectSession(c, "voidSessionReject") }

func (p *Platform) rejectSession(c *gin.Context, mutation string) {
	shop, body, ok := p.sessionShop(c)
	if !ok {
		return
	}
	var in struct {
		ID        string `json:"id"`
		GID       string `json:"gid"`
		PaymentID string `json:"payment_id"`
	}
	if err := decodeJSON(body, &in); err != nil || in.GID == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_json", "gid is required"))
		return
	}
	msg := p.noCaptureMessage(c.Request.Context(), shop, in.PaymentID)
	c.JSON(http.StatusCreated, gin.H{})
	p.later(func(ctx context.Context) error {
		return p.paaReject(ctx, shop, mutation, in.GID, msg)
	})
}

// noCaptureMessage says why a capture or void session is rejected: the
// reason of the gateway that took the payment (the shop's when the
// payment is unknown) when it cannot authorize and capture later, then
// MsgNoAuthorization.
func (p *Platform) noCaptureMessage(ctx context.Context, shop *checkout.Shop, sessionID string) string {
	gateway := shop.Gateway.Gateway
	if sessionID != "" {
		if pay, err := p.db.PaymentByOrder(ctx, shop.ID, sessionID); err == nil {
			gateway = pay.Gateway
		}
	}
	if err := p.svc.Supports(gateway, checkout.FeatureCapture); err != nil {
		if reason, ok := unsupported(err); ok {
			return reason + ". " + MsgNoAuthorization
		}
	}
	return "paybridge charges payments as sales. " + MsgNoAuthorization
}

// later runs fn after the answer, with retries for a few minutes, in this
// process only: refund, capture and void session rejections have no row of
// their own for the job ladder to follow (a refused payment session does:
// see declineSession).
func (p *Platform) later(fn func(ctx context.Context) error) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		delay := 500 * time.Millisecond
		for {
			err := fn(ctx)
			if err == nil || checkout.IsPermanent(err) {
				if err != nil {
					p.log.Error("shopify: session rejection refused", "err", err)
				}
				return
			}
			var ra *checkout.RetryAfterError
			d := delay
			if errors.As(err, &ra) && ra.After > d {
				d = ra.After
			}
			p.log.Warn("shopify: session rejection failed; retrying", "in", d, "err", err)
			select {
			case <-ctx.Done():
				p.log.Error("shopify: session rejection given up", "err", err)
				return
			case <-time.After(d):
			}
			delay = min(delay*2, 30*time.Second)
		}
	}()
}

// gidOf builds a session gid from its kind and id ("RefundSession").
func gidOf(kind, id string) string { return fmt.Sprintf("gid://shopify/%s/%s", kind, id) }
