// Package api is the generic JSON platform: custom storefronts and ERPs
// create payments with a shop API key, send the shopper to pay_url, and
// learn the result from a callback signed per the Standard Webhooks spec.
//
// Routes (all under /api/v1, Authorization: Bearer <shop api key>):
//
//	POST /payments               create (idempotent on order_id) → 201, or 200 for a repeat
//	GET  /payments/{id}          the payment with its audit events
//	POST /payments/{id}/refunds  refund all or part → 201 (200 for a repeated reference)
//	GET  /payments/{id}/refunds  the payment's refunds
//	DELETE /customers/{unique_id}/cards  forget the customer's saved cards
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
)

// Shops is what the API needs from the shop store.
type Shops interface {
	ShopByAPIKeyHash(ctx context.Context, hash string) (*checkout.Shop, error)
}

// API serves the generic platform's routes.
type API struct {
	svc   *checkout.Service
	shops Shops
}

// New returns the API over the core service and the shop store.
func New(svc *checkout.Service, shops Shops) *API { return &API{svc: svc, shops: shops} }

// Register mounts the routes.
func (a *API) Register(r gin.IRouter) {
	g := r.Group(routes.APIGroup, a.authenticate)
	g.POST(routes.APIPayments, a.createPayment)
	g.GET(routes.APIPayment, a.getPayment)
	g.POST(routes.APIRefunds, a.createRefund)
	g.GET(routes.APIRefunds, a.listRefunds)
	g.DELETE(routes.APICustomerCards, a.forgetCards)
}

// forgetCards forgets the saved-card tokens of the shop's customer
// unique_id: the gateway page stops showing their cards. It answers 200
// with how many tokens went (0 for a customer the bridge never saw).
func (a *API) forgetCards(c *gin.Context) {
	id := c.Param("unique_id")
	if strings.TrimSpace(id) == "" || len([]rune(id)) > checkout.MaxCustomerIDLen {
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field",
			fmt.Sprintf("unique_id: 1 to %d characters", checkout.MaxCustomerIDLen)))
		return
	}
	n, err := a.svc.ForgetCustomer(c.Request.Context(), shopOf(c), id, "api")
	if err != nil {
		server.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"unique_id": id, "tokens_forgotten": n})
}

// HashAPIKey is how API keys are stored: hex SHA-256. Keys carry 192 random
// bits, so a plain hash is enough (no password stretching needed).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewCredentials returns a fresh API key ("pbk_…") and webhook secret
// ("whsec_" + base64 of 32 random bytes, as Standard Webhooks expects).
func NewCredentials() (apiKey, webhookSecret string) {
	var k [24]byte
	var w [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic(err)
	}
	if _, err := rand.Read(w[:]); err != nil {
		panic(err)
	}
	return "pbk_" + base64.RawURLEncoding.EncodeToString(k[:]), "whsec_" + base64.StdEncoding.EncodeToString(w[:])
}

const shopKey = "paybridge.shop"

func (a *API) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		c.Header("WWW-Authenticate", `Bearer realm="paybridge"`)
		server.WriteError(c, server.Error(http.StatusUnauthorized, "unauthorized", "missing bearer API key"))
		c.Abort()
		return
	}
	shop, err := a.shops.ShopByAPIKeyHash(c.Request.Context(), HashAPIKey(strings.TrimSpace(key)))
	if err != nil || shop.Platform != checkout.PlatformAPI {
		if err != nil && !errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, err)
		} else {
			c.Header("WWW-Authenticate", `Bearer realm="paybridge", error="invalid_token"`)
			server.WriteError(c, server.Error(http.StatusUnauthorized, "unauthorized", "API key not recognised"))
		}
		c.Abort()
		return
	}
	c.Set(shopKey, shop)
	c.Next()
}

func shopOf(c *gin.Context) *checkout.Shop { return c.MustGet(shopKey).(*checkout.Shop) }

type customerIn struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Mobile   string `json:"mobile"`
	UniqueID string `json:"unique_id"`
}

type productIn struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       string `json:"price"`
	Quantity    int    `json:"quantity"`
}

