// Package kupaytest simulates KuPay's generic API (kupay.finance) for tests
// and demos, in the spirit of net/http/httptest.
//
//	srv := kupaytest.NewServer()
//	defer srv.Close()
//	c := &kupay.Client{BaseURL: srv.URL, Token: kupaytest.DefaultToken}
//	res, _ := c.CreatePayment(ctx, req)            // 200 {pay_url, payment_id}
//	ret, _ := srv.Complete(res.PaymentID, kupaytest.Paid) // the shopper pays
//
// It follows KuPay's documented API: POST /v1/payment/create → 200
// {pay_url, payment_id}; GET /v1/payment/status/{id} → 200 {payment_id,
// status, created_at, order_number, currency, amount}; Bearer tokens; 401
// and 404 answer `[]`. Amounts are read as JSON number literals, never as
// floats, and echoed with the digits received.
//
// The hosted page GET /pay/{payment_id} offers Paid and Cancel; a pick
// calls callback_url and redirects the browser to paid_url or cancel_url.
// KuPay's callbacks are not documented for this API: the simulator sends
// them unsigned, as a GET with payment_id, order_number and status in the
// query (the shape of its WooCommerce plugin's callbacks), or as a JSON POST
// with NotifyPolicy.JSON.
//
// Choices where KuPay is undocumented (UNCONFIRMED): an invalid create
// body or an unsupported currency answers 422 {"message"}; a payment
// starts "open"; the page's Cancel sets "cancelled".
//
// Test controls (goroutine-safe): Complete, SetStatus, SetNotifyPolicy
// (drop, repeat, delay, JSON), ForgeCallback, FailNext, AddToken; logs
// Requests, Callbacks, PaymentIDs; Wait.
package kupaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"paybridge/internal/checkout"
)

// DefaultToken is the API token every simulator accepts.
const DefaultToken = "kupay_test_token"

// Statuses the simulator reports.
const (
	Open      = "open"
	Paid      = "paid"
	Cancelled = "cancelled"
	Expired   = "expired"
	Failure   = "failure"
)

// Currencies KuPay documents.
var currencies = []string{"USD", "EUR", "JPY", "GBP", "AUD", "CAD", "CHF", "CNY", "HKD", "NZD", "SEK", "KRW", "SGD", "NOK", "MXN", "INR", "BRL", "NGN"}

// ErrUnknownPayment: no payment has this id.
var ErrUnknownPayment = errors.New("kupaytest: unknown payment")

// Server is a Sim on its own httptest.Server.
type Server struct {
	*httptest.Server
	*Sim
}

// NewServer starts a simulator on a local port. Call Close when done.
func NewServer() *Server {
	var sim *Sim
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	sim = New("http://" + ts.Listener.Addr().String())
	ts.Start()
	return &Server{Server: ts, Sim: sim}
}

// Close waits for callbacks in flight, then shuts the server down.
func (s *Server) Close() {
	s.Sim.Wait()
	s.Server.Close()
}

// NotifyPolicy says how callbacks are delivered.
type NotifyPolicy struct {
	Drop  bool
	Times int
	Delay time.Duration
	// JSON sends a JSON POST instead of a GET with a query.
	JSON bool
}

// Callback is one delivery attempt.
type Callback struct {
	Method string
	URL    string
	Body   []byte
	Status int
	Err    string
	Forged bool
	At     time.Time
}

type payment struct {
	id, token, orderID, orderNumber, createdAt, currency, amount, email string
	cancelURL, paidURL, callbackURL, statusURL                          string
	status                                                              string
	seq                                                                 int
}

type failure struct {
	status int
	body   string
}

// Sim is the simulated KuPay API and payment page; an http.Handler.
type Sim struct {
	base string

	mu       sync.Mutex
	tokens   map[string]bool
	payments map[string]*payment
	requests map[string][][]byte
	fails    map[string][]failure
	calls    []Callback
	policy   NotifyPolicy
	hc       *http.Client
	seq      int
	wg       sync.WaitGroup
}

// New returns a simulator whose links start with baseURL.
func New(baseURL string) *Sim {
	return &Sim{base: strings.TrimRight(baseURL, "/"), tokens: map[string]bool{DefaultToken: true},
		payments: map[string]*payment{}, requests: map[string][][]byte{}, fails: map[string][]failure{},
		hc: &http.Client{Timeout: 10 * time.Second}}
}

