package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/wire"
)

// Sign computes a Standard Webhooks signature header value ("v1,<base64>")
// of body for the message id and timestamp, with a "whsec_…" secret.
// Spec: https://www.standardwebhooks.com — HMAC-SHA256 over
// "id.timestamp.body" with the base64-decoded secret.
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return "", errors.New("webhook secret is not whsec_<base64>")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// EventLister reads a payment's audit trail for callbacks.
type EventLister interface {
	Events(ctx context.Context, paymentID string) ([]checkout.Event, error)
}

// SyncerConfig configures callback delivery. The zero value is usable.
type SyncerConfig struct {
	// Timeout bounds one delivery attempt. Default 10 s.
	Timeout time.Duration
	// AllowPrivate lets callbacks reach loopback and private addresses
	// (BRIDGE_ALLOW_INSECURE_URLS, development and tests). Default false:
	// the dialer refuses them, so a merchant cannot point the bridge at its
	// own network.
	AllowPrivate bool
	// Now is the clock for webhook-timestamp. Default time.Now.
	Now func() time.Time
}

// Syncer delivers final states to the merchant's callback_url as signed
// Standard Webhooks. It implements checkout.Syncer.
type Syncer struct {
	events EventLister
	payURL func(id string) string
	client *http.Client
	cfg    SyncerConfig
}

// NewSyncer returns a callback deliverer. payURL builds a payment's pay_url.
func NewSyncer(events EventLister, payURL func(string) string, cfg SyncerConfig) *Syncer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: cfg.Timeout}
	return &Syncer{events: events, payURL: payURL, cfg: cfg, client: &http.Client{
		Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// refusePrivate runs after DNS resolution, so a public name that resolves
// to a private address is refused too; the ranges are the ones the core
// refuses at create time (checkout.PublicAddr).
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to deliver a callback to %s: %w", address, err)
	}
	if err := checkout.PublicAddr(ap.Addr().Unmap()); err != nil {
		return fmt.Errorf("refusing to deliver a callback to non-public address %s: %w", ap.Addr(), err)
	}
	return nil
}

// Callback is the body POSTed to callback_url.
type Callback struct {
	Type   string      `json:"type"`
	Data   PaymentJSON `json:"data"`
	Refund *RefundJSON `json:"refund,omitempty"`
}

// SyncPayment POSTs payment.paid / .failed / .canceled / .expired.
func (s *Syncer) SyncPayment(ctx context.Context, shop *checkout.Shop, p *checkout.Payment) error {
	return s.deliver(ctx, shop, p, nil, "payment."+string(p.Status), "msg_"+p.ID+"_"+string(p.Status))
}

// SyncRefund POSTs refund.succeeded / refund.failed.
func (s *Syncer) SyncRefund(ctx context.Context, shop *checkout.Shop, p *checkout.Payment, r *checkout.Refund) error {
	rj := NewRefundJSON(r)
	return s.deliver(ctx, shop, p, &rj, "refund."+string(r.Status), "msg_"+r.ID+"_"+string(r.Status))
}

func (s *Syncer) deliver(ctx context.Context, shop *checkout.Shop, p *checkout.Payment, r *RefundJSON, typ, msgID string) error {
	if p.CallbackURL == "" {
		return nil // the merchant polls GET /payments/{id}
	}
	events, err := s.events.Events(ctx, p.ID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(Callback{Type: typ, Data: NewPaymentJSON(p, s.payURL(p.ID), events), Refund: r})
	if err != nil {
		return checkout.Permanent("encode callback", err)
	}
	ts := s.cfg.Now().Unix()
	sig, err := Sign(shop.WebhookSecret, msgID, ts, body)
	if err != nil {
		return checkout.Permanent("sign callback", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return checkout.Permanent("callback_url", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paybridge-webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "refusing to deliver") {
			return checkout.Permanent("callback_url points at a non-public address", err)
		}
		return fmt.Errorf("deliver %s to callback_url: %w", typ, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || code >= 500:
		err := fmt.Errorf("callback_url answered HTTP %d: %q", code, snippet)
		if d := retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now()); d > 0 {
			return &checkout.RetryAfterError{After: d, Err: err}
		}
		return err
	default:
		return checkout.Permanent(fmt.Sprintf("callback_url answered HTTP %d", code), fmt.Errorf("body %q", snippet))
	}
}

// retryAfter reads a Retry-After header (seconds or HTTP date), capped at
// one hour; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := wire.RetryAfter(v, now)
	return min(d, time.Hour)
}
