package woocommerce

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/wire"
)

// Client is a small WooCommerce REST v3 client: the handful of calls the
// bridge needs, money kept as strings and json.Number, every call bounded
// by a timeout. Over https it authenticates with HTTP Basic; over plain
// http (where WooCommerce ignores Basic) with one-legged OAuth 1.0a
// (HMAC-SHA256, parameters in the query), as the research notes §7 saw work.
type Client struct {
	base    string // store URL without trailing slash
	key     string
	secret  string
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time
}

// NewClient returns a client for the store at storeURL with a consumer
// key and secret. timeout bounds each call (default 15 s).
func NewClient(storeURL, consumerKey, consumerSecret string, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	return &Client{
		base: strings.TrimRight(storeURL, "/"), key: consumerKey, secret: consumerSecret,
		hc: &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		timeout: timeout, now: time.Now,
	}
}

// APIError is a WooCommerce error answer: {code, message, data.status}
// plus the HTTP status and any Retry-After.
type APIError struct {
	// HTTPStatus is the answer's status code.
	HTTPStatus int
	// Code and Message are WooCommerce's ("woocommerce_rest_shop_order_invalid_id",
	// "Invalid ID."); empty when the body was not WooCommerce's JSON (a proxy's 503 page).
	Code    string
	Message string
	// RetryAfter is the store's Retry-After, 0 when absent.
	RetryAfter time.Duration
}

// Error says the status, WooCommerce's code and its message.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.HTTPStatus)
	}
	if e.Code != "" {
		return fmt.Sprintf("woocommerce: HTTP %d %s: %s", e.HTTPStatus, e.Code, msg)
	}
	return fmt.Sprintf("woocommerce: HTTP %d: %s", e.HTTPStatus, msg)
}

// IsNotFound reports whether err is a WooCommerce 404 (an unknown order).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.HTTPStatus == http.StatusNotFound
}

// JobError classifies a store error for the job runner: 401/403 (a revoked
// key, missing capability) and other 4xx are permanent, 429 and 5xx retry
// (after Retry-After when the store sent one), transport errors retry.
func JobError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch s := ae.HTTPStatus; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return checkout.Permanent(op+": the store refused our API key (revoked, or missing permissions); reconnect the store", err)
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		if ae.RetryAfter > 0 {
			return &checkout.RetryAfterError{After: ae.RetryAfter, Err: fmt.Errorf("%s: %w", op, err)}
		}
		return fmt.Errorf("%s: %w", op, err)
	default:
		return checkout.Permanent(op, err)
	}
}

// do sends one request. body, when not nil, is JSON-encoded; out, when not
// nil, receives the JSON answer decoded with UseNumber.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, err := url.Parse(c.base + "/wp-json/wc/v3" + path)
	if err != nil {
		return fmt.Errorf("woocommerce: bad store URL: %w", err)
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("woocommerce: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	if u.Scheme == "http" {
		c.oauthSign(method, u, q)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("woocommerce: %s %s: %w", method, path, err)
	}
	if u.Scheme == "https" {
		req.SetBasicAuth(c.key, c.secret)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paybridge-woocommerce/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL carries the OAuth parameters: keep them out of logs
		}
		return fmt.Errorf("woocommerce: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("woocommerce: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{HTTPStatus: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now())}
		var wcErr struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &wcErr) == nil {
			ae.Code, ae.Message = wcErr.Code, wcErr.Message
		}
		return ae
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("woocommerce: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// oauthSign adds one-legged OAuth 1.0a parameters to q (HMAC-SHA256; key
// consumer_secret + "&"; base string METHOD&url&sorted params).
func (c *Client) oauthSign(method string, u *url.URL, q url.Values) {
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	q.Set("oauth_consumer_key", c.key)
	q.Set("oauth_timestamp", strconv.FormatInt(c.now().Unix(), 10))
	q.Set("oauth_nonce", hex.EncodeToString(nonce[:]))
	q.Set("oauth_signature_method", "HMAC-SHA256")
	base := *u
	base.RawQuery = ""
	q.Set("oauth_signature", OAuthSignature(method, base.String(), q, c.secret))
}

// OAuthSignature is WooCommerce's one-legged OAuth 1.0a signature of a
// request: base64(HMAC-SHA256(secret+"&", METHOD&enc(url)&enc(sorted
// k=v pairs))). params must not contain oauth_signature.
func OAuthSignature(method, baseURL string, params url.Values, secret string) string {
	var pairs []string
	for k, vs := range params {
		if k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, rfc3986(k)+"="+rfc3986(v))
		}
	}
	sort.Strings(pairs)
	s := strings.ToUpper(method) + "&" + rfc3986(baseURL) + "&" + rfc3986(strings.Join(pairs, "&"))
	m := hmac.New(sha256.New, []byte(secret+"&"))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func rfc3986(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// retryAfter reads Retry-After (seconds or HTTP date), capped at one hour.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := wire.RetryAfter(v, now)
	return min(d, time.Hour)
}