// APIBase is the API host to configure clients with.
func (s *Sim) APIBase() string { return s.base }

// AddToken accepts another API token.
func (s *Sim) AddToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = true
}

// SetNotifyPolicy changes how later callbacks are delivered.
func (s *Sim) SetNotifyPolicy(p NotifyPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// FailNext makes the next request whose "METHOD /path" starts with prefix
// (e.g. "POST /v1/payment/create") answer status with body.
func (s *Sim) FailNext(prefix string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[prefix] = append(s.fails[prefix], failure{status, body})
}

// Requests returns the raw bodies received on "create" or "status", in
// order, refused ones included.
func (s *Sim) Requests(route string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.requests[route]))
	for i, b := range s.requests[route] {
		out[i] = bytes.Clone(b)
	}
	return out
}

// Callbacks returns every callback attempt so far, in order.
func (s *Sim) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Callback(nil), s.calls...)
}

// PaymentIDs returns the payment ids, oldest first.
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

// Wait blocks until callbacks in flight are done.
func (s *Sim) Wait() { s.wg.Wait() }

// SetStatus changes a payment's status silently.
func (s *Sim) SetStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return ErrUnknownPayment
	}
	p.status = status
	return nil
}

// Complete does what the shopper's pick on the page does: sets the status
// (Paid or Cancelled), calls callback_url and returns where the browser
// goes (paid_url or cancel_url).
func (s *Sim) Complete(id, status string) (string, error) {
	s.mu.Lock()
	p, ok := s.payments[id]
	if !ok {
		s.mu.Unlock()
		return "", ErrUnknownPayment
	}
	if p.status != Open {
		s.mu.Unlock()
		return "", fmt.Errorf("kupaytest: payment already %s", p.status)
	}
	p.status = status
	target := p.cancelURL
	if status == Paid {
		target = p.paidURL
	}
	cb, pol, hc := p.callbackURL, s.policy, s.hc
	fields := url.Values{"payment_id": {p.id}, "order_number": {p.orderNumber}, "status": {status}}
	s.mu.Unlock()
	if cb != "" && !pol.Drop {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for range max(pol.Times, 1) {
				if pol.Delay > 0 {
					time.Sleep(pol.Delay)
				}
				s.send(hc, cb, fields, pol.JSON, false)
			}
		}()
	}
	return target, nil
}

// ForgeCallback calls callbackURL with fields as anyone could (KuPay's
// callbacks are unsigned) and returns the status our server answered.
func (s *Sim) ForgeCallback(callbackURL string, fields url.Values) (int, error) {
	s.mu.Lock()
	hc := s.hc
	s.mu.Unlock()
	c := s.send(hc, callbackURL, fields, false, true)
	if c.Err != "" {
		return c.Status, errors.New(c.Err)
	}
	return c.Status, nil
}

func (s *Sim) send(hc *http.Client, target string, fields url.Values, asJSON, forged bool) Callback {
	c := Callback{Method: http.MethodGet, URL: target, Forged: forged, At: time.Now()}
	var body io.Reader
	if asJSON {
		m := map[string]string{}
		for k := range fields {
			m[k] = fields.Get(k)
		}
		c.Body, _ = json.Marshal(m)
		c.Method = http.MethodPost
		body = bytes.NewReader(c.Body)
	} else {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		c.URL = target + sep + fields.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		c.Err = err.Error()
	} else {
		if asJSON {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "kupaytest")
		resp, err := hc.Do(req)
		if err != nil {
			c.Err = err.Error()
		} else {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			c.Status = resp.StatusCode
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return c
}

// ServeHTTP serves /v1/payment/create, /v1/payment/status/{id} and the
// page /pay/{id}.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/pay/") {
		s.servePage(w, r, strings.TrimPrefix(r.URL.Path, "/pay/"))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	route := ""
	switch {
	case r.URL.Path == "/v1/payment/create" && r.Method == http.MethodPost:
		route = "create"
	case strings.HasPrefix(r.URL.Path, "/v1/payment/status/") && r.Method == http.MethodGet:
		route = "status"
	}
	s.mu.Lock()
	if route != "" {
		s.requests[route] = append(s.requests[route], bytes.Clone(body))
	}
	line := r.Method + " " + r.URL.Path
	for p, q := range s.fails {
		if len(q) > 0 && strings.HasPrefix(line, p) {
			f := q[0]
			s.fails[p] = q[1:]
			s.mu.Unlock()
			w.WriteHeader(f.status)
			io.WriteString(w, f.body)
			return
		}
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	known := ok && s.tokens[tok]
	s.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusUnauthorized, []any{})
		return
	}
	switch route {
	case "create":
		s.create(w, tok, body)
	case "status":
		s.status(w, tok, strings.TrimPrefix(r.URL.Path, "/v1/payment/status/"))
	default:
		writeJSON(w, http.StatusNotFound, []any{})
	}
}

