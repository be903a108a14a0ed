package cko

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
	"paybridge/internal/wire"
)

// Credential names in checkout.GatewayAccount.Credentials.
const (
	// CredSecretKey is the secret API key ("sk_…"). Required.
	CredSecretKey = "secret_key"
	// CredProcessingChannel is the processing channel id ("pc_…"). Required.
	CredProcessingChannel = "processing_channel_id"
	// CredWebhookKey is the webhook signing key. When set, webhooks must
	// carry a valid Cko-Signature.
	CredWebhookKey = "webhook_key"
)

// GatewayData keys set from Checkout.com's answers.
const (
	DataKnetPaymentID     = "knet_payment_id"
	DataKnetResult        = "knet_result"
	DataKnetTransactionID = "knet_transaction_id"
	DataBankReference     = "bank_reference"
	DataAuthCode          = "auth_code"
)

// PageLifetime is how long the KNET page stays payable once the shopper
// lands on it: Checkout.com voids the payment and sends payment_expired
// after seven minutes.
const PageLifetime = 7 * time.Minute

// displayName is how errors name the gateway.
const displayName = "Checkout.com"

// MaxMinor is the largest amount Checkout.com accepts (nine digits).
const MaxMinor = 999_999_999

// Config configures a [Gateway]. The zero value is usable.
type Config struct {
	// SandboxURL and LiveURL are the API bases (default [SandboxURL],
	// [LiveURL]).
	SandboxURL string
	LiveURL    string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every Checkout.com client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each call (default 15 s).
	Timeout time.Duration
}

// Gateway is the Checkout.com KNET adapter; it implements
// checkout.Gateway and checkout.Gateway.
type Gateway struct {
	cfg Config
}

var (
	_ checkout.Gateway        = (*Gateway)(nil)
	_ checkout.Refunder       = (*Gateway)(nil)
	_ checkout.CallbackRouter = (*Gateway)(nil)
)

// New returns the adapter; see [Config] for defaults.
func New(cfg Config) *Gateway {
	if cfg.SandboxURL == "" {
		cfg.SandboxURL = SandboxURL
	}
	if cfg.LiveURL == "" {
		cfg.LiveURL = LiveURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Gateway{cfg: cfg}
}

// Name returns "cko".
func (g *Gateway) Name() string { return GatewayName }

// Capabilities reports KNET at Checkout.com: KWD only, captured at once
// (no authorize/capture), full, partial and multiple partial refunds,
// signed webhooks, a seven-minute page, 3-decimal amounts ending in 0.
// Saved cards (KFast) are not offered by this adapter.
func (g *Gateway) Capabilities() checkout.Capabilities {
	return checkout.Capabilities{
		DisplayName: displayName,
		Currencies:  []string{"KWD"},
		Methods:     []string{"knet"},
		SavedCards:  true,
		Refunds:     true, PartialRefunds: true, MultipleRefunds: true,
		SignedNotifications: true,
		PageLifetime:        PageLifetime,
		AmountRules:         []checkout.AmountRule{{Exponent: 3, MinorMultiple: 10, Why: "3-decimal amounts to end in 0"}},
		MaxMinor:            MaxMinor,
		IdempotentRefunds:   true,
		Credentials: []checkout.CredentialField{
			{Name: CredSecretKey, Label: "Checkout.com secret key", LabelAR: "المفتاح السري لـ Checkout.com", Required: true},
			{Name: CredProcessingChannel, Label: "Checkout.com processing channel id", LabelAR: "معرّف قناة المعالجة لـ Checkout.com", Required: true},
			{Name: CredWebhookKey, Label: "Checkout.com webhook signing key", LabelAR: "مفتاح توقيع إشعارات Checkout.com", Required: true},
		},
	}
}

var _ checkout.CustomerTokener = (*Gateway)(nil)

// NewCustomerToken makes a customer's KFast card_token: 8 random digits
// (seed 003's example is "01234567"). KNET registers it on the customer's
// first payment with it, so no call is made here.
func (g *Gateway) NewCustomerToken(context.Context, checkout.GatewayAccount) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1e8))
	if err != nil {
		return "", fmt.Errorf("cko: customer token: %w", err)
	}
	return fmt.Sprintf("%08d", n.Int64()), nil
}

// Client returns the API client for the account.
func (g *Gateway) Client(acct checkout.GatewayAccount) *Client {
	base := g.cfg.LiveURL
	if acct.Sandbox {
		base = g.cfg.SandboxURL
	}
	return &Client{BaseURL: base, SecretKey: acct.Credentials[CredSecretKey], HTTPClient: g.cfg.HTTPClient, Timeout: g.cfg.Timeout}
}

