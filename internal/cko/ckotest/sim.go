// Package ckotest simulates Checkout.com's payments API for KNET, for tests
// and demos, in the spirit of net/http/httptest.
//
//	srv := ckotest.NewServer()
//	defer srv.Close()
//	c := &cko.Client{BaseURL: srv.URL, SecretKey: ckotest.DefaultSecretKey}
//	res, _ := c.RequestPayment(ctx, req, "idem-1") // 202 Pending, _links.redirect.href
//	ret, _ := srv.Complete(res.ID, ckotest.Captured)  // the shopper pays on the KNET page
//
// It follows Checkout.com's documented API: POST /payments (202 Pending
// with _links.redirect.href for a knet source; Cko-Idempotency-Key
// honoured), GET /payments/{id}, GET /payments/{id}/actions,
// POST /payments/{id}/refunds (202 {action_id}); Bearer secret keys; 401
// with an empty body; 422 {request_id, error_type, error_codes}; 404 with
// an empty body for unknown payments. For 3-decimal currencies an amount
// whose last digit is not 0 is refused (amount_invalid).
//
// The hosted KNET page, GET /knet/{token}/pay, offers Captured, Canceled
// and Declined; a pick sends the webhook and redirects the browser to
// success_url or failure_url with ?cko-session-id=…. A payment left on the
// page longer than the page lifetime (default 7 minutes after the shopper
// lands) becomes Expired with a payment_expired webhook.
//
// Webhooks (payment_captured, payment_canceled, payment_declined,
// payment_expired, payment_refunded, payment_refund_declined) are POSTed as
// JSON to the URL WebhookURL returns, signed with the account's webhook key
// in Cko-Signature (hex HMAC-SHA256 of the raw body), as Checkout.com's
// workflows do.
//
// Test controls (goroutine-safe): Complete, SetStatus, Expire,
// SetPageLifetime, SetClock (a fake clock for the page lifetime, delays and
// timestamps), SetNotifyPolicy (drop, repeat, delay), ForgeWebhook,
// FailNext, SetAutoSettleRefunds / SettleRefund, AddAccount; logs Requests,
// Webhooks, PaymentIDs. Wait blocks until webhooks in flight are done.
//
// Choices where the behaviour is undocumented (UNCONFIRMED): a payment
// whose page is never opened stays Pending; refunds settle at once unless
// SetAutoSettleRefunds(false), and a refund's action appears in the
// actions list only once settled; no payment_pending webhook is sent
// unless NotifyPolicy.Pending.
package ckotest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/simkit"
)

// Sandbox credentials every simulator accepts.
const (
	DefaultSecretKey         = "sk_sbox_paybridgetest"
	DefaultProcessingChannel = "pc_paybridgetest"
	DefaultWebhookKey        = "whk_paybridgetest"
)

// Results a shopper can produce on the KNET page (payment statuses).
const (
	Captured = "Captured"
	Canceled = "Canceled"
	Declined = "Declined"
	Expired  = "Expired"
	Pending  = "Pending"
)

// DefaultPageLifetime is KNET's page lifetime at Checkout.com.
const DefaultPageLifetime = 7 * time.Minute

// Errors returned by the controls.
var (
	ErrUnknownPayment   = errors.New("ckotest: unknown payment")
	ErrAlreadyCompleted = errors.New("ckotest: payment already completed")
)

// Server is a Sim running on its own httptest.Server.
type Server struct {
	*httptest.Server
	*Sim
}

// NewServer starts a simulator on a local port. Call Close when done.
func NewServer() *Server {
	ts, sim := simkit.NewServer(New)
	return &Server{Server: ts, Sim: sim}
}

// Close waits for webhooks in flight, then shuts the server down.
func (s *Server) Close() {
	s.Sim.Close()
	s.Server.Close()
}

// NotifyPolicy says how the simulator delivers webhooks.
type NotifyPolicy struct {
	// Drop never sends them.
	Drop bool
	// Times sends each one this many times (0 means 1).
	Times int
	// Delay waits before each send.
	Delay time.Duration
	// Pending also sends payment_pending when a payment is requested.
	Pending bool
}

