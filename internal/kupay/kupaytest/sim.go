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
// (drop, repeat, delay, JSON), SetClock (a fake clock for delays),
// ForgeCallback, FailNext (see simkit.Faults for which of two matching
// prefixes answers), AddToken; logs Requests, Callbacks, PaymentIDs; Wait.
package kupaytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/checkout"
	"paybridge/internal/simkit"
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
	ts, sim := simkit.NewServer(New)
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

// Sim is the simulated KuPay API and payment page; an http.Handler.
type Sim struct {
	base string

	requests simkit.RequestLog
	faults   simkit.Faults[simkit.Fault]
	out      *simkit.Deliverer

	mu       sync.Mutex
	tokens   map[string]bool
	payments map[string]*payment
	policy   NotifyPolicy
	seq      int
}

// New returns a simulator whose links start with baseURL.
func New(baseURL string) *Sim {
	return &Sim{base: strings.TrimRight(baseURL, "/"), out: simkit.NewDeliverer(),
		tokens: map[string]bool{DefaultToken: true}, payments: map[string]*payment{}}
}

// SetClock replaces the real clock callback delays wait on and attempts
// are stamped with; with a clockwork.FakeClock a test advances time
// instead of sleeping.
func (s *Sim) SetClock(c clockwork.Clock) { s.out.SetClock(c) }

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
// (e.g. "POST /v1/payment/create") answer status with body. Calls queue
// up; when two prefixes match, the longer answers first (see
// simkit.Faults).
func (s *Sim) FailNext(prefix string, status int, body string) {
	s.faults.Add(prefix, 1, simkit.Fault{Status: status, Body: body})
}

// Requests returns the raw bodies received on "create" or "status", in
// order, refused ones included.
func (s *Sim) Requests(route string) [][]byte { return s.requests.Bodies(route) }

// Callbacks returns every callback attempt so far, in order.
func (s *Sim) Callbacks() []Callback {
	as := s.out.Attempts()
	out := make([]Callback, len(as))
	for i, a := range as {
		out[i] = Callback{Method: a.Method, URL: a.URL, Body: a.Body, Status: a.Status, Err: a.Err, Forged: a.Forged, At: a.At}
	}
	return out
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

// Wait blocks until callbacks in flight are done. A callback delayed on a
// fake clock (SetClock) waits for the test to advance it.
func (s *Sim) Wait() { s.out.Wait() }

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
	cb, pol := p.callbackURL, s.policy
	fields := url.Values{"payment_id": {p.id}, "order_number": {p.orderNumber}, "status": {status}}
	s.mu.Unlock()
	if cb != "" {
		s.out.Deliver(simkit.Policy{Drop: pol.Drop, Times: pol.Times, Delay: pol.Delay}, callback(cb, fields, pol.JSON), nil)
	}
	return target, nil
}

// ForgeCallback calls callbackURL with fields as anyone could (KuPay's
// callbacks are unsigned) and returns the status our server answered.
func (s *Sim) ForgeCallback(callbackURL string, fields url.Values) (int, error) {
	a := s.out.Forge(callback(callbackURL, fields, false))
	if a.Err != "" {
		return a.Status, errors.New(a.Err)
	}
	return a.Status, nil
}

// callback is a GET with the fields in the query, or a JSON POST.
func callback(target string, fields url.Values, asJSON bool) simkit.Message {
	h := http.Header{"User-Agent": {"kupaytest"}}
	if !asJSON {
		return simkit.Message{Method: http.MethodGet, URL: simkit.AppendQuery(target, fields.Encode()), Header: h}
	}
	m := map[string]string{}
	for k := range fields {
		m[k] = fields.Get(k)
	}
	body, _ := json.Marshal(m)
	h.Set("Content-Type", "application/json")
	return simkit.Message{Method: http.MethodPost, URL: target, Body: body, Header: h}
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
	if route != "" {
		s.requests.Add(route, body)
	}
	if f, ok := s.faults.Take(r.Method + " " + r.URL.Path); ok {
		f.Write(w)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
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
	if err := simkit.DecodeNumbers(body, &in); err != nil {
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
	p := &payment{id: simkit.UUID(), token: tok, orderID: in.ID, orderNumber: in.OrderNumber, createdAt: in.CreatedAt,
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

// page is KuPay's payment page: the wallet pays, or the shopper cancels.
var page = &simkit.Page{Title: "KuPay simulator", Heading: "KuPay simulator", Field: "status",
	Buttons: []simkit.Button{{Value: Paid, Label: "Paid (wallet confirms)"}, {Value: Cancelled, Label: "Cancel"}}}

func (s *Sim) servePage(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	var view *simkit.View
	if p, ok := s.payments[id]; ok {
		view = &simkit.View{Noun: "Order", ID: p.orderNumber, Amount: p.amount + " " + p.currency}
		if p.status != Open {
			view.Done = p.status
		}
	}
	s.mu.Unlock()
	page.Serve(w, r, view, func(status string) (string, error) { return s.Complete(id, status) })
}

func writeJSON(w http.ResponseWriter, status int, v any) { simkit.WriteJSON(w, status, v) }