// MinorAmount returns m in Checkout.com's minor units. For 3-decimal
// currencies the last digit must be 0: any other amount is an error, never
// rounded.
func MinorAmount(m checkout.Money) (int64, error) {
	exp, err := checkout.Exponent(m.Currency)
	if err != nil {
		return 0, err
	}
	if exp == 3 && m.Minor%10 != 0 {
		return 0, fmt.Errorf("%s needs 3-decimal amounts to end in 0; %s %s cannot be charged exactly", displayName, m, m.Currency)
	}
	if m.Minor <= 0 || m.Minor > MaxMinor {
		return 0, fmt.Errorf("amount %s %s is outside Checkout.com's range", m, m.Currency)
	}
	return m.Minor, nil
}

// MapStatus maps a payment status to an outcome. Captured (and a captured
// payment later refunded) is paid; Declined failed; Canceled canceled;
// Expired and Voided (how Checkout.com ends a KNET page left past seven
// minutes) expired; anything else, unknown words included, pending.
func MapStatus(status string) checkout.Outcome {
	switch status {
	case StatusCaptured, StatusPaid, StatusPartiallyRefunded, StatusRefunded:
		return checkout.OutcomePaid
	case StatusDeclined:
		return checkout.OutcomeFailed
	case StatusCanceled:
		return checkout.OutcomeCanceled
	case StatusExpired, StatusVoided:
		return checkout.OutcomeExpired
	}
	return checkout.OutcomePending
}

// PaymentRequestFor builds the POST /payments body for p.
func PaymentRequestFor(acct checkout.GatewayAccount, p *checkout.Payment, urls checkout.URLs) (PaymentRequest, error) {
	amount, err := MinorAmount(p.Amount)
	if err != nil {
		return PaymentRequest{}, err
	}
	lang := "en"
	if p.Language == "ar" {
		lang = "ar"
	}
	desc := p.Description
	if desc == "" {
		desc = "Order " + p.OrderID
	}
	req := PaymentRequest{
		Source: KnetSource{Type: "knet", Language: lang,
			UserDefinedField1: p.ID, UserDefinedField2: clip(p.OrderID, 255),
			UserDefinedField3: clip(p.Options.ExtraData, 255), UserDefinedField4: clip(p.Options.Reference, 255),
			CardToken: p.CustomerToken},
		Amount: amount, Currency: p.Amount.Currency,
		Reference:           p.GatewayOrderID,
		Description:         clip(desc, 100),
		ProcessingChannelID: acct.Credentials[CredProcessingChannel],
		SuccessURL:          urls.Return, FailureURL: urls.Cancel,
		Metadata: map[string]string{"payment_id": p.ID, "order_id": p.OrderID},
	}
	if req.Reference == "" {
		req.Reference = p.ID
	}
	if p.Customer.Email != "" || p.Customer.Name != "" {
		req.Customer = &Customer{Email: p.Customer.Email, Name: p.Customer.Name}
	}
	return req, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// CreatePayment requests the KNET payment and returns its redirect page.
// The idempotency key is our payment id: if the call is ever repeated for
// the same payment, Checkout.com returns the first payment.
func (g *Gateway) CreatePayment(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, urls checkout.URLs) (checkout.Charge, error) {
	if acct.Credentials[CredProcessingChannel] == "" {
		return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "charge", Message: "Checkout.com processing channel id is not configured"}
	}
	req, err := PaymentRequestFor(acct, p, urls)
	if err != nil {
		return checkout.Charge{}, api.RequestError("charge", err)
	}
	res, err := g.Client(acct).RequestPayment(ctx, req, p.ID)
	if err != nil {
		return checkout.Charge{}, err
	}
	if res.RedirectURL == "" || res.ID == "" {
		return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "charge", HTTPStatus: http.StatusAccepted,
			Message: fmt.Sprintf("Checkout.com answered %q without a KNET redirect link", res.Status),
			Err:     &APIError{StatusCode: http.StatusAccepted, Body: gatewayhttp.Snippet(res.Raw)}}
	}
	return checkout.Charge{Ref: res.ID, URL: res.RedirectURL, Raw: res.Raw}, nil
}