// Webhook is one delivery attempt.
type Webhook struct {
	URL    string
	Type   string
	Body   []byte
	Header http.Header
	// Status is what our server answered (0 if none); Err the transport error.
	Status int
	Err    string
	Forged bool
	At     time.Time
}

type account struct{ channel, webhookKey string }

type action struct {
	ID, Type, Reference string
	Amount              int64
	Approved            bool
	settled             bool
	At                  time.Time
}

type payment struct {
	id, token, key, reference, currency, language, successURL, failureURL, description string
	udf                                                                                [5]string
	amount                                                                             int64
	status                                                                             string
	refunded                                                                           int64
	knetPaymentID, knetTransactionID, bankRef, authCode, postDate                      string
	actions                                                                            []*action
	created, landed                                                                    time.Time
	expiry                                                                             clockwork.Timer
	seq                                                                                int
}

// Sim is the simulated Checkout.com API and KNET page; an http.Handler.
type Sim struct {
	base string

	requests simkit.RequestLog
	faults   simkit.Faults[simkit.Fault]
	out      *simkit.Deliverer

	mu         sync.Mutex
	clock      clockwork.Clock
	accounts   map[string]account
	payments   map[string]*payment
	byToken    map[string]*payment
	idem       map[string]idemEntry
	policy     NotifyPolicy
	lifetime   time.Duration
	autoRefund bool
	webhookURL func(paymentID, reference string) string
	seq        int
	closed     bool
}

type idemEntry struct {
	hash   string
	status int
	body   []byte
}

// New returns a simulator whose links start with baseURL.
func New(baseURL string) *Sim {
	return &Sim{
		base:       strings.TrimRight(baseURL, "/"),
		out:        simkit.NewDeliverer(),
		clock:      clockwork.NewRealClock(),
		accounts:   map[string]account{DefaultSecretKey: {DefaultProcessingChannel, DefaultWebhookKey}},
		payments:   map[string]*payment{},
		byToken:    map[string]*payment{},
		idem:       map[string]idemEntry{},
		lifetime:   DefaultPageLifetime,
		autoRefund: true,
	}
}

// SetClock replaces the real clock: the KNET page lifetime, webhook delays
// and timestamps run on it. With a clockwork.FakeClock a test advances time
// past the page lifetime instead of sleeping through it. Set it before the
// first payment.
func (s *Sim) SetClock(c clockwork.Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = c
	s.out.SetClock(c)
}

// APIBase returns the API base URL clients are configured with.
func (s *Sim) APIBase() string { return s.base }

// AddAccount accepts another secret key with its processing channel and
// webhook signing key.
func (s *Sim) AddAccount(secretKey, processingChannel, webhookKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[secretKey] = account{processingChannel, webhookKey}
}

// SetWebhookURL sets where webhooks go; f gets the payment id and its
// reference. Checkout.com posts to the URL configured on the account's
// workflow; nil (the default) sends no webhooks.
func (s *Sim) SetWebhookURL(f func(paymentID, reference string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = f
}

// SetNotifyPolicy changes how later webhooks are delivered.
func (s *Sim) SetNotifyPolicy(p NotifyPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// SetPageLifetime sets how long a payment stays payable after the shopper
// lands on the KNET page (default 7 minutes).
func (s *Sim) SetPageLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// SetAutoSettleRefunds chooses whether refunds settle at once (default).
func (s *Sim) SetAutoSettleRefunds(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoRefund = on
}

// FailNext makes the next request whose "METHOD /path" starts with prefix
// (e.g. "POST /payments", "GET /payments/") answer status with body.
// Calls queue up; when two prefixes match, the longer answers first (see
// simkit.Faults).
func (s *Sim) FailNext(prefix string, status int, body string) {
	s.faults.Add(prefix, 1, simkit.Fault{Status: status, Body: body})
}

// Requests returns the raw bodies received on a route, named "POST
// /payments", "GET /payments/{id}", "GET /payments/{id}/actions" or "POST
// /payments/{id}/refunds", in order, refused ones included.
func (s *Sim) Requests(route string) [][]byte { return s.requests.Bodies(route) }

// Webhooks returns every delivery attempt so far, in order.
func (s *Sim) Webhooks() []Webhook {
	as := s.out.Attempts()
	out := make([]Webhook, len(as))
	for i, a := range as {
		typ, _ := a.Meta.(string)
		out[i] = Webhook{URL: a.URL, Type: typ, Body: a.Body, Header: a.Header, Status: a.Status, Err: a.Err,
			Forged: a.Forged, At: a.At}
	}
	return out
}

// PaymentIDs returns the ids of all payments, oldest first.
func (s *Sim) PaymentIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*payment, 0, len(s.payments))
	for _, p := range s.payments {
		list = append(list, p)
	}
	slices.SortFunc(list, func(a, b *payment) int { return a.seq - b.seq })
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.id
	}
	return out
}