func (s *Sim) create(w http.ResponseWriter, tok string, body []byte) {
	var in struct {
		ID             string      `json:"id"`
		OrderNumber    string      `json:"order_number"`
		CreatedAt      string      `json:"created_at"`
		Currency       string      `json:"currency"`
		Amount         json.Number `json:"amount"`
		Email          string      `json:"email"`
		OrderStatusURL string      `json:"order_status_url"`
		CancelURL      string      `json:"cancel_url"`
		PaidURL        string      `json:"paid_url"`
		CallbackURL    string      `json:"callback_url"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "invalid JSON body"})
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"id", in.ID}, {"order_number", in.OrderNumber}, {"created_at", in.CreatedAt},
		{"currency", in.Currency}, {"amount", string(in.Amount)}, {"cancel_url", in.CancelURL}, {"paid_url", in.PaidURL}, {"callback_url", in.CallbackURL}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "missing " + strings.Join(missing, ", ")})
		return
	}
	if !slices.Contains(currencies, in.Currency) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "unsupported currency " + in.Currency})
		return
	}
	if _, err := time.Parse(time.RFC3339, in.CreatedAt); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "created_at must be a date like 2021-12-23T18:58:04+01:00"})
		return
	}
	if m, err := checkout.ParseMoney(string(in.Amount), in.Currency); err != nil || m.Minor == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "invalid amount " + string(in.Amount)})
		return
	}
	s.mu.Lock()
	s.seq++
	p := &payment{id: uuid(), token: tok, orderID: in.ID, orderNumber: in.OrderNumber, createdAt: in.CreatedAt,
		currency: in.Currency, amount: string(in.Amount), email: in.Email, cancelURL: in.CancelURL, paidURL: in.PaidURL,
		callbackURL: in.CallbackURL, statusURL: in.OrderStatusURL, status: Open, seq: s.seq}
	s.payments[p.id] = p
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"pay_url": s.base + "/pay/" + p.id, "payment_id": p.id})
}

func (s *Sim) status(w http.ResponseWriter, tok, id string) {
	s.mu.Lock()
	p, ok := s.payments[id]
	if !ok || p.token != tok {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, []any{})
		return
	}
	// The amount is echoed as the number literal received.
	doc := fmt.Sprintf(`{"payment_id":%q,"status":%q,"created_at":%q,"order_number":%q,"currency":%q,"amount":%s}`,
		p.id, p.status, p.createdAt, p.orderNumber, p.currency, p.amount)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, doc)
}

var page = template.Must(template.New("kupay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>KuPay simulator</title>
<style>body{font-family:sans-serif;max-width:30em;margin:3em auto}button{display:block;width:100%;margin:.5em 0;padding:.8em;font-size:1.1em}</style>
</head><body><h1>KuPay simulator</h1>
<p>Order <b>{{.Order}}</b>: <b>{{.Amount}} {{.Currency}}</b></p>
{{if ne .Status "open"}}<p>This payment is <b>{{.Status}}</b>.</p>{{else}}
<form method="post"><button name="status" value="paid">Paid (wallet confirms)</button>
<button name="status" value="cancelled">Cancel</button></form>{{end}}
</body></html>`))

func (s *Sim) servePage(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	p, ok := s.payments[id]
	var view struct{ Order, Amount, Currency, Status string }
	if ok {
		view.Order, view.Amount, view.Currency, view.Status = p.orderNumber, p.amount, p.currency, p.status
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown payment", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, view)
	case http.MethodPost:
		st := r.PostFormValue("status")
		if st != Paid && st != Cancelled {
			http.Error(w, "pick paid or cancelled", http.StatusBadRequest)
			return
		}
		target, err := s.Complete(id, st)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