// Status fetches GET /payments/{ref}.
func (g *Gateway) Status(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, ref string) (checkout.GatewayStatus, error) {
	pm, err := g.Client(acct).GetPayment(ctx, ref)
	if err != nil {
		return checkout.GatewayStatus{}, err
	}
	return statusFrom(pm)
}

func statusFrom(pm Payment) (checkout.GatewayStatus, error) {
	st := checkout.GatewayStatus{Outcome: MapStatus(pm.Status), Result: pm.Status, Ref: pm.ID, OrderID: pm.Reference,
		TransactionID: pm.Source.KnetTransactionID, Raw: pm.Raw}
	if st.TransactionID == "" {
		st.TransactionID = pm.Source.KnetPaymentID
	}
	if pm.Currency != "" {
		m, err := checkout.NewMoney(pm.Amount, pm.Currency)
		if err != nil {
			return checkout.GatewayStatus{}, api.AnswerError("status", fmt.Errorf("amount %d %q: %w", pm.Amount, pm.Currency, err))
		}
		st.Amount = m
	}
	data := map[string]string{}
	for k, v := range map[string]string{DataKnetPaymentID: pm.Source.KnetPaymentID, DataKnetResult: pm.Source.KnetResult,
		DataKnetTransactionID: pm.Source.KnetTransactionID, DataBankReference: pm.Source.BankReference, DataAuthCode: pm.Source.AuthCode} {
		if v != "" {
			data[k] = v
		}
	}
	if len(data) > 0 {
		st.Data = data
	}
	return st, nil
}

// Refund requests the refund with Cko-Idempotency-Key = r.ID and answers
// RefundPending with the action id: Checkout.com settles refunds later.
func (g *Gateway) Refund(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, r *checkout.Refund) (checkout.RefundResult, error) {
	if p.GatewayRef == "" {
		return checkout.RefundResult{}, &checkout.GatewayError{Gateway: GatewayName, Op: "refund", Message: "no Checkout.com payment id is recorded for this payment"}
	}
	if r.Amount.Currency != p.Amount.Currency {
		return checkout.RefundResult{}, api.RequestError("refund", fmt.Errorf("%w: refund in %s of a %s payment", checkout.ErrCurrencyMismatch, r.Amount.Currency, p.Amount.Currency))
	}
	amount, err := MinorAmount(r.Amount)
	if err != nil {
		return checkout.RefundResult{}, api.RequestError("refund", err)
	}
	res, err := g.Client(acct).RefundPayment(ctx, p.GatewayRef, RefundRequest{Amount: amount, Reference: r.ID}, r.ID)
	if err != nil {
		return checkout.RefundResult{}, err
	}
	return checkout.RefundResult{Status: checkout.RefundPending, Ref: res.ActionID, Raw: res.Raw}, nil
}

// RefundStatus looks for the refund's action in GET /payments/{id}/actions:
// approved is RefundSucceeded, not approved RefundFailed, absent pending.
// UNCONFIRMED: that a KNET refund's action is listed only once processed
// (the docs show the list, not its timing).
func (g *Gateway) RefundStatus(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, r *checkout.Refund) (checkout.RefundResult, error) {
	actions, err := g.Client(acct).GetPaymentActions(ctx, p.GatewayRef)
	if err != nil {
		return checkout.RefundResult{}, err
	}
	res := checkout.RefundResult{Status: checkout.RefundPending, Ref: r.GatewayRef}
	for _, a := range actions {
		if a.ID != r.GatewayRef || !strings.EqualFold(a.Type, "Refund") {
			continue
		}
		res.Raw, _ = json.Marshal(a)
		if a.Approved {
			res.Status = checkout.RefundSucceeded
		} else {
			res.Status = checkout.RefundFailed
		}
	}
	return res, nil
}

// Webhook is a Checkout.com webhook body, as far as paybridge reads it.
type Webhook struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedOn string `json:"created_on"`
	Data      struct {
		ID              string      `json:"id"`
		ActionID        string      `json:"action_id"`
		Reference       string      `json:"reference"`
		Amount          json.Number `json:"amount"`
		Currency        string      `json:"currency"`
		ResponseCode    string      `json:"response_code"`
		ResponseSummary string      `json:"response_summary"`
	} `json:"data"`
}

// MapEvent maps a webhook type to the outcome it claims: payment_captured
// paid; payment_declined and payment_capture_declined failed;
// payment_canceled canceled; payment_expired expired; anything else
// (payment_pending, refund events …) pending.
func MapEvent(eventType string) checkout.Outcome {
	switch eventType {
	case "payment_captured":
		return checkout.OutcomePaid
	case "payment_declined", "payment_capture_declined":
		return checkout.OutcomeFailed
	case "payment_canceled":
		return checkout.OutcomeCanceled
	case "payment_expired":
		return checkout.OutcomeExpired
	}
	return checkout.OutcomePending
}