// Wait blocks until webhooks in flight are delivered (or failed). A webhook
// delayed on a fake clock (SetClock) waits for the test to advance it.
func (s *Sim) Wait() { s.out.Wait() }

// Close stops expiry timers and waits for webhooks in flight.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	for _, p := range s.payments {
		if p.expiry != nil {
			p.expiry.Stop()
		}
	}
	s.mu.Unlock()
	s.out.Close()
}

// SetStatus changes a payment's status silently (what GET /payments/{id}
// answers), without webhook or redirect.
func (s *Sim) SetStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return ErrUnknownPayment
	}
	s.setStatus(p, status)
	return nil
}

// Complete does what a shopper's pick on the KNET page does: sets the
// status (Captured, Canceled or Declined), sends the webhook and returns
// the URL the browser is redirected to.
func (s *Sim) Complete(id, result string) (string, error) {
	s.mu.Lock()
	p, ok := s.payments[id]
	if !ok {
		s.mu.Unlock()
		return "", ErrUnknownPayment
	}
	if p.status != Pending {
		s.mu.Unlock()
		return "", fmt.Errorf("%w: it is %s", ErrAlreadyCompleted, p.status)
	}
	s.setStatus(p, result)
	target := p.failureURL
	if result == Captured {
		target = p.successURL
	}
	event := map[string]string{Captured: "payment_captured", Canceled: "payment_canceled", Declined: "payment_declined"}[result]
	s.mu.Unlock()
	if event != "" {
		s.notify(p, event, "", 0)
	}
	return simkit.AppendQuery(target, url.Values{"cko-session-id": {"sid_" + alnum(26)}}.Encode()), nil
}

// Expire ends a pending payment as Checkout.com does seven minutes after
// the shopper landed: status Expired and a payment_expired webhook.
func (s *Sim) Expire(id string) error {
	s.mu.Lock()
	p, ok := s.payments[id]
	if !ok {
		s.mu.Unlock()
		return ErrUnknownPayment
	}
	if p.status != Pending {
		s.mu.Unlock()
		return fmt.Errorf("%w: it is %s", ErrAlreadyCompleted, p.status)
	}
	s.setStatus(p, Expired)
	s.mu.Unlock()
	s.notify(p, "payment_expired", "", 0)
	return nil
}

// setStatus fills what a processed payment has. Called with s.mu held.
func (s *Sim) setStatus(p *payment, status string) {
	p.status = status
	if status != Pending && p.knetPaymentID == "" {
		p.knetPaymentID = digits(18)
		p.knetTransactionID = digits(15)
		p.bankRef = digits(12)
		p.postDate = s.clock.Now().Format("0102")
	}
	if status == Captured && p.authCode == "" {
		p.authCode = "B" + digits(5)
		p.actions = append(p.actions, &action{ID: "act_" + alnum(26), Type: "Capture", Amount: p.amount, Approved: true, settled: true, At: s.clock.Now()})
	}
	if status != Pending && p.expiry != nil {
		p.expiry.Stop()
	}
}

// SettleRefund settles a pending refund action: approved or declined, with
// its webhook.
func (s *Sim) SettleRefund(paymentID, actionID string, approved bool) error {
	s.mu.Lock()
	p, ok := s.payments[paymentID]
	if !ok {
		s.mu.Unlock()
		return ErrUnknownPayment
	}
	var a *action
	for _, x := range p.actions {
		if x.ID == actionID && x.Type == "Refund" && !x.settled {
			a = x
		}
	}
	if a == nil {
		s.mu.Unlock()
		return fmt.Errorf("ckotest: no pending refund %q", actionID)
	}
	s.settle(p, a, approved)
	s.mu.Unlock()
	event := "payment_refunded"
	if !approved {
		event = "payment_refund_declined"
	}
	s.notify(p, event, a.ID, a.Amount)
	return nil
}