type createIn struct {
	OrderID       string      `json:"order_id"`
	Amount        string      `json:"amount"`
	Currency      string      `json:"currency"`
	Description   string      `json:"description"`
	Language      string      `json:"language"`
	PaymentMethod string      `json:"payment_method"`
	Customer      customerIn  `json:"customer"`
	Products      []productIn `json:"products"`
	ReturnURL     string      `json:"return_url"`
	CancelURL     string      `json:"cancel_url"`
	CallbackURL   string      `json:"callback_url"`
	Reference     string      `json:"reference"`
	ExtraData     string      `json:"extra_data"`
	SaveCard      bool        `json:"save_card"`
	Invoice       *invoiceIn  `json:"invoice"`
	Splits        []splitIn   `json:"splits"`
}

type invoiceIn struct {
	Notify string `json:"notify"`
}

type splitIn struct {
	IBAN           string `json:"iban"`
	Amount         string `json:"amount"`
	KNETCharge     string `json:"knet_charge"`
	KNETChargeType string `json:"knet_charge_type"`
	CCCharge       string `json:"cc_charge"`
	CCChargeType   string `json:"cc_charge_type"`
}

// methodInvoice is the payment_method that asks for an invoice (seed 000's
// paymentGateway.src create-invoice): with "invoice": {"notify": …}, or a
// link only.
const methodInvoice = "create-invoice"

// decode reads a JSON body strictly: one object, no unknown fields, no
// trailing data, amounts as strings. Errors say which field is wrong.
func decode(c *gin.Context, v any) error {
	body, err := server.ReadBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return server.Error(http.StatusBadRequest, "malformed_json", "request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg := fmt.Sprintf("%s: must be a %s", te.Field, te.Type)
			if te.Type.Kind().String() == "string" {
				msg = fmt.Sprintf("%s: must be a JSON string (amounts are decimal strings such as \"12.345\")", te.Field)
			}
			return server.Error(http.StatusUnprocessableEntity, "invalid_field", msg)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return server.Error(http.StatusUnprocessableEntity, "unknown_field", strings.TrimPrefix(err.Error(), "json: "))
		}
		return server.Wrap(err, http.StatusBadRequest, "malformed_json", "request body is not valid JSON: "+err.Error())
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(body, " \t\r\n"))) {
		if _, err := dec.Token(); err != io.EOF {
			return server.Error(http.StatusBadRequest, "malformed_json", "request body has data after the JSON object")
		}
	}
	return nil
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return server.Error(http.StatusUnprocessableEntity, "missing_field", field+": is required")
	}
	return nil
}

func parseAmount(field, amount, currency string) (checkout.Money, error) {
	m, err := checkout.ParseMoney(amount, currency)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, checkout.ErrUnknownCurrency):
		return m, server.Error(http.StatusUnprocessableEntity, "unknown_currency", fmt.Sprintf("currency: %q is not an ISO 4217 currency code", currency))
	case errors.Is(err, checkout.ErrTooPrecise):
		return m, server.Error(http.StatusUnprocessableEntity, "amount_too_precise", field+": "+err.Error())
	default:
		return m, server.Error(http.StatusUnprocessableEntity, "invalid_amount", field+": "+err.Error())
	}
}

