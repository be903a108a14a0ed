package kupay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
	"paybridge/internal/wire"
)

// CredToken names the API token in checkout.GatewayAccount.Credentials.
const CredToken = "api_token"

// Statuses KuPay reports. Only "paid" is documented for the generic API;
// the others are those of its WooCommerce plugin's callbacks
// (UNCONFIRMED for this API).
const (
	StatusPaid      = "paid"
	StatusCompleted = "completed"
	StatusOpen      = "open"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
	StatusFailure   = "failure"
	StatusError     = "error"
)

// Config configures a [Gateway]. The zero value is usable.
type Config struct {
	// BaseURL is KuPay's API host (default [BaseURL]). KuPay documents no
	// sandbox: sandbox accounts use the same host.
	BaseURL string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every KuPay client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each call (default 15 s).
	Timeout time.Duration
}

// Gateway is the KuPay adapter; it implements checkout.Gateway (KuPay has
// no refunds, so no checkout.Refunder).
type Gateway struct {
	cfg Config
}

var (
	_ checkout.Gateway = (*Gateway)(nil)
)

// New returns the adapter.
func New(cfg Config) *Gateway {
	if cfg.BaseURL == "" {
		cfg.BaseURL = BaseURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Gateway{cfg: cfg}
}

// Name returns "kupay".
func (g *Gateway) Name() string { return GatewayName }

// Capabilities reports KuPay: its documented currencies (no KWD), no
// refunds, no authorize/capture, no saved cards or invoices, unsigned
// callbacks, an unknown page lifetime.
func (g *Gateway) Capabilities() checkout.Capabilities {
	return checkout.Capabilities{DisplayName: "KuPay", Currencies: Currencies,
		Credentials: []checkout.CredentialField{{Name: CredToken, Label: "KuPay API token", LabelAR: "رمز واجهة KuPay", Required: true}}}
}

// Client returns the API client for the account.
func (g *Gateway) Client(acct checkout.GatewayAccount) *Client {
	return &Client{BaseURL: g.cfg.BaseURL, Token: acct.Credentials[CredToken], HTTPClient: g.cfg.HTTPClient, Timeout: g.cfg.Timeout}
}

// MapStatus maps KuPay's status word: "paid" (and "completed", the
// plugin's word for it) is paid; "cancelled"/"canceled" canceled;
// "expired" expired; "failure", "failed" and "error" failed; anything else,
// unknown words included, pending. Matching is exact.
func MapStatus(status string) checkout.Outcome {
	switch status {
	case StatusPaid, StatusCompleted:
		return checkout.OutcomePaid
	case StatusCancelled, "canceled":
		return checkout.OutcomeCanceled
	case StatusExpired:
		return checkout.OutcomeExpired
	case StatusFailure, "failed", StatusError:
		return checkout.OutcomeFailed
	}
	return checkout.OutcomePending
}

// CreateRequestFor builds the create body for p.
func CreateRequestFor(p *checkout.Payment, urls checkout.URLs) (CreateRequest, error) {
	if _, err := checkout.Exponent(p.Amount.Currency); err != nil {
		return CreateRequest{}, err
	}
	id := p.GatewayOrderID
	if id == "" {
		id = p.ID
	}
	return CreateRequest{
		ID: id, OrderNumber: p.OrderID, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339),
		Currency: p.Amount.Currency, Amount: json.Number(p.Amount.String()),
		Email: p.Customer.Email, OrderStatusURL: urls.Status,
		CancelURL: urls.Cancel, PaidURL: urls.Return, CallbackURL: urls.Notify,
	}, nil
}

// CreatePayment creates the KuPay payment and returns its page. Never
// retried: KuPay has no idempotency key (whether it dedupes on "id" is
// UNCONFIRMED).
func (g *Gateway) CreatePayment(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, urls checkout.URLs) (checkout.Charge, error) {
	req, err := CreateRequestFor(p, urls)
	if err != nil {
		return checkout.Charge{}, api.RequestError("charge", err)
	}
	res, err := g.Client(acct).CreatePayment(ctx, req)
	if err != nil {
		return checkout.Charge{}, err
	}
	if res.PayURL == "" || res.PaymentID == "" {
		return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "charge", HTTPStatus: http.StatusOK,
			Message: "KuPay accepted the payment but returned no pay_url or payment_id", Err: &APIError{StatusCode: http.StatusOK, Body: gatewayhttp.Snippet(res.Raw)}}
	}
	return checkout.Charge{Ref: res.PaymentID, URL: res.PayURL, Raw: res.Raw}, nil
}