// settle applies a refund action. Called with s.mu held.
func (s *Sim) settle(p *payment, a *action, approved bool) {
	a.settled, a.Approved, a.At = true, approved, s.clock.Now()
	if !approved {
		p.refunded -= a.Amount // was reserved
		return
	}
	if p.refunded >= p.amount {
		p.status = "Refunded"
	} else {
		p.status = "Partially Refunded"
	}
}

// ForgeWebhook POSTs a webhook of eventType about paymentID (with its
// reference, amount and currency when the simulator knows it) to
// webhookURL, signed with signKey ("" sends no signature), as an attacker
// (or a replay) could, and returns the status our server answered.
func (s *Sim) ForgeWebhook(webhookURL, eventType, paymentID, signKey string) (int, error) {
	s.mu.Lock()
	var ref, cur string
	var amount int64
	if p, ok := s.payments[paymentID]; ok { // a well-informed forger
		ref, cur, amount = p.reference, p.currency, p.amount
	}
	now := s.clock.Now()
	s.mu.Unlock()
	body := s.webhookBody(now, eventType, paymentID, ref, cur, amount, "")
	a := s.out.Forge(webhook(webhookURL, eventType, body, signKey))
	if a.Err != "" {
		return a.Status, errors.New(a.Err)
	}
	return a.Status, nil
}

func (s *Sim) webhookBody(now time.Time, eventType, paymentID, reference, currency string, amount int64, actionID string) []byte {
	data := map[string]any{"id": paymentID, "reference": reference, "currency": currency, "amount": amount,
		"response_code": "10000", "response_summary": "Approved", "processed_on": now.UTC().Format(time.RFC3339)}
	if actionID != "" {
		data["action_id"] = actionID
	}
	b, _ := json.Marshal(map[string]any{"id": "evt_" + alnum(26), "type": eventType, "version": "1.0.33",
		"created_on": now.UTC().Format(time.RFC3339Nano), "data": data,
		"_links": map[string]any{"self": map[string]string{"href": s.base + "/workflows/events/evt"}}})
	return b
}

// notify sends a webhook about p per the policy, in the background.
func (s *Sim) notify(p *payment, eventType, actionID string, amount int64) {
	s.mu.Lock()
	f, pol, closed := s.webhookURL, s.policy, s.closed
	acct := s.accounts[p.key]
	if amount == 0 {
		amount = p.amount
	}
	id, ref, cur := p.id, p.reference, p.currency
	now := s.clock.Now()
	s.mu.Unlock()
	if f == nil || pol.Drop || closed {
		return
	}
	body := s.webhookBody(now, eventType, id, ref, cur, amount, actionID)
	s.out.Deliver(simkit.Policy{Times: pol.Times, Delay: pol.Delay}, webhook(f(id, ref), eventType, body, acct.webhookKey), nil)
}

// webhook is a workflow's POST of one event, signed with key in
// Cko-Signature ("" sends no signature).
func webhook(target, eventType string, body []byte, key string) simkit.Message {
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"ckotest"}}
	if key != "" {
		h.Set("Cko-Signature", sign(key, body))
	}
	return simkit.Message{URL: target, Body: body, Header: h, Meta: eventType}
}