func (a *API) createPayment(c *gin.Context) {
	var in createIn
	if err := decode(c, &in); err != nil {
		server.WriteError(c, err)
		return
	}
	for _, f := range []struct{ name, v string }{{"order_id", in.OrderID}, {"amount", in.Amount}, {"currency", in.Currency}} {
		if err := required(f.name, f.v); err != nil {
			server.WriteError(c, err)
			return
		}
	}
	amount, err := parseAmount("amount", in.Amount, in.Currency)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	req := checkout.PaymentRequest{
		OrderID: in.OrderID, Amount: amount, Description: in.Description, Language: in.Language,
		PaymentMethod: in.PaymentMethod,
		Customer:      checkout.Customer{Name: in.Customer.Name, Email: in.Customer.Email, Mobile: in.Customer.Mobile, UniqueID: in.Customer.UniqueID},
		ReturnURL:     in.ReturnURL, CancelURL: in.CancelURL, CallbackURL: in.CallbackURL,
		Options: checkout.Options{Reference: in.Reference, ExtraData: in.ExtraData, SaveCard: in.SaveCard},
	}
	if in.PaymentMethod == methodInvoice || in.Invoice != nil {
		if in.PaymentMethod != methodInvoice && in.PaymentMethod != "" {
			server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field",
				`invoice: goes with "payment_method": "create-invoice" (or none), not "`+in.PaymentMethod+`"`))
			return
		}
		req.PaymentMethod = ""
		req.Options.Invoice = &checkout.Invoice{Notify: checkout.NotifyLink}
		if in.Invoice != nil {
			req.Options.Invoice.Notify = in.Invoice.Notify
		}
	}
	for i, sp := range in.Splits {
		split, err := parseSplit(i, sp, in.Currency)
		if err != nil {
			server.WriteError(c, err)
			return
		}
		req.Options.Splits = append(req.Options.Splits, split)
	}
	shop := shopOf(c)
	if caps, _ := a.svc.Capabilities(shop.Gateway.Gateway); caps.RequiresContact {
		// UPayments marks customer name, e-mail and mobile mandatory
		// (seed 000); a merchant's backend has them, a store flow may not.
		if err := required("customer.name", in.Customer.Name); err != nil {
			server.WriteError(c, err)
			return
		}
		if strings.TrimSpace(in.Customer.Email) == "" && strings.TrimSpace(in.Customer.Mobile) == "" {
			server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "missing_field",
				"customer.email or customer.mobile: one is required by "+caps.DisplayName))
			return
		}
	}
	for i, p := range in.Products {
		price, err := parseAmount(fmt.Sprintf("products[%d].price", i), p.Price, in.Currency)
		if err != nil {
			server.WriteError(c, err)
			return
		}
		if err := required(fmt.Sprintf("products[%d].name", i), p.Name); err != nil {
			server.WriteError(c, err)
			return
		}
		req.Products = append(req.Products, checkout.Product{Name: p.Name, Description: p.Description, Price: price, Quantity: p.Quantity})
	}
	p, events, created, err := a.svc.CreatePaymentEvents(c.Request.Context(), shop, checkout.PlatformAPI, req, "api")
	if err != nil {
		server.WriteError(c, serviceError(err))
		return
	}
	if created {
		// A new payment's events are the ones just written.
		c.JSON(http.StatusCreated, NewPaymentJSON(p, a.svc.PayURL(p.ID), events))
		return
	}
	a.writePayment(c, http.StatusOK, p)
}

// parseSplit reads one vendor share; its amount and fixed charges are
// decimal strings in the payment's currency.
func parseSplit(i int, in splitIn, currency string) (checkout.Split, error) {
	field := func(f string) string { return fmt.Sprintf("splits[%d].%s", i, f) }
	if err := required(field("amount"), in.Amount); err != nil {
		return checkout.Split{}, err
	}
	amount, err := parseAmount(field("amount"), in.Amount, currency)
	if err != nil {
		return checkout.Split{}, err
	}
	for _, ch := range []struct{ name, v, typ string }{{"knet_charge", in.KNETCharge, in.KNETChargeType}, {"cc_charge", in.CCCharge, in.CCChargeType}} {
		if (ch.v == "") != (ch.typ == "") {
			return checkout.Split{}, server.Error(http.StatusUnprocessableEntity, "invalid_field",
				field(ch.name)+": give both the charge and its type (fixed or percentage), or neither")
		}
	}
	return checkout.Split{IBAN: in.IBAN, Amount: amount,
		KNETCharge: checkout.Commission{Type: in.KNETChargeType, Value: in.KNETCharge},
		CardCharge: checkout.Commission{Type: in.CCChargeType, Value: in.CCCharge}}, nil
}

