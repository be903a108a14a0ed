// Package kupay talks to KuPay (kupay.finance), a crypto checkout with a
// hosted payment page: a small [Client] for its generic REST API
// (POST /v1/payment/create, GET /v1/payment/status/{id}) and a [Gateway]
// adapter implementing checkout.Gateway.
//
// KuPay takes amounts as JSON numbers in major units ("amount": 123.45);
// paybridge writes the number literal from checkout.Money's exact decimal
// string and reads answers with json.Number, never float64. Its callbacks
// are unsigned: they only trigger a status fetch. It has no refund API.
package kupay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
	"paybridge/internal/wire"
)

// Defaults.
const (
	// BaseURL is KuPay's API host; paths start with /v1.
	BaseURL = "https://api.kupay.finance"
	// DefaultTimeout bounds each API call when Client.Timeout is zero.
	DefaultTimeout = 15 * time.Second
	// GatewayName is the adapter's name, as stored on shops.
	GatewayName = "kupay"
)

// Currencies are the order currencies KuPay documents (no KWD).
var Currencies = []string{"USD", "EUR", "JPY", "GBP", "AUD", "CAD", "CHF", "CNY", "HKD", "NZD", "SEK", "KRW", "SGD", "NOK", "MXN", "INR", "BRL", "NGN"}

// Client calls KuPay's API. Its zero value is usable once Token is set; it
// is safe for concurrent use and never retries (KuPay has no idempotency
// key).
type Client struct {
	// BaseURL is the API host (default [BaseURL]); /v1/… is appended.
	BaseURL string
	// Token is the merchant's API token (Bearer). Never logged.
	Token string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every KuPay client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each call (default [DefaultTimeout]).
	Timeout time.Duration
}

// CreateRequest is the body of POST /v1/payment/create.
type CreateRequest struct {
	// ID is our own unique internal order id (our payment id).
	ID string `json:"id"`
	// OrderNumber is the order number the shopper knows.
	OrderNumber string `json:"order_number"`
	// CreatedAt is the order's date, RFC 3339.
	CreatedAt string `json:"created_at"`
	Currency  string `json:"currency"`
	// Amount is in major units, written as a JSON number with exactly
	// these digits (checkout.Money.String()).
	Amount json.Number `json:"amount"`
	// Email is sent empty when unknown, as seed 002's example does.
	Email          string `json:"email"`
	OrderStatusURL string `json:"order_status_url,omitempty"`
	CancelURL      string `json:"cancel_url"`
	PaidURL        string `json:"paid_url"`
	CallbackURL    string `json:"callback_url"`
}

// CreateResult is KuPay's answer: the hosted page and its payment id.
type CreateResult struct {
	PayURL    string
	PaymentID string
	Raw       json.RawMessage
}

// PaymentStatus is GET /v1/payment/status/{id}, the only source of truth.
// Values are kept as KuPay's text; Amount is the number literal as sent.
type PaymentStatus struct {
	PaymentID   string
	ID          string // our order id, when KuPay echoes it
	Status      string
	CreatedAt   string
	OrderNumber string
	Currency    string
	Amount      string
	Raw         json.RawMessage
}

// APIError is the technical cause inside a *checkout.GatewayError built
// from an HTTP answer.
type APIError struct {
	StatusCode int
	Body       string
}

// Error reports the status and the truncated body.
func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Body) }

// CreatePayment sends POST /v1/payment/create. It is never retried: a
// Temporary error means the payment may or may not exist.
func (c *Client) CreatePayment(ctx context.Context, req CreateRequest) (CreateResult, error) {
	if req.ID == "" || req.Currency == "" || req.Amount == "" {
		return CreateResult{}, api.RequestError("charge", errors.New("id, currency and amount are required"))
	}
	raw, err := c.do(ctx, "charge", http.MethodPost, "/v1/payment/create", req)
	if err != nil {
		return CreateResult{}, err
	}
	var d struct {
		PayURL    string `json:"pay_url"`
		PaymentID string `json:"payment_id"`
	}
	if err := wire.DecodeJSON(raw, &d); err != nil {
		return CreateResult{}, api.AnswerError("charge", err)
	}
	return CreateResult{PayURL: d.PayURL, PaymentID: d.PaymentID, Raw: raw}, nil
}

