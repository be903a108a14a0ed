package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"

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
	g.POST(routes.ShopifyConfirmSessions, r.p.confirmationResult)
	g.POST(routes.ShopifyWebhooks, r.p.webhook)
}

// SessionRoutes returns the routes to serve on the mTLS listener only.
func (p *Platform) SessionRoutes() server.Routes { return sessionRoutes{p} }

// decodeJSON decodes JSON with numbers kept as json.Number.
func decodeJSON(b []byte, v any) error { return wire.DecodeJSON(b, v) }

// MinAPIVersion is the oldest Payments Apps API version a session request
// may name in Shopify-Api-Version: the bridge's queries are written for it
// and every later stable version.
const MinAPIVersion = "2025-07"

// apiVersionRe is a stable quarterly API version ("2026-07").
var apiVersionRe = regexp.MustCompile(`^20[0-9]{2}-(01|04|07|10)$`)

// checkAPIVersion checks a session request's Shopify-Api-Version: a
// stable quarterly version, MinAPIVersion or later. The version fixes the
// answer Shopify expects and is used for the session's mutations.
func checkAPIVersion(v string) error {
	switch {
	case v == "":
		return errors.New("Shopify-Api-Version is required")
	case !apiVersionRe.MatchString(v):
		return fmt.Errorf("Shopify-Api-Version %q is not a stable API version (YYYY-01, -04, -07 or -10)", v)
	case v < MinAPIVersion:
		return fmt.Errorf("Shopify-Api-Version %s is older than %s, the oldest this bridge supports: update the payments extension's api_version", v, MinAPIVersion)
	}
	return nil
}

// sessionReq is a checked session request: its shop, body and Shopify's
// headers, and a logger carrying them.
type sessionReq struct {
	shop       *checkout.Shop
	body       []byte
	apiVersion string
	requestID  string
	log        *slog.Logger
}

// sessionShop checks a session request's headers (Shopify-Api-Version,
// Shopify-Request-Id, Shopify-Shop-Domain) and finds its shop.
func (p *Platform) sessionShop(c *gin.Context, kind string) (sessionReq, bool) {
	r := sessionReq{apiVersion: c.GetHeader("Shopify-Api-Version"), requestID: c.GetHeader("Shopify-Request-Id")}
	domain := c.GetHeader("Shopify-Shop-Domain")
	r.log = p.log.With("session_kind", kind, "shop", domain, "shopify_request_id", r.requestID, "api_version", r.apiVersion)
	if err := checkAPIVersion(r.apiVersion); err != nil {
		r.log.WarnContext(c.Request.Context(), "shopify: session request refused", "err", err)
		server.WriteError(c, server.Wrap(err, http.StatusBadRequest, "unsupported_api_version", err.Error()))
		return r, false
	}
	if r.requestID == "" || len(r.requestID) > 200 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_request_id", "Shopify-Request-Id is required (at most 200 characters)"))
		return r, false
	}
	if !ValidShop(domain) {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_shop", "Shopify-Shop-Domain must be a *.myshopify.com domain"))
		return r, false
	}
	shop, err := p.db.ShopByDomain(c.Request.Context(), checkout.PlatformShopify, domain)
	if errors.Is(err, checkout.ErrNotFound) {
		server.WriteError(c, server.Error(http.StatusNotFound, "unknown_shop", "this shop has not installed the app"))
		return r, false
	}
	if err != nil {
		server.WriteError(c, err)
		return r, false
	}
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return r, false
	}
	r.shop, r.body = shop, body
	return r, true
}

// EventSessionRequest records one session request Shopify sent about a
// payment (a retry is recorded again): its kind, the session id, and
// Shopify's Shopify-Request-Id and Shopify-Api-Version.
const EventSessionRequest = "shopify_session_request"