// Status fetches GET /v1/payment/status/{ref}. KuPay's answer names the
// order by order_number (the merchant's order id) and not by our id, so
// the adapter binds it: when order_number (or an echoed id) matches p,
// OrderID is reported as p.GatewayOrderID; otherwise KuPay's value is
// reported as is and the core records a mismatch.
func (g *Gateway) Status(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, ref string) (checkout.GatewayStatus, error) {
	ps, err := g.Client(acct).Status(ctx, ref)
	if err != nil {
		return checkout.GatewayStatus{}, err
	}
	st := checkout.GatewayStatus{Outcome: MapStatus(ps.Status), Result: ps.Status, Ref: ps.PaymentID,
		TransactionID: ps.PaymentID, Raw: ps.Raw}
	switch {
	case ps.ID != "" && ps.ID == p.GatewayOrderID:
		st.OrderID = p.GatewayOrderID
	case ps.ID == "" && ps.OrderNumber != "" && ps.OrderNumber == p.OrderID:
		st.OrderID = p.GatewayOrderID
	case ps.ID != "":
		st.OrderID = ps.ID
	default:
		st.OrderID = ps.OrderNumber
	}
	if ps.Amount != "" || ps.Currency != "" {
		m, err := ParseAmount(ps.Amount, ps.Currency)
		if err != nil {
			return checkout.GatewayStatus{}, api.AnswerError("status", fmt.Errorf("amount %q %q: %w", ps.Amount, ps.Currency, err))
		}
		st.Amount = m
	}
	return st, nil
}

// callbackFields are the fields a KuPay callback or return may carry that
// are kept for the audit trail; anything else (an API key a misconfigured
// callback URL could carry) is dropped.
var callbackFields = []string{"payment_id", "status", "order_id", "order_number", "id"}

// ParseCallback reads a callback (any method; query, form or JSON body) or
// a browser return. KuPay signs nothing: the result is a claim and only a
// trigger for a status fetch. A browser return without a status claims
// success on the paid URL and cancel on the cancel URL. A body that is
// neither a readable form nor a JSON object is an error wrapping
// checkout.ErrUnreadable; nothing else fails.
func (g *Gateway) ParseCallback(ctx context.Context, acct checkout.GatewayAccount, req checkout.CallbackRequest) (checkout.Callback, error) {
	vals := url.Values{}
	for k, vs := range req.Query {
		vals[k] = vs
	}
	if body := bytes.TrimSpace(req.Body); len(body) > 0 {
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		if strings.Contains(ct, "json") || body[0] == '{' {
			var m map[string]json.RawMessage
			if err := wire.DecodeJSON(body, &m); err != nil {
				return checkout.Callback{}, fmt.Errorf("kupay callback: %w: %w", checkout.ErrUnreadable, err)
			}
			for k, raw := range m {
				if s, err := scalar(raw); err == nil && s != "" {
					vals.Set(k, s)
				}
			}
		} else {
			q, err := url.ParseQuery(string(body))
			if err != nil {
				return checkout.Callback{}, fmt.Errorf("kupay callback: %w: %w", checkout.ErrUnreadable, err)
			}
			for k, vs := range q {
				vals[k] = vs
			}
		}
	}
	cb := checkout.Callback{Fields: map[string]string{}}
	for _, k := range callbackFields {
		if v := vals.Get(k); v != "" {
			if len(v) > 200 {
				v = v[:200]
			}
			cb.Fields[k] = v
		}
	}
	cb.Ref, cb.Result = cb.Fields["payment_id"], cb.Fields["status"]
	if cb.Result == "" {
		if u, err := url.Parse(req.URL); err == nil {
			switch {
			case strings.Contains(u.Path, "/return/"):
				cb.Result = "paid_url"
				cb.Outcome = checkout.OutcomePaid
			case strings.Contains(u.Path, "/cancel/"):
				cb.Result = "cancel_url"
				cb.Outcome = checkout.OutcomeCanceled
			}
		}
		return cb, nil
	}
	cb.Outcome = MapStatus(cb.Result)
	return cb, nil
}