// ServeHTTP serves the API and the KNET page (/knet/{token}/pay).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/knet/") {
		s.servePage(w, r)
		return
	}
	s.serveAPI(w, r)
}

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := ""
	switch {
	case len(parts) == 1 && parts[0] == "payments" && r.Method == http.MethodPost:
		route = "POST /payments"
	case len(parts) == 2 && parts[0] == "payments" && r.Method == http.MethodGet:
		route = "GET /payments/{id}"
	case len(parts) == 3 && parts[0] == "payments" && parts[2] == "actions" && r.Method == http.MethodGet:
		route = "GET /payments/{id}/actions"
	case len(parts) == 3 && parts[0] == "payments" && parts[2] == "refunds" && r.Method == http.MethodPost:
		route = "POST /payments/{id}/refunds"
	}
	if route != "" {
		s.requests.Add(route, body)
	}
	if f, ok := s.faults.Take(r.Method + " " + r.URL.Path); ok {
		f.Write(w)
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	acct, known := s.accounts[key]
	s.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized) // Checkout.com answers 401 with no body
		return
	}
	switch route {
	case "POST /payments":
		s.apiRequest(w, r, key, acct, body)
	case "GET /payments/{id}":
		s.apiGet(w, key, parts[1])
	case "GET /payments/{id}/actions":
		s.apiActions(w, key, parts[1])
	case "POST /payments/{id}/refunds":
		s.apiRefund(w, r, key, parts[1], body)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (s *Sim) invalid(w http.ResponseWriter, codes ...string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"request_id": "req_" + alnum(20),
		"error_type": "request_invalid", "error_codes": codes})
}

var threeDecimals = map[string]bool{"BHD": true, "IQD": true, "JOD": true, "KWD": true, "LYD": true, "OMR": true, "TND": true}