// recordRequest puts the request on the payment's audit trail and keeps
// its API version on the payment (MetaAPIVersion), for the mutations that
// answer it.
func (p *Platform) recordRequest(ctx context.Context, r sessionReq, pay *checkout.Payment, kind, sessionID string) error {
	d, _ := json.Marshal(map[string]string{"session": kind, "id": sessionID, "shopify_request_id": r.requestID, "api_version": r.apiVersion})
	if err := p.svc.RecordEvents(ctx, checkout.Event{PaymentID: pay.ID, Kind: EventSessionRequest, Source: "shopify", Detail: d}); err != nil {
		return fmt.Errorf("shopify: record the %s session request on %s: %w", kind, pay.ID, err)
	}
	if pay.Metadata[MetaAPIVersion] != r.apiVersion {
		if _, err := p.svc.Annotate(ctx, pay.ID, map[string]string{MetaAPIVersion: r.apiVersion}, "shopify"); err != nil {
			return fmt.Errorf("shopify: record the API version of %s: %w", pay.ID, err)
		}
	}
	return nil
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

// accountRefusal says why the shop's gateway account cannot take a
// checkout, or "". A shop holds one gateway account, sandbox or live
// (GatewayAccount.Sandbox): a test checkout (Shopify's test flag, from a
// development store or the payments app's test mode) is charged only on
// a sandbox account and a real one only on a live account, so that no
// real order is ever resolved from a sandbox payment and no test
// checkout charges a real card. An account without the credentials its
// gateway requires takes nothing.
func (p *Platform) accountRefusal(shop *checkout.Shop, test bool) string {
	acct := shop.Gateway
	name := p.gatewayName(acct.Gateway)
	caps, ok := p.svc.Capabilities(acct.Gateway)
	switch {
	case !ok:
		return "the shop's payment gateway " + acct.Gateway + " is not available"
	case caps.CheckCredentials(acct.Credentials) != nil:
		return "the shop has not entered its " + name + " credentials in the paybridge app's settings"
	case test && !acct.Sandbox:
		return "this is a test checkout, and the shop's " + name + " account is live: test checkouts are charged only on a sandbox account (tick Sandbox in the paybridge app's settings, with sandbox credentials)"
	case !test && acct.Sandbox:
		return "the shop's " + name + " account is a sandbox (test) account, which cannot take a real checkout: untick Sandbox and enter the live credentials in the paybridge app's settings"
	}
	return ""
}

// paymentSession starts a payment: one payment per Shopify session id,
// however often Shopify retries, answered with our pay URL.
func (p *Platform) paymentSession(c *gin.Context) {
	r, ok := p.sessionShop(c, "payment")
	if !ok {
		return
	}
	shop := r.shop
	var in PaymentSession
	if err := decodeJSON(r.body, &in); err != nil {
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
			// The API version is not part of the request Shopify may retry
			// (recordRequest keeps it on the payment).
			MetaTest: strconv.FormatBool(in.Test),
		},
	}
	// A session recorded before (Shopify retries) is answered as it was,
	// whatever the account's state now: a declined one at once, one that
	// was taken by CreatePayment, which also refuses other details.
	existing, err := p.db.PaymentByOrder(c.Request.Context(), shop.ID, in.ID)
	switch {
	case err == nil && existing.Metadata[checkout.MetaDeclineReason] != "":
		p.answerSession(c, r, existing, nil)
		return
	case err == nil:
	case !errors.Is(err, checkout.ErrNotFound):
		server.WriteError(c, err)
		return
	default:
		// An account that cannot take this checkout (test flag,
		// credentials), or a currency or an amount the shop's gateway
		// cannot charge exactly: recorded as declined without any gateway
		// call (see declineSession).
		if reason := p.accountRefusal(shop, in.Test); reason != "" {
			p.declineSession(c, r, req, reason)
			return
		}
		if err := p.svc.CheckPayment(shop.Gateway.Gateway, amount); err != nil {
			if reason, ok := unsupported(err); ok {
				p.declineSession(c, r, req, reason)
				return
			}
			server.WriteError(c, err)
			return
		}
	}
	pay, _, err := p.svc.CreatePayment(c.Request.Context(), shop, checkout.PlatformShopify, req, "shopify")
	var ge *checkout.GatewayError
	reason, refused := unsupported(err)
	switch {
	case refused:
		p.declineSession(c, r, req, reason)
	case errors.Is(err, checkout.ErrShopDisabled):
		// Rejected with the reason, through the same durable path.
		p.declineSession(c, r, req, shopDisabledReason)
	case err == nil, errors.As(err, &ge) && pay != nil:
		p.answerSession(c, r, pay, err)
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

// shopDisabledReason is the rejection of a payment session of a shop an
// operator disabled (checkout.ErrShopDisabled).
const shopDisabledReason = "this shop is disabled on paybridge, so it cannot start new payments (payments started before are still completed)"

// answerSession records the request on the payment and answers Shopify
// with the pay URL. A gateway failure (chargeErr) leaves the payment
// without a charge: the pay URL creates it when the shopper arrives.
func (p *Platform) answerSession(c *gin.Context, r sessionReq, pay *checkout.Payment, chargeErr error) {
	ctx := c.Request.Context()
	if chargeErr != nil {
		r.log.WarnContext(ctx, "shopify: charge not created yet; the pay URL will retry", "payment", pay.ID, "err", chargeErr)
	}
	if err := p.recordRequest(ctx, r, pay, "payment", pay.OrderID); err != nil {
		server.WriteError(c, err)
		return
	}
	r.log.InfoContext(ctx, "shopify: payment session answered", "payment", pay.ID, "status", pay.Status)
	c.JSON(http.StatusCreated, gin.H{"redirect_url": p.svc.PayURL(pay.ID)})
}

// declineSession answers a session the shop's gateway cannot charge. The
// session is recorded as a payment failed from the start
// (checkout.Service.Decline: no gateway call, reason kept in
// Metadata[checkout.MetaDeclineReason]), so that its rejection goes
// through the durable store:sync ladder like any failed payment:
// SyncPayment sends paymentSessionReject with the reason, retried across
// restarts until Shopify takes it. Shopify gets our pay URL, which sends
// the shopper on to the redirect URL the rejection answers (see Next).
func (p *Platform) declineSession(c *gin.Context, r sessionReq, req checkout.PaymentRequest, reason string) {
	ctx := c.Request.Context()
	// The version goes in with the record: its sync may run before
	// recordRequest below.
	req.Metadata = maps.Clone(req.Metadata)
	req.Metadata[MetaAPIVersion] = r.apiVersion
	pay, err := p.svc.Decline(ctx, r.shop, checkout.PlatformShopify, req, reason, "shopify")
	if err != nil {
		// Nothing recorded: Shopify retries the session.
		server.WriteError(c, fmt.Errorf("shopify: decline session %s: %w", req.Metadata[MetaGID], err))
		return
	}
	r.log.InfoContext(ctx, "shopify: payment session declined before any gateway call",
		"session", req.Metadata[MetaGID], "payment", pay.ID, "gateway", r.shop.Gateway.Gateway, "reason", reason)
	if err := p.recordRequest(ctx, r, pay, "payment", pay.OrderID); err != nil {
		server.WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"redirect_url": p.svc.PayURL(pay.ID)})
}

// refundReason starts the Reason of a refund made for a refund session; a
// refund declined before any gateway call (DeclineRefund) has its refusal
// as Reason instead.
const refundReason = "Shopify refund session "

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
// be refunded is recorded as a refund failed from the start
// (checkout.Service.DeclineRefund), whose rejection SyncRefund sends
// through the durable store:sync ladder; a session for a payment paybridge
// does not know is recorded as a session rejection (rejectDurably).
func (p *Platform) refundSession(c *gin.Context) {
	r, ok := p.sessionShop(c, "refund")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var in RefundSession
	if err := decodeJSON(r.body, &in); err != nil || in.ID == "" || in.GID == "" || in.PaymentID == "" || len(in.ID) > 100 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_json", "id, gid and payment_id are required"))
		return
	}
	pay, err := p.db.PaymentByOrder(ctx, r.shop.ID, in.PaymentID)
	if errors.Is(err, checkout.ErrNotFound) {
		p.rejectDurably(c, r, "refundSessionReject", "refund", in.ID, in.GID, in.Amount, in.Currency, "paybridge has no payment for this session")
		return
	}
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if err := p.recordRequest(ctx, r, pay, "refund", in.ID); err != nil {
		server.WriteError(c, err)
		return
	}
	req := checkout.RefundRequest{Reason: refundReason + in.ID, Source: checkout.PlatformShopify, Reference: in.ID}
	decline := func(reason string) {
		ref, err := p.svc.DeclineRefund(ctx, pay.ID, req, reason)
		if err != nil {
			server.WriteError(c, err) // nothing recorded: Shopify retries
			return
		}
		r.log.InfoContext(ctx, "shopify: refund session declined before any gateway call", "payment", pay.ID, "refund", ref.ID, "reason", reason)
		c.JSON(http.StatusCreated, gin.H{})
	}
	amount, err := checkout.ParseMoneyPadded(in.Amount, in.Currency)
	if err != nil {
		decline("invalid refund amount: " + err.Error())
		return
	}
	req.Amount = amount
	_, _, err = p.svc.CreateRefund(ctx, pay.ID, req)
	var ve *checkout.ValidationError
	switch {
	case err == nil:
		r.log.InfoContext(ctx, "shopify: refund session accepted", "payment", pay.ID, "amount", amount.String(), "currency", amount.Currency)
		c.JSON(http.StatusCreated, gin.H{})
	case errors.Is(err, checkout.ErrUnsupported):
		// No refunds, no partial or no second refund at this gateway:
		// refused before any gateway call, with the gateway's reason.
		reason, _ := unsupported(err)
		decline(reason)
	case errors.Is(err, checkout.ErrRefundExceeds), errors.Is(err, checkout.ErrNotPaid), errors.As(err, &ve):
		decline(err.Error())
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		// A refund with this session id exists for another amount: refused
		// like a payment session retried with other details; the first
		// refund's outcome answers the session.
		r.log.WarnContext(ctx, "shopify: refund session retried with another amount", "payment", pay.ID, "err", err)
		server.WriteError(c, server.Wrap(err, http.StatusConflict, "session_conflict", "a refund session with this id exists with another amount"))
	default:
		server.WriteError(c, err)
	}
}