// Status sends GET /v1/payment/status/{id}.
func (c *Client) Status(ctx context.Context, paymentID string) (PaymentStatus, error) {
	if paymentID == "" {
		return PaymentStatus{}, api.RequestError("status", errors.New("empty payment id"))
	}
	raw, err := c.do(ctx, "status", http.MethodGet, "/v1/payment/status/"+url.PathEscape(paymentID), nil)
	if err != nil {
		return PaymentStatus{}, err
	}
	var d map[string]json.RawMessage
	if err := wire.DecodeJSON(raw, &d); err != nil {
		return PaymentStatus{}, api.AnswerError("status", err)
	}
	st := PaymentStatus{Raw: raw}
	for k, dst := range map[string]*string{"payment_id": &st.PaymentID, "id": &st.ID, "status": &st.Status,
		"created_at": &st.CreatedAt, "order_number": &st.OrderNumber, "currency": &st.Currency, "amount": &st.Amount} {
		v, ok := d[k]
		if !ok {
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return PaymentStatus{}, api.AnswerError("status", fmt.Errorf("%s: %w", k, err))
		}
		*dst = s
	}
	return st, nil
}

// scalar reads a JSON string or number as text (numbers verbatim); null is "".
func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := wire.DecodeJSON(raw, &n); err != nil {
		return "", fmt.Errorf("not a string or number: %s", gatewayhttp.Snippet(raw))
	}
	return string(n), nil
}

// api is the caller every KuPay client shares: one pooled transport for
// the gateway.
var api = gatewayhttp.New(gatewayhttp.Gateway{Name: GatewayName, Display: "KuPay", UserAgent: "paybridge-kupay/1",
	Credential: "API token"}, gatewayhttp.Config{Timeout: DefaultTimeout})

// do sends one request and returns the body of a 200 or 201 JSON answer,
// or a *checkout.GatewayError.
func (c *Client) do(ctx context.Context, op, method, path string, in any) ([]byte, error) {
	base := c.BaseURL
	if base == "" {
		base = BaseURL
	}
	return gatewayhttp.Call(ctx, api, gatewayhttp.Request{Op: op, Method: method, URL: strings.TrimRight(base, "/") + path,
		Body: in, Token: c.Token, Timeout: c.Timeout, Client: c.HTTPClient}, readAnswer)
}

// readAnswer maps KuPay's answer: 200 and 201 with a JSON body are
// accepted; 5xx and 429 are temporary; 401 a rejected token, 404 an
// unknown payment; anything else a refusal with KuPay's message.
func readAnswer(op string, a *gatewayhttp.Answer) ([]byte, error) {
	code := a.StatusCode
	ge := &checkout.GatewayError{Gateway: GatewayName, Op: op, HTTPStatus: code, Err: &APIError{StatusCode: code, Body: a.Snippet()}}
	switch {
	case code == http.StatusOK || code == http.StatusCreated:
		if wire.DecodeJSON(a.Body, new(json.RawMessage)) != nil {
			ge.Message = "KuPay answered with a non-JSON page"
			return nil, ge
		}
		return a.Body, nil
	case code >= 500:
		ge.Temporary = true
		ge.Message = fmt.Sprintf("KuPay is unavailable (HTTP %d)", code)
	case code == http.StatusTooManyRequests:
		ge.Temporary = true
		ge.Message = "KuPay rate limit reached; try again later"
	case code == http.StatusUnauthorized:
		ge.Message = "KuPay rejected the API token"
	case code == http.StatusNotFound:
		ge.Message = "KuPay does not know this payment"
	default:
		ge.Message = fmt.Sprintf("KuPay refused the request (HTTP %d)", code)
		var doc struct {
			Message string `json:"message"`
		}
		if wire.DecodeJSON(a.Body, &doc) == nil && doc.Message != "" {
			ge.Message += ": " + gatewayhttp.Snippet([]byte(doc.Message))
		}
	}
	return nil, ge
}

// ParseAmount reads a KuPay amount (a JSON number literal in major units)
// exactly: zeros past the currency's exponent are dropped ("12.500" USD),
// any other extra digit and exponent notation are errors, never rounded.
func ParseAmount(s, currency string) (checkout.Money, error) {
	return checkout.ParseMoneyPadded(s, currency)
}