func (s *Sim) apiRequest(w http.ResponseWriter, r *http.Request, key string, acct account, body []byte) {
	idemKey := r.Header.Get("Cko-Idempotency-Key")
	hash := sha256.Sum256(body)
	if idemKey != "" {
		s.mu.Lock()
		e, seen := s.idem[key+"|"+idemKey]
		s.mu.Unlock()
		if seen {
			if e.hash != hex.EncodeToString(hash[:]) {
				writeJSON(w, http.StatusConflict, map[string]any{"request_id": "req_" + alnum(20), "error_type": "request_invalid",
					"error_codes": []string{"idempotency_key_reused"}})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cko-Idempotency-Replayed", "true")
			w.WriteHeader(e.status)
			w.Write(e.body)
			return
		}
	}
	var in struct {
		Source *struct {
			Type     string `json:"type"`
			Language string `json:"language"`
			UDF1     string `json:"user_defined_field1"`
			UDF2     string `json:"user_defined_field2"`
			UDF3     string `json:"user_defined_field3"`
			UDF4     string `json:"user_defined_field4"`
			UDF5     string `json:"user_defined_field5"`
		} `json:"source"`
		Amount              json.Number `json:"amount"`
		Currency            string      `json:"currency"`
		Reference           string      `json:"reference"`
		Description         string      `json:"description"`
		ProcessingChannelID string      `json:"processing_channel_id"`
		SuccessURL          string      `json:"success_url"`
		FailureURL          string      `json:"failure_url"`
	}
	if err := decode(body, &in); err != nil {
		s.invalid(w, "request_body_malformed")
		return
	}
	var codes []string
	amount, err := strconv.ParseInt(string(in.Amount), 10, 64)
	switch {
	case in.Amount == "":
		codes = append(codes, "amount_required")
	case err != nil || amount <= 0 || amount > 999_999_999:
		codes = append(codes, "amount_invalid")
	case threeDecimals[in.Currency] && amount%10 != 0:
		codes = append(codes, "amount_invalid") // the last digit must be 0
	}
	switch {
	case in.Currency == "":
		codes = append(codes, "currency_required")
	case len(in.Currency) != 3:
		codes = append(codes, "currency_invalid")
	}
	switch {
	case in.Source == nil || in.Source.Type == "":
		codes = append(codes, "payment_source_required")
	case in.Source.Type != "knet":
		codes = append(codes, "payment_source_type_invalid")
	default:
		if in.Source.Language != "en" && in.Source.Language != "ar" {
			codes = append(codes, "language_invalid")
		}
		if in.Currency != "" && in.Currency != "KWD" {
			codes = append(codes, "currency_not_supported")
		}
	}
	if in.ProcessingChannelID == "" {
		codes = append(codes, "processing_channel_id_required")
	} else if in.ProcessingChannelID != acct.channel {
		codes = append(codes, "processing_channel_id_invalid")
	}
	if len(in.Reference) > 80 {
		codes = append(codes, "reference_invalid")
	}
	for _, u := range []string{in.SuccessURL, in.FailureURL} {
		if pu, err := url.Parse(u); u != "" && (err != nil || pu.Host == "") {
			codes = append(codes, "url_invalid")
		}
	}
	if len(codes) > 0 {
		s.invalid(w, codes...)
		return
	}
	s.mu.Lock()
	s.seq++
	p := &payment{id: "pay_" + lowerAlnum(26), token: "tok_" + lowerAlnum(26), key: key, reference: in.Reference,
		currency: in.Currency, language: in.Source.Language, successURL: in.SuccessURL, failureURL: in.FailureURL,
		description: in.Description, amount: amount, status: Pending, created: s.clock.Now(), seq: s.seq,
		udf: [5]string{in.Source.UDF1, in.Source.UDF2, in.Source.UDF3, in.Source.UDF4, in.Source.UDF5}}
	s.payments[p.id] = p
	s.byToken[p.token] = p
	resp, _ := json.Marshal(map[string]any{"id": p.id, "status": Pending, "reference": p.reference,
		"customer": map[string]string{"id": "cus_" + lowerAlnum(26)},
		"_links": map[string]any{"self": map[string]string{"href": s.base + "/payments/" + p.id},
			"redirect": map[string]string{"href": s.base + "/knet/" + p.token + "/pay"}}})
	if idemKey != "" {
		s.idem[key+"|"+idemKey] = idemEntry{hex.EncodeToString(hash[:]), http.StatusAccepted, resp}
	}
	pol := s.policy
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write(resp)
	if pol.Pending {
		s.notify(p, "payment_pending", "", 0)
	}
}

func (s *Sim) lookup(w http.ResponseWriter, key, id string) *payment {
	p, ok := s.payments[id]
	if !ok || p.key != key {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	return p
}

func (s *Sim) apiGet(w http.ResponseWriter, key, id string) {
	s.mu.Lock()
	p := s.lookup(w, key, id)
	if p == nil {
		s.mu.Unlock()
		return
	}
	src := map[string]any{"type": "knet", "language": p.language}
	for i, v := range p.udf {
		if v != "" {
			src[fmt.Sprintf("user_defined_field%d", i+1)] = v
		}
	}
	if p.knetPaymentID != "" {
		src["knet_payment_id"] = p.knetPaymentID
		src["knet_transaction_id"] = p.knetTransactionID
		src["bank_reference"] = p.bankRef
		src["post_date"] = p.postDate
		src["knet_result"] = map[string]string{Captured: "CAPTURED", Canceled: "CANCELED", Declined: "NOT CAPTURED",
			Expired: "CANCELED", "Refunded": "CAPTURED", "Partially Refunded": "CAPTURED"}[p.status]
	}
	if p.authCode != "" {
		src["auth_code"] = p.authCode
	}
	captured := int64(0)
	if p.authCode != "" {
		captured = p.amount
	}
	refunded := int64(0)
	for _, a := range p.actions {
		if a.Type == "Refund" && a.settled && a.Approved {
			refunded += a.Amount
		}
	}
	doc := map[string]any{"id": p.id, "requested_on": p.created.UTC().Format(time.RFC3339), "source": src,
		"amount": p.amount, "currency": p.currency, "payment_type": "Regular", "reference": p.reference,
		"description": p.description, "status": p.status, "approved": p.authCode != "",
		"balances": map[string]int64{"total_authorized": captured, "total_captured": captured,
			"total_refunded": refunded, "available_to_refund": captured - p.refunded},
		"risk": map[string]bool{"flagged": false},
		"_links": map[string]any{"self": map[string]string{"href": s.base + "/payments/" + p.id},
			"actions": map[string]string{"href": s.base + "/payments/" + p.id + "/actions"}}}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

func (s *Sim) apiActions(w http.ResponseWriter, key, id string) {
	s.mu.Lock()
	p := s.lookup(w, key, id)
	if p == nil {
		s.mu.Unlock()
		return
	}
	list := []map[string]any{}
	for i := len(p.actions) - 1; i >= 0; i-- { // newest first
		a := p.actions[i]
		if !a.settled {
			continue
		}
		code, summary := "10000", "Approved"
		if !a.Approved {
			code, summary = "20046", "Bank Decline"
		}
		m := map[string]any{"id": a.ID, "type": a.Type, "processed_on": a.At.UTC().Format(time.RFC3339),
			"amount": a.Amount, "approved": a.Approved, "response_code": code, "response_summary": summary}
		if a.Reference != "" {
			m["reference"] = a.Reference
		}
		list = append(list, m)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Sim) apiRefund(w http.ResponseWriter, r *http.Request, key, id string, body []byte) {
	idemKey := r.Header.Get("Cko-Idempotency-Key")
	s.mu.Lock()
	if e, seen := s.idem[key+"|refund|"+idemKey]; idemKey != "" && seen {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cko-Idempotency-Replayed", "true")
		w.WriteHeader(e.status)
		w.Write(e.body)
		return
	}
	p := s.lookup(w, key, id)
	if p == nil {
		s.mu.Unlock()
		return
	}
	var in struct {
		Amount    json.Number `json:"amount"`
		Reference string      `json:"reference"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decode(body, &in); err != nil {
			s.mu.Unlock()
			s.invalid(w, "request_body_malformed")
			return
		}
	}
	left := p.amount - p.refunded
	amount := left
	if in.Amount != "" {
		n, err := strconv.ParseInt(string(in.Amount), 10, 64)
		if err != nil || n <= 0 || (threeDecimals[p.currency] && n%10 != 0) {
			s.mu.Unlock()
			s.invalid(w, "amount_invalid")
			return
		}
		amount = n
	}
	if p.authCode == "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"request_id": "req_" + alnum(20), "error_type": "action_not_allowed",
			"error_codes": []string{"refund_not_allowed"}})
		return
	}
	if amount > left {
		s.mu.Unlock()
		s.invalid(w, "refund_amount_exceeds_balance")
		return
	}
	a := &action{ID: "act_" + lowerAlnum(26), Type: "Refund", Reference: in.Reference, Amount: amount, At: s.clock.Now()}
	p.actions = append(p.actions, a)
	p.refunded += amount
	auto := s.autoRefund
	resp, _ := json.Marshal(map[string]any{"action_id": a.ID, "reference": in.Reference,
		"_links": map[string]any{"payment": map[string]string{"href": s.base + "/payments/" + p.id}}})
	if idemKey != "" {
		s.idem[key+"|refund|"+idemKey] = idemEntry{"", http.StatusAccepted, resp}
	}
	if auto {
		s.settle(p, a, true)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write(resp)
	if auto {
		s.notify(p, "payment_refunded", a.ID, amount)
	}
}

// page is the KNET page: Checkout.com's three outcomes.
var page = &simkit.Page{Title: "KNET (Checkout.com simulator)", Heading: "KNET — Checkout.com simulator", Field: "result",
	Buttons: []simkit.Button{{Value: Captured, Label: "Captured (pay)"}, {Value: Canceled, Label: "Canceled (cancel)"},
		{Value: Declined, Label: "Declined (bank declines)"}}}

// servePage is the KNET page. The first request is the shopper landing:
// the page lifetime starts then, on the simulator's clock.
func (s *Sim) servePage(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/knet/"), "/pay")
	s.mu.Lock()
	var view *simkit.View
	var id string
	if p, ok := s.byToken[tok]; ok {
		if p.landed.IsZero() && p.status == Pending {
			p.landed = s.clock.Now()
			pid := p.id
			p.expiry = s.clock.AfterFunc(s.lifetime, func() { _ = s.Expire(pid) })
		}
		id = p.id
		view = &simkit.View{Noun: "Reference", ID: p.reference, Amount: fmt.Sprintf("%d minor units %s", p.amount, p.currency)}
		if p.status != Pending {
			view.Done = p.status
		}
	}
	s.mu.Unlock()
	page.Serve(w, r, view, func(result string) (string, error) { return s.Complete(id, result) })
}

func writeJSON(w http.ResponseWriter, status int, v any) { simkit.WriteJSON(w, status, v) }

func decode(body []byte, v any) error { return simkit.DecodeNumbers(body, v) }

func sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func alnum(n int) string { return simkit.Random(simkit.Alnum, n) }

func lowerAlnum(n int) string { return simkit.Random(simkit.Base32Lower, n) }

func digits(n int) string { return simkit.Random(simkit.Digits, n) }