// captureSession and voidSession: every payment is charged as a sale (an
// "authorization" session included), so neither can succeed; they are
// rejected with the payment's gateway's reason when it cannot authorize
// and capture later (checkout.FeatureCapture), and MsgNoAuthorization.
func (p *Platform) captureSession(c *gin.Context) {
	p.rejectSession(c, "capture", "captureSessionReject")
}

func (p *Platform) voidSession(c *gin.Context) { p.rejectSession(c, "void", "voidSessionReject") }

func (p *Platform) rejectSession(c *gin.Context, kind, mutation string) {
	r, ok := p.sessionShop(c, kind)
	if !ok {
		return
	}
	var in struct {
		ID        string `json:"id"`
		GID       string `json:"gid"`
		PaymentID string `json:"payment_id"`
		Amount    string `json:"amount"`
		Currency  string `json:"currency"`
	}
	if err := decodeJSON(r.body, &in); err != nil || in.ID == "" || in.GID == "" || len(in.ID) > 100 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_json", "id and gid are required"))
		return
	}
	ctx := c.Request.Context()
	if in.PaymentID != "" {
		if pay, err := p.db.PaymentByOrder(ctx, r.shop.ID, in.PaymentID); err == nil {
			if err := p.recordRequest(ctx, r, pay, kind, in.ID); err != nil {
				server.WriteError(c, err)
				return
			}
		}
	}
	msg := p.noCaptureMessage(ctx, r.shop, in.PaymentID)
	p.rejectDurably(c, r, mutation, kind, in.ID, in.GID, in.Amount, in.Currency, msg)
}