func (a *API) writePayment(c *gin.Context, status int, p *checkout.Payment) {
	events, err := a.svc.Events(c.Request.Context(), p.ID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	c.JSON(status, NewPaymentJSON(p, a.svc.PayURL(p.ID), events))
}

// payment loads the path's payment and checks it belongs to the caller.
func (a *API) payment(c *gin.Context) (*checkout.Payment, bool) {
	id := c.Param("id")
	notFound := server.Error(http.StatusNotFound, "not_found", "no payment "+id+" for this shop")
	if !checkout.ValidID("pay", id) {
		server.WriteError(c, notFound)
		return nil, false
	}
	p, err := a.svc.Payment(c.Request.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) || (err == nil && p.ShopID != shopOf(c).ID) {
		server.WriteError(c, notFound)
		return nil, false
	}
	if err != nil {
		server.WriteError(c, err)
		return nil, false
	}
	return p, true
}

func (a *API) getPayment(c *gin.Context) {
	if p, ok := a.payment(c); ok {
		a.writePayment(c, http.StatusOK, p)
	}
}

type refundIn struct {
	Amount string `json:"amount"`
	Reason string `json:"reason"`
	// Reference is optional: the merchant's id for this refund. A retry
	// with the same reference returns the first refund (200) instead of
	// refunding twice.
	Reference string `json:"reference"`
	// Splits say how much each vendor of a split payment refunds.
	Splits []refundSplitIn `json:"splits"`
}

type refundSplitIn struct {
	IBAN   string `json:"iban"`
	Amount string `json:"amount"`
}

func (a *API) createRefund(c *gin.Context) {
	p, ok := a.payment(c)
	if !ok {
		return
	}
	var in refundIn
	if err := decode(c, &in); err != nil {
		server.WriteError(c, err)
		return
	}
	if err := required("amount", in.Amount); err != nil {
		server.WriteError(c, err)
		return
	}
	amount, err := parseAmount("amount", in.Amount, p.Amount.Currency)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	req := checkout.RefundRequest{Amount: amount, Reason: in.Reason, Source: "api", Reference: in.Reference}
	for i, s := range in.Splits {
		field := fmt.Sprintf("splits[%d].amount", i)
		if err := required(field, s.Amount); err != nil {
			server.WriteError(c, err)
			return
		}
		m, err := parseAmount(field, s.Amount, p.Amount.Currency)
		if err != nil {
			server.WriteError(c, err)
			return
		}
		req.Splits = append(req.Splits, checkout.RefundSplit{IBAN: s.IBAN, Amount: m})
	}
	r, created, err := a.svc.CreateRefund(c.Request.Context(), p.ID, req)
	if err != nil {
		if errors.Is(err, checkout.ErrIdempotencyConflict) {
			server.WriteError(c, server.Wrap(err, http.StatusConflict, "refund_conflict", "a refund with this reference exists for another amount"))
			return
		}
		server.WriteError(c, serviceError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, NewRefundJSON(r))
}

func (a *API) listRefunds(c *gin.Context) {
	p, ok := a.payment(c)
	if !ok {
		return
	}
	rs, err := a.svc.Refunds(c.Request.Context(), p.ID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	out := make([]RefundJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, NewRefundJSON(r))
	}
	c.JSON(http.StatusOK, gin.H{"refunds": out})
}

// serviceError maps the core's errors to HTTP answers.
func serviceError(err error) error {
	var ve *checkout.ValidationError
	var ge *checkout.GatewayError
	var ue *checkout.UnsupportedError
	switch {
	case errors.As(err, &ue):
		return server.Wrap(err, http.StatusUnprocessableEntity, "unsupported_by_gateway", ue.Reason)
	case errors.As(err, &ve):
		return server.Wrap(err, http.StatusUnprocessableEntity, "invalid_field", ve.Error())
	case errors.Is(err, checkout.ErrShopDisabled):
		return server.Wrap(err, http.StatusForbidden, "shop_disabled",
			"this shop is disabled: it cannot start new payments (payments already started are still completed and can be refunded)")
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		return server.Wrap(err, http.StatusConflict, "order_conflict",
			"a payment for this order_id exists with different details; use a new order_id for a new payment")
	case errors.Is(err, checkout.ErrRefundExceeds):
		return server.Wrap(err, http.StatusUnprocessableEntity, "refund_exceeds_captured", err.Error())
	case errors.Is(err, checkout.ErrNotPaid):
		return server.Wrap(err, http.StatusConflict, "payment_not_paid", err.Error())
	case errors.Is(err, checkout.ErrNotFound):
		return server.Wrap(err, http.StatusNotFound, "not_found", "not found")
	case errors.As(err, &ge):
		return server.Wrap(err, http.StatusBadGateway, "gateway_error", ge.Gateway+": "+ge.Message)
	case errors.Is(err, checkout.ErrUnknownGateway):
		return server.Wrap(err, http.StatusInternalServerError, "gateway_not_configured", "this shop's gateway is not available on this bridge")
	}
	return err
}