// Order is the part of a WooCommerce v3 order the bridge reads. Money
// fields are strings as WooCommerce sends them; line_items[].price is a
// JSON number, kept as json.Number.
type Order struct {
	ID            int64      `json:"id"`
	Number        string     `json:"number"`
	OrderKey      string     `json:"order_key"`
	CreatedVia    string     `json:"created_via"`
	Status        string     `json:"status"`
	Currency      string     `json:"currency"`
	Total         string     `json:"total"`
	CustomerID    int64      `json:"customer_id"`
	Billing       Address    `json:"billing"`
	PaymentMethod string     `json:"payment_method"`
	TransactionID string     `json:"transaction_id"`
	DatePaid      *string    `json:"date_paid"`
	DateModified  string     `json:"date_modified_gmt"`
	MetaData      []Meta     `json:"meta_data"`
	LineItems     []LineItem `json:"line_items"`
	Refunds       []struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
		Total  string `json:"total"`
	} `json:"refunds"`
	PaymentURL string `json:"payment_url"`
	// NeedsPayment is WooCommerce's needs_payment(); nil on stores too old
	// to send it.
	NeedsPayment *bool `json:"needs_payment"`
}

// needsPayment is needs_payment, or on stores that do not send it, what
// WC_Order::needs_payment() computes with the default settings: status
// pending or failed.
func (o *Order) needsPayment() bool {
	if o.NeedsPayment != nil {
		return *o.NeedsPayment
	}
	return o.Status == "pending" || o.Status == "failed"
}

// Address is an order's billing address (the fields the bridge uses).
type Address struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

// Meta is one meta_data entry; Value may be any JSON type.
type Meta struct {
	ID    int64           `json:"id,omitempty"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// MetaString returns the order meta key's value when it is a JSON string.
func (o *Order) MetaString(key string) string {
	for _, m := range o.MetaData {
		if m.Key == key {
			var s string
			if json.Unmarshal(m.Value, &s) == nil {
				return s
			}
		}
	}
	return ""
}

// LineItem is one order line.
type LineItem struct {
	ID       int64       `json:"id"`
	Name     string      `json:"name"`
	Quantity int         `json:"quantity"`
	Total    string      `json:"total"`
	Price    json.Number `json:"price"`
}

// Note is an order note.
type Note struct {
	ID           int64  `json:"id"`
	Note         string `json:"note"`
	CustomerNote bool   `json:"customer_note"`
}

// Webhook is a WooCommerce webhook as REST returns it.
type Webhook struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Topic       string `json:"topic"`
	DeliveryURL string `json:"delivery_url"`
}

// Order reads GET /orders/{id}.
func (c *Client) Order(ctx context.Context, id string) (*Order, error) {
	var o Order
	if err := c.do(ctx, http.MethodGet, "/orders/"+url.PathEscape(id), nil, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// UpdateOrder sends PUT /orders/{id} with the fields in body.
func (c *Client) UpdateOrder(ctx context.Context, id string, body map[string]any) (*Order, error) {
	var o Order
	if err := c.do(ctx, http.MethodPut, "/orders/"+url.PathEscape(id), nil, body, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Notes reads GET /orders/{id}/notes.
func (c *Client) Notes(ctx context.Context, id string) ([]Note, error) {
	var ns []Note
	err := c.do(ctx, http.MethodGet, "/orders/"+url.PathEscape(id)+"/notes", url.Values{"type": {"any"}}, nil, &ns)
	return ns, err
}

// AddNote posts a private order note (never a customer note: that one
// e-mails the shopper).
func (c *Client) AddNote(ctx context.Context, id, note string) error {
	return c.do(ctx, http.MethodPost, "/orders/"+url.PathEscape(id)+"/notes", nil,
		map[string]any{"note": note, "customer_note": false}, nil)
}

// Webhooks lists the store's webhooks (first 100).
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var ws []Webhook
	err := c.do(ctx, http.MethodGet, "/webhooks", url.Values{"per_page": {"100"}}, nil, &ws)
	return ws, err
}

// CreateWebhook creates a webhook with our own secret.
func (c *Client) CreateWebhook(ctx context.Context, name, topic, deliveryURL, secret string) (*Webhook, error) {
	var w Webhook
	err := c.do(ctx, http.MethodPost, "/webhooks", nil, map[string]any{
		"name": name, "topic": topic, "delivery_url": deliveryURL, "secret": secret, "status": "active"}, &w)
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteWebhook deletes a webhook for good (WooCommerce cannot trash
// them: force=true).
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/webhooks/"+strconv.FormatInt(id, 10), url.Values{"force": {"true"}}, nil, nil)
}

// UpdateWebhook changes a webhook (status, secret …).
func (c *Client) UpdateWebhook(ctx context.Context, id int64, body map[string]any) (*Webhook, error) {
	var w Webhook
	if err := c.do(ctx, http.MethodPut, "/webhooks/"+strconv.FormatInt(id, 10), nil, body, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Ping checks that the keys can read orders (GET /orders?per_page=1).
func (c *Client) Ping(ctx context.Context) error {
	var out []json.RawMessage
	return c.do(ctx, http.MethodGet, "/orders", url.Values{"per_page": {"1"}}, nil, &out)
}