// rejectDurably records a session paybridge rejects that has no payment
// or refund row of its own (a capture or void session, a refund session
// for an unknown payment) as a session rejection: a record failed from
// the start (checkout.Service.Decline, order id "{kind}:{session id}",
// ModeSessionReject) whose sync sends the mutation with the reason,
// through the store:sync ladder, across restarts. It is not a payment:
// no money moved, and the merchant's list shows it as failed with its
// reason.
func (p *Platform) rejectDurably(c *gin.Context, r sessionReq, mutation, kind, id, gid, amount, currency, reason string) {
	ctx := c.Request.Context()
	m, err := checkout.ParseMoneyPadded(amount, currency)
	if err != nil {
		m = checkout.Money{Currency: "XXX"} // unreadable: zero in ISO 4217's "no currency"
	}
	req := checkout.PaymentRequest{OrderID: kind + ":" + id, Amount: m, Description: "Shopify " + kind + " session " + id + " rejected",
		Language: "en", Metadata: map[string]string{MetaMode: ModeSessionReject, MetaShop: r.shop.Domain, MetaGID: gid,
			MetaRejectMutation: mutation, MetaAPIVersion: r.apiVersion}}
	rec, err := p.svc.Decline(ctx, r.shop, checkout.PlatformShopify, req, reason, "shopify")
	if err != nil {
		server.WriteError(c, fmt.Errorf("shopify: record the rejection of %s: %w", gid, err)) // Shopify retries
		return
	}
	if err := p.recordRequest(ctx, r, rec, kind, id); err != nil {
		server.WriteError(c, err)
		return
	}
	r.log.InfoContext(ctx, "shopify: session rejected", "session", gid, "record", rec.ID, "reason", reason)
	c.JSON(http.StatusCreated, gin.H{})
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

// gidOf builds a session gid from its kind and id ("RefundSession").
func gidOf(kind, id string) string { return fmt.Sprintf("gid://shopify/%s/%s", kind, id) }