// Sign returns the Cko-Signature of body: hex HMAC-SHA256 with key.
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a Cko-Signature against the raw body in constant
// time; it returns an error wrapping checkout.ErrBadSignature.
func VerifySignature(key, signature string, body []byte) error {
	if signature == "" {
		return fmt.Errorf("cko webhook: %w: no %s header", checkout.ErrBadSignature, SignatureHeader)
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return fmt.Errorf("cko webhook: %w: %s is not hex", checkout.ErrBadSignature, SignatureHeader)
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("cko webhook: %w", checkout.ErrBadSignature)
	}
	return nil
}

// ParseCallback reads a webhook (a request to the notify URL, or any POST
// with a body) or the shopper's browser return.
//
// A webhook must carry a Cko-Signature that verifies with the account's
// webhook key over the raw body; otherwise the error wraps
// checkout.ErrBadSignature (a 401, nothing changes); a body that is not one
// JSON object wraps checkout.ErrUnreadable (a 400). Without a configured
// key, webhooks are accepted unsigned (Signed false). Either way the claim
// is only a trigger: the core fetches the payment.
//
// A browser return claims success on the success URL (/return/…) and
// failure on the failure URL (/cancel/…); Checkout.com's cko-session-id
// query parameter is kept for the audit trail.
func (g *Gateway) ParseCallback(ctx context.Context, acct checkout.GatewayAccount, req checkout.CallbackRequest) (checkout.Callback, error) {
	path := ""
	if u, err := url.Parse(req.URL); err == nil {
		path = u.Path
	}
	webhook := strings.Contains(path, "/notify/") || (path == "" && req.Method == http.MethodPost)
	if !webhook {
		cb := checkout.Callback{Fields: map[string]string{}}
		if sid := req.Query.Get("cko-session-id"); sid != "" {
			cb.Fields["cko-session-id"] = clip(sid, 200)
		}
		if strings.Contains(path, "/cancel/") {
			cb.Result, cb.Outcome = "failure_url", checkout.OutcomeFailed
		} else {
			cb.Result, cb.Outcome = "success_url", checkout.OutcomePaid
		}
		return cb, nil
	}
	var cb checkout.Callback
	if key := acct.Credentials[CredWebhookKey]; key != "" {
		if err := VerifySignature(key, req.Header.Get(SignatureHeader), req.Body); err != nil {
			return checkout.Callback{}, err
		}
		cb.Signed = true
	}
	var w Webhook
	if err := wire.DecodeJSON(req.Body, &w); err != nil {
		return checkout.Callback{}, fmt.Errorf("cko webhook: %w: %w", checkout.ErrUnreadable, err)
	}
	cb.Ref, cb.Result, cb.Outcome = w.Data.ID, w.Type, MapEvent(w.Type)
	cb.Fields = map[string]string{"event_id": clip(w.ID, 100), "type": clip(w.Type, 100), "payment_id": clip(w.Data.ID, 100),
		"action_id": clip(w.Data.ActionID, 100), "reference": clip(w.Data.Reference, 100), "amount": clip(string(w.Data.Amount), 30),
		"currency": clip(w.Data.Currency, 10), "response_code": clip(w.Data.ResponseCode, 20)}
	for k, v := range cb.Fields {
		if v == "" {
			delete(cb.Fields, k)
		}
	}
	return cb, nil
}

// CallbackPaymentID names the payment a webhook posted to the account-level
// URL (/notify/cko) is about: data.reference, which is our payment id. The
// body is not trusted for more than this: the core then verifies the
// signature with that payment's shop's webhook key.
func (g *Gateway) CallbackPaymentID(req checkout.CallbackRequest) (string, error) {
	var w struct {
		Data struct {
			Reference string            `json:"reference"`
			Metadata  map[string]string `json:"metadata"`
		} `json:"data"`
	}
	if err := wire.DecodeJSON(req.Body, &w); err != nil {
		return "", fmt.Errorf("webhook body: %w: %w", checkout.ErrUnreadable, err)
	}
	if w.Data.Reference != "" {
		return w.Data.Reference, nil
	}
	if id := w.Data.Metadata["payment_id"]; id != "" {
		return id, nil
	}
	return "", errors.New("the webhook names no reference")
}
