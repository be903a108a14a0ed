// Package upaytest simulates the UPayments API for tests and demos, in the
// spirit of net/http/httptest.
//
// In a test:
//
//	srv := upaytest.NewServer()
//	defer srv.Close()
//	c := &upay.Client{BaseURL: srv.APIBase(), APIKey: upaytest.DefaultKey}
//	res, _ := c.Charge(ctx, req)         // data.link → srv.URL+"/pay/{trackId}"
//	ret, _ := srv.Complete(res.TrackID, upaytest.Captured) // shopper pays
//
// Mounted inside another server (a demo), give New the public address of
// the mount point and strip the prefix:
//
//	sim := upaytest.New("http://localhost:8080/upay-sim")
//	mux.Handle("/upay-sim/", http.StripPrefix("/upay-sim", sim))
//	// point the upay adapter at http://localhost:8080/upay-sim/api/v1
//
// The simulator follows UPayments' documented API: the same paths under
// /api/v1/, Bearer keys (default [DefaultKey]), 201 {status, message, data}
// answers, 401 {"message":"Unauthorized"}, 422 {"message", "errors"}.
// Its hosted page GET /pay/{trackId} has three buttons (CAPTURED, NOT
// CAPTURED, CANCELED); a pick notifies notificationUrl with a form POST and
// redirects the browser to returnUrl or cancelUrl, appending the fields with
// "?" even when the URL already has a query, as UPayments does.
//
// Test controls (all goroutine-safe): Complete (a shopper's pick without a
// browser), SetResult (change the gateway's truth silently),
// SetNotifyPolicy (drop, repeat, delay, JSON), ForgeNotification, FailNext
// (inject one failure: a 500, a non-JSON "whitelist" page …; see
// simkit.Faults for which of two matching prefixes answers), SetClock
// (a fake clock for delays and timestamps), SetSecret
// (require signed requests, sign notifications), AddKey,
// SetAutoSettleRefunds / SettleRefund, SaveCard; and the logs Charges,
// Requests, Notifications, TrackIDs. Wait blocks until notifications in
// flight are done.
//
// Choices where UPayments' behaviour is undocumented: an unknown track id
// answers 201 {"status": false}; refunds settle at once unless
// SetAutoSettleRefunds(false); notifications are sent once, 10 s timeout.
package upaytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
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

	"paybridge/internal/checkout"
	"paybridge/internal/simkit"
)

// DefaultKey is the sandbox API key every simulator accepts (UPayments'
// published sandbox token).
const DefaultKey = "jtest123"

// Results a shopper can produce on the hosted page.
const (
	Captured    = "CAPTURED"
	NotCaptured = "NOT CAPTURED"
	Canceled    = "CANCELED"
)

// Errors returned by the controls.
var (
	// ErrUnknownTrackID: no charge has this track id.
	ErrUnknownTrackID = errors.New("upaytest: unknown track id")
	// ErrAlreadyCompleted: the shopper already acted on this charge.
	ErrAlreadyCompleted = errors.New("upaytest: charge already completed")
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

// APIBase is the API base to configure clients with (URL + "/api/v1").
func (s *Server) APIBase() string { return s.Sim.APIBase() }

// Close waits for notifications in flight, then shuts the server down.
func (s *Server) Close() {
	s.Sim.Wait()
	s.Server.Close()
}

// NotifyPolicy says how the simulator delivers notifications.
type NotifyPolicy struct {
	// Drop never sends them (UPayments' notifications do get lost).
	Drop bool
	// Times sends each one this many times (0 means 1).
	Times int
	// Delay waits before (each) sending.
	Delay time.Duration
	// JSON sends a JSON object instead of a form.
	JSON bool
}

// Notification is one delivery attempt to a notificationUrl.
type Notification struct {
	URL    string
	Fields url.Values
	// Body is what was sent; Header its headers (signature included).
	Body   []byte
	Header http.Header
	// Status is the HTTP status our server answered (0 if none); Err the
	// transport error.
	Status int
	Err    string
	// Forged is true for ForgeNotification.
	Forged bool
	At     time.Time
}

type txn struct {
	trackID, upayOrderID, paymentID, tranID, ref, auth, postDate, invoiceID string
	key                                                                     string
	orderID, reference, refID, description, customerUniqueID, extraData     string
	src                                                                     string
	amount                                                                  checkout.Money
	refunded                                                                int64
	returnURL, cancelURL, notifyURL                                         string
	result                                                                  string // "" until the shopper acts
	resultSet                                                               bool
	created, completed                                                      time.Time
	saveCard                                                                bool
	customerToken                                                           string
	notifyCalled                                                            bool
	seq                                                                     int
	// vendors are the shares of a split charge (extraMerchantData) by
	// IBAN, in minor units, and what each refunded.
	vendors, vendorRefunded map[string]int64
}

type refund struct {
	id, arn, txnTrack string
	amount            checkout.Money
	refunded          bool
	at                time.Time
}

// Sim is the simulated UPayments API and hosted page; it is an
// http.Handler. Its methods are safe for concurrent use.
type Sim struct {
	base string

	requests simkit.RequestLog
	faults   simkit.Faults[simkit.Fault]
	out      *simkit.Deliverer

	mu         sync.Mutex
	clock      clockwork.Clock
	keys       map[string]string // key → secret ("" = no signing)
	txns       map[string]*txn
	refunds    map[string]*refund
	tokens     map[string][]Card
	accounts   map[string]Account // by key; a key without one is white-label with every button
	policy     NotifyPolicy
	autoRefund bool
	seq        int
}

// Card is a saved card as retrieve-customer-cards lists it.
type Card struct {
	Brand  string `json:"brand"`
	Number string `json:"number"`
	Scheme string `json:"scheme"`
	Token  string `json:"token"`
}

// New returns a simulator whose links (hosted page, add-card page) start
// with baseURL, the address it is reachable at.
func New(baseURL string) *Sim {
	return &Sim{
		base:       strings.TrimRight(baseURL, "/"),
		out:        simkit.NewDeliverer(),
		clock:      clockwork.NewRealClock(),
		keys:       map[string]string{DefaultKey: ""},
		txns:       map[string]*txn{},
		refunds:    map[string]*refund{},
		tokens:     map[string][]Card{},
		accounts:   map[string]Account{},
		autoRefund: true,
	}
}

// SetClock replaces the real clock: notification delays wait on it, and
// timestamps (created, completed, signature windows) are read from it. With
// a clockwork.FakeClock a test advances time instead of sleeping.
func (s *Sim) SetClock(c clockwork.Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = c
	s.out.SetClock(c)
}

// APIBase returns baseURL + "/api/v1".
func (s *Sim) APIBase() string { return s.base + "/api/v1" }

// AddKey accepts another API key.
func (s *Sim) AddKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; !ok {
		s.keys[key] = ""
	}
}

// SetSecret accepts key and requires its requests to be HMAC-signed with
// secret (X-Timestamp, X-Signature); notifications of charges made with the
// key are signed with it too. An empty secret turns signing off.
func (s *Sim) SetSecret(key, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = secret
}

// Account is how UPayments has set up a merchant's account: white-label
// (the merchant's checkout names the method) or not (the hosted page offers
// its own), and which pay buttons are on (check-payment-button-status's
// payButtons keys: knet, credit_card, samsung_pay, apple_pay, google_pay,
// apple_pay_knet).
type Account struct {
	WhiteLabel bool
	Buttons    []string
}

// AllButtons are the pay buttons of an account set up with everything.
var AllButtons = []string{"knet", "credit_card", "samsung_pay", "apple_pay", "google_pay", "apple_pay_knet"}

// SetAccount sets up the account of key (accepting the key). A
// non-white-label account's charges that name a paymentGateway.src other
// than create-invoice get seed 000's answer: a link to the page that
// offers every method, "You are not white label user", no trackId.
func (s *Sim) SetAccount(key string, a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; !ok {
		s.keys[key] = ""
	}
	s.accounts[key] = a
}

func (s *Sim) account(key string) Account {
	if a, ok := s.accounts[key]; ok {
		return a
	}
	return Account{WhiteLabel: true, Buttons: AllButtons}
}

// SetNotifyPolicy changes how later notifications are delivered.
func (s *Sim) SetNotifyPolicy(p NotifyPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// SetNotifyClient replaces the HTTP client notifications are sent with
// (default: 10 s timeout).
func (s *Sim) SetNotifyClient(c *http.Client) { s.out.SetClient(c) }

// SetAutoSettleRefunds chooses whether refunds report is_refunded at once
// (the default) or stay pending until SettleRefund.
func (s *Sim) SetAutoSettleRefunds(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoRefund = on
}

// SettleRefund marks a refund (by its refund_order_id) as refunded.
func (s *Sim) SettleRefund(refundOrderID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[refundOrderID]
	if !ok {
		return fmt.Errorf("upaytest: unknown refund %q", refundOrderID)
	}
	r.refunded = true
	return nil
}

// FailNext makes the next request to path (the API path after /api/v1/,
// e.g. "charge" or "get-payment-status"; a leading "/api/v1/" is ignored;
// it matches by prefix) answer status with body instead. Body is sent
// verbatim: a non-JSON body with status 200 imitates the IP-whitelist page.
// Calls queue up; when two prefixes match, the longer answers first (see
// simkit.Faults).
func (s *Sim) FailNext(path string, status int, body string) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "/"), "api/v1/")
	s.faults.Add(path, 1, simkit.Fault{Status: status, Body: body})
}

// Charges returns the raw JSON bodies of every authenticated POST charge
// received, in order (invoices and invalid ones included), e.g. to check that 12.345 arrived as 12.345.
func (s *Sim) Charges() [][]byte { return s.Requests("charge") }

// Requests returns the raw bodies received on an API route ("charge",
// "create-refund", "add-card" …; a leading "/api/v1/" is ignored), in
// order: every request that reached the route, answered or refused
// (injected failures and bad keys included).
func (s *Sim) Requests(route string) [][]byte {
	route = strings.TrimPrefix(strings.TrimPrefix(route, "/"), "api/v1/")
	return s.requests.Bodies(route)
}

// Notifications returns every delivery attempt so far, in order.
func (s *Sim) Notifications() []Notification {
	as := s.out.Attempts()
	out := make([]Notification, len(as))
	for i, a := range as {
		fields, _ := a.Meta.(url.Values)
		out[i] = Notification{URL: a.URL, Fields: fields, Body: a.Body, Header: a.Header,
			Status: a.Status, Err: a.Err, Forged: a.Forged, At: a.At}
	}
	return out
}

// Wait blocks until the notifications in flight are delivered (or failed).
// A notification delayed on a fake clock (SetClock) waits for the test to
// advance it.
func (s *Sim) Wait() { s.out.Wait() }

// SetResult changes the gateway's truth for a charge directly (what
// get-payment-status answers), without notification or redirect.
// An empty result makes it null again.
func (s *Sim) SetResult(trackID, result string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txns[trackID]
	if !ok {
		return ErrUnknownTrackID
	}
	s.fillPaid(t, result)
	return nil
}

// TrackIDs returns the track ids of all charges, oldest first.
func (s *Sim) TrackIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*txn, 0, len(s.txns))
	for _, t := range s.txns {
		list = append(list, t)
	}
	slices.SortFunc(list, func(a, b *txn) int { return a.seq - b.seq })
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.trackID
	}
	return out
}

// Complete does what a shopper's pick on the hosted page does: records
// result, sends the notification (per the policy, in the background) and
// returns the URL the browser would be redirected to.
func (s *Sim) Complete(trackID, result string) (returnURL string, err error) {
	s.mu.Lock()
	t, ok := s.txns[trackID]
	if !ok {
		s.mu.Unlock()
		return "", ErrUnknownTrackID
	}
	if t.resultSet {
		s.mu.Unlock()
		return "", ErrAlreadyCompleted
	}
	s.fillPaid(t, result)
	fields := t.fields()
	target := t.cancelURL
	if result == Captured {
		target = t.returnURL
	}
	notifyURL, secret, pol := t.notifyURL, s.keys[t.key], s.policy
	s.mu.Unlock()

	if notifyURL != "" {
		s.out.Deliver(simkit.Policy{Drop: pol.Drop, Times: pol.Times, Delay: pol.Delay},
			notification(notifyURL, fields, secret, pol.JSON), func(simkit.Attempt) {
				s.mu.Lock()
				t.notifyCalled = true
				s.mu.Unlock()
			})
	}
	// UPayments appends with "?" whether or not the URL has a query.
	return target + "?" + encodeOrdered(fields), nil
}

// ForgeNotification POSTs fields as a form to notifyURL, as an attacker
// could, and returns the status our server answered. It is logged with
// Forged set.
func (s *Sim) ForgeNotification(notifyURL string, fields url.Values) (int, error) {
	a := s.out.Forge(notification(notifyURL, fields, "", false))
	if a.Err != "" {
		return a.Status, errors.New(a.Err)
	}
	return a.Status, nil
}

// notification is what UPayments POSTs to a notificationUrl: a form in its
// field order (or JSON), signed with the key's secret when it has one.
func notification(notifyURL string, fields url.Values, secret string, asJSON bool) simkit.Message {
	var body []byte
	ct := "application/x-www-form-urlencoded"
	if asJSON {
		m := map[string]string{}
		for k := range fields {
			m[k] = fields.Get(k)
		}
		body, _ = json.Marshal(m)
		ct = "application/json"
	} else {
		body = []byte(encodeOrdered(fields))
	}
	msg := simkit.Message{URL: notifyURL, Body: body, Meta: fields,
		Header: http.Header{"Content-Type": {ct}, "User-Agent": {"upaytest"}}}
	if secret != "" {
		msg.Prepare = func(r *http.Request, now time.Time) {
			ts := strconv.FormatInt(now.Unix(), 10)
			r.Header.Set("X-Timestamp", ts)
			r.Header.Set("X-Signature", sign(secret, ts, "POST", notifyURL, body))
		}
	}
	return msg
}

// fillPaid sets the result and the fields a processed payment has.
// Called with s.mu held.
func (s *Sim) fillPaid(t *txn, result string) {
	t.result, t.resultSet = result, result != ""
	if !t.resultSet {
		return
	}
	t.completed = s.clock.Now()
	if t.paymentID == "" {
		t.paymentID = digits(18)
		t.tranID = digits(15)
		t.ref = digits(12)
		t.postDate = t.completed.Format("0102")
	}
	if result == Captured {
		t.auth = "B" + digits(5)
		if t.saveCard && t.customerToken != "" {
			if _, ok := s.tokens[t.customerToken]; ok {
				s.tokens[t.customerToken] = append(s.tokens[t.customerToken], Card{
					Brand: "MASTERCARD", Number: "512345xxxxxx0008", Scheme: "MASTERCARD", Token: "tok_" + alnum(16)})
			}
		}
	}
}

// fieldOrder is the order of UPayments' redirect_url example.
var fieldOrder = []string{"payment_id", "result", "post_date", "tran_id", "ref", "track_id", "auth",
	"order_id", "requested_order_id", "refund_order_id", "payment_type", "invoice_id",
	"transaction_date", "receipt_id", "trn_udf"}

// fields are what UPayments appends to return URLs and notifies with.
func (t *txn) fields() url.Values {
	v := url.Values{}
	v.Set("payment_id", t.paymentID)
	v.Set("result", t.result)
	v.Set("post_date", t.postDate)
	v.Set("tran_id", t.tranID)
	v.Set("ref", t.ref)
	v.Set("track_id", t.trackID)
	v.Set("auth", t.auth)
	v.Set("order_id", t.upayOrderID)
	v.Set("requested_order_id", t.orderID)
	v.Set("refund_order_id", t.upayOrderID)
	v.Set("payment_type", t.paymentType())
	v.Set("invoice_id", t.invoiceID)
	v.Set("transaction_date", t.completed.UTC().Format("2006-01-02 15:04:05"))
	v.Set("receipt_id", t.upayOrderID)
	if t.extraData != "" {
		v.Set("trn_udf", t.extraData)
	}
	return v
}

// encodeOrdered encodes v like url.Values.Encode but in UPayments' field
// order (payment_id first), other keys after.
func encodeOrdered(v url.Values) string {
	var b strings.Builder
	seen := map[string]bool{}
	add := func(k string) {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(val))
		}
		seen[k] = true
	}
	for _, k := range fieldOrder {
		add(k)
	}
	rest := make([]string, 0, len(v))
	for k := range v {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		add(k)
	}
	return b.String()
}

func (t *txn) paymentType() string {
	if t.src == "" || t.src == "create-invoice" {
		return "knet"
	}
	return t.src
}

// ServeHTTP serves the API under /api/v1/, the hosted page under /pay/ and
// the add-card page under /my-cards.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		s.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, "/pay/"):
		s.servePay(w, r, strings.TrimPrefix(r.URL.Path, "/pay/"))
	case r.URL.Path == "/my-cards":
		s.serveMyCards(w, r)
	default:
		http.NotFound(w, r)
	}
}

type apiFunc func(w http.ResponseWriter, r *http.Request, key, rest string, body []byte)

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	apiPath := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "unreadable body"})
		return
	}
	route, rest, _ := strings.Cut(apiPath, "/")
	// Every request received is logged, including those answered with an
	// injected failure: a test counts what reached the gateway.
	s.requests.Add(route, body)
	if f, ok := s.faults.Take(apiPath); ok {
		f.Write(w)
		return
	}
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	secret, ok := s.keys[key]
	now := s.clock.Now()
	s.mu.Unlock()
	if !ok || key == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
		return
	}
	if secret != "" {
		ts, sig := r.Header.Get("X-Timestamp"), r.Header.Get("X-Signature")
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || sig == "" || now.Sub(time.Unix(n, 0)).Abs() > 5*time.Minute ||
			!hmac.Equal([]byte(sig), []byte(sign(secret, ts, r.Method, apiPath, body))) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid signature"})
			return
		}
	}
	if u, err := url.PathUnescape(rest); err == nil {
		rest = u
	}
	routes := map[string]struct {
		method string
		fn     apiFunc
	}{
		"charge":                       {http.MethodPost, s.apiCharge},
		"get-payment-status":           {http.MethodGet, s.apiStatus},
		"create-refund":                {http.MethodPost, s.apiRefund},
		"check-refund-status":          {http.MethodGet, s.apiRefundStatus},
		"create-customer-unique-token": {http.MethodPost, s.apiCreateToken},
		"retrieve-customer-cards":      {http.MethodPost, s.apiCards},
		"add-card":                     {http.MethodPost, s.apiAddCard},
		"remove-card":                  {http.MethodPost, s.apiRemoveCard},
		"check-payment-button-status":  {http.MethodGet, s.apiButtons},
		"create-multivendor-refund":    {http.MethodPost, s.apiMultivendorRefund},
	}
	rt, ok := routes[route]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if r.Method != rt.method {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "Method Not Allowed"})
		return
	}
	rt.fn(w, r, key, rest, body)
}

// chargeIn is the charge body as the simulator reads it: amounts kept as
// json.Number so that 12.345 stays 12.345.
type chargeIn struct {
	Products []struct {
		Name     string      `json:"name"`
		Price    json.Number `json:"price"`
		Quantity json.Number `json:"quantity"`
	} `json:"products"`
	Order *struct {
		ID          string      `json:"id"`
		Reference   string      `json:"reference"`
		Description string      `json:"description"`
		Currency    string      `json:"currency"`
		Amount      json.Number `json:"amount"`
	} `json:"order"`
	Reference struct {
		ID string `json:"id"`
	} `json:"reference"`
	Customer struct {
		UniqueID string `json:"uniqueId"`
		Name     string `json:"name"`
		Email    string `json:"email"`
		Mobile   string `json:"mobile"`
	} `json:"customer"`
	CustomerExtraData string `json:"customerExtraData"`
	ExtraMerchantData []struct {
		Amount     json.Number `json:"amount"`
		IBANNumber string      `json:"ibanNumber"`
	} `json:"extraMerchantData"`
	Tokens struct {
		CustomerUniqueToken json.Number `json:"customerUniqueToken"`
		CreditCard          string      `json:"creditCard"`
	} `json:"tokens"`
	PaymentGateway *struct {
		Src *string `json:"src"`
	} `json:"paymentGateway"`
	Language         string `json:"language"`
	IsSaveCard       any    `json:"isSaveCard"`
	NotificationType string `json:"notificationType"`
	ReturnURL        string `json:"returnUrl"`
	CancelURL        string `json:"cancelUrl"`
	NotificationURL  string `json:"notificationUrl"`
}

func (s *Sim) apiCharge(w http.ResponseWriter, r *http.Request, key, _ string, body []byte) {
	var in chargeIn
	if err := decode(body, &in); err != nil {
		unprocessable(w, "The given data was invalid.", []string{"The request body must be a JSON object."})
		return
	}
	var errs []string
	req := func(cond bool, field string) {
		if !cond {
			errs = append(errs, "The "+field+" field is required.")
		}
	}
	req(in.Order != nil, "order")
	var amount checkout.Money
	if in.Order != nil {
		req(in.Order.ID != "", "order.id")
		req(in.Order.Description != "", "order.description")
		req(in.Order.Currency != "", "order.currency")
		req(in.Order.Amount != "", "order.amount")
		if len(in.Order.ID) > 50 {
			errs = append(errs, "The order.id may not be greater than 50 characters.")
		}
		if in.Order.Currency != "" && in.Order.Amount != "" {
			m, err := checkout.ParseMoneyPadded(string(in.Order.Amount), in.Order.Currency)
			switch {
			case err != nil:
				errs = append(errs, "The order.amount is invalid: "+err.Error())
			case m.Minor == 0:
				errs = append(errs, "The order.amount must be greater than 0.")
			}
			amount = m
		}
	}
	req(in.Reference.ID != "", "reference.id")
	lang := strings.ToLower(in.Language)
	req(in.Language != "", "language")
	if in.Language != "" && lang != "en" && lang != "ar" {
		errs = append(errs, "The selected language is invalid.")
	}
	req(in.ReturnURL != "", "returnUrl")
	req(in.CancelURL != "", "cancelUrl")
	req(in.NotificationURL != "", "notificationUrl")
	src := ""
	if in.PaymentGateway != nil && in.PaymentGateway.Src != nil {
		src = *in.PaymentGateway.Src
	}
	invoice := src == "create-invoice"
	if invoice {
		switch in.NotificationType {
		case "email", "sms", "link", "all":
		default:
			errs = append(errs, "The notificationType field is required when paymentGateway.src is create-invoice (email, sms, link or all).")
		}
	}
	for i, p := range in.Products {
		if p.Price != "" && in.Order != nil {
			if _, err := checkout.ParseMoneyPadded(string(p.Price), in.Order.Currency); err != nil {
				errs = append(errs, fmt.Sprintf("The products.%d.price is invalid.", i))
			}
		}
	}
	tok := string(in.Tokens.CustomerUniqueToken)
	if tok != "" && !validToken(tok) {
		errs = append(errs, "The tokens.customerUniqueToken must be between 8 and 18 digits.")
	}
	var vendors map[string]int64
	if len(in.ExtraMerchantData) > 0 && in.Order != nil {
		vendors = map[string]int64{}
		var total int64
		for i, v := range in.ExtraMerchantData {
			m, err := checkout.ParseMoneyPadded(string(v.Amount), in.Order.Currency)
			if err != nil || v.IBANNumber == "" {
				errs = append(errs, fmt.Sprintf("The extraMerchantData.%d is invalid.", i))
				continue
			}
			vendors[v.IBANNumber] += m.Minor
			total += m.Minor
		}
		if total != amount.Minor {
			errs = append(errs, "The extraMerchantData amounts must add up to the order amount.")
		}
		if invoice {
			errs = append(errs, "Create invoice does not work when ExtraMerchantsData has any value.")
		}
	}
	if len(errs) > 0 {
		unprocessable(w, errs[0], errs)
		return
	}
	s.mu.Lock()
	s.seq++
	t := &txn{
		trackID: alnum(32), upayOrderID: alnum(24), key: key, seq: s.seq,
		orderID: in.Order.ID, reference: in.Order.Reference, refID: in.Reference.ID, description: in.Order.Description,
		customerUniqueID: in.Customer.UniqueID, extraData: in.CustomerExtraData, src: src, amount: amount,
		returnURL: in.ReturnURL, cancelURL: in.CancelURL, notifyURL: in.NotificationURL,
		created: s.clock.Now(), saveCard: truthy(in.IsSaveCard), customerToken: tok,
		vendors: vendors, vendorRefunded: map[string]int64{},
	}
	if invoice {
		t.invoiceID = strconv.Itoa(1000 + s.seq)
	}
	s.txns[t.trackID] = t
	s.mu.Unlock()
	link := s.base + "/pay/" + t.trackID
	if invoice {
		nt := in.NotificationType
		url := any(nil)
		if nt == "link" || nt == "all" {
			url = link
		}
		writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Data received successfully",
			"data": map[string]any{"sms": nt == "sms" || nt == "all", "email": nt == "email" || nt == "all",
				"link": nt == "link" || nt == "all", "url": url, "invoice_id": t.invoiceID}})
		return
	}
	s.mu.Lock()
	wl := s.account(key).WhiteLabel
	s.mu.Unlock()
	if src != "" && !wl {
		// Seed 000's second answer: the method is ignored, the page offers
		// every one, and the answer carries no trackId.
		writeJSON(w, http.StatusCreated, map[string]any{"status": true,
			"message": "You are not white label user. To enable please contact to support", "data": map[string]any{"link": link}})
		return
	}
	msg := "Payment link generated successfully"
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": msg,
		"data": map[string]any{"link": link, "trackId": t.trackID}})
}

func (s *Sim) apiButtons(w http.ResponseWriter, _ *http.Request, key, _ string, _ []byte) {
	s.mu.Lock()
	a := s.account(key)
	s.mu.Unlock()
	buttons := map[string]bool{}
	for _, b := range AllButtons {
		buttons[b] = slices.Contains(a.Buttons, b)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Payment buttons status",
		"data": map[string]any{"payButtons": buttons, "isWhiteLabel": a.WhiteLabel}})
}

func (s *Sim) apiStatus(w http.ResponseWriter, r *http.Request, _, trackID string, _ []byte) {
	s.mu.Lock()
	t, ok := s.txns[trackID]
	if !ok && trackID == "" {
		if inv := r.URL.Query().Get("invoice_id"); inv != "" {
			for _, c := range s.txns {
				if c.invoiceID == inv {
					t, ok = c, true
				}
			}
		}
	}
	if !ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]any{"status": false, "message": "Transaction not found", "data": nil})
		return
	}
	tx := s.transaction(t)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Response received successfully",
		"data": map[string]any{"transaction": tx}})
}

// transaction renders data.transaction (research §1.8). Called with s.mu held.
func (s *Sim) transaction(t *txn) map[string]any {
	null := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	exp, _ := checkout.Exponent(t.amount.Currency)
	price := checkout.FormatMinor(t.amount.Minor, exp)
	var redirect any
	if t.resultSet {
		target := t.cancelURL
		if t.result == Captured {
			target = t.returnURL
		}
		redirect = target + "?" + encodeOrdered(t.fields())
	}
	var txDate any
	if t.resultSet {
		txDate = t.completed.UTC().Format("2006-01-02 15:04:05")
	}
	return map[string]any{
		"order_id": t.upayOrderID, "refund_order_id": t.upayOrderID, "payment_id": null(t.paymentID),
		"result": null(t.result), "payment_type": t.paymentType(), "track_id": t.trackID,
		"transaction_date": txDate, "reference": t.refID, "total_price": price, "total_paid_non_kwd": price,
		"currency_type": t.amount.Currency, "status": map[bool]string{true: "done", false: "pending"}[t.resultSet],
		"session_id": t.trackID, "error_url": t.cancelURL, "success_url": t.returnURL, "redirect_url": redirect,
		"notify_url": t.notifyURL, "notify_url_called": t.notifyCalled, "notify_url_response": nil,
		"whitelabel": t.src != "", "customer_unique_id": null(t.customerUniqueID),
		"merchant_requested_order_id": t.orderID, "extra_merchants_data": nil,
		"is_paid_from_knet": t.result == Captured && t.paymentType() == "knet",
		"is_paid_from_cc":   t.result == Captured && t.paymentType() != "knet", "is_from_nbk": false,
		"customer_extra_data": null(t.extraData), "invoice_id": null(t.invoiceID),
		"created_at": t.created.UTC().Format("2006-01-02 15:04:05"),
	}
}

func (s *Sim) apiRefund(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	var in struct {
		OrderID    string      `json:"orderId"`
		TotalPrice json.Number `json:"totalPrice"`
	}
	if err := decode(body, &in); err != nil {
		unprocessable(w, "The given data was invalid.", []string{"The request body must be a JSON object."})
		return
	}
	if in.OrderID == "" || in.TotalPrice == "" {
		unprocessable(w, "The orderId and totalPrice fields are required.", []string{"The orderId field is required.", "The totalPrice field is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *txn
	for _, c := range s.txns {
		if c.upayOrderID == in.OrderID {
			t = c
		}
	}
	if t == nil {
		unprocessable(w, "The selected orderId is invalid.", []string{"The selected orderId is invalid."})
		return
	}
	if t.result != Captured {
		unprocessable(w, "Only captured transactions can be refunded.", []string{"Only captured transactions can be refunded."})
		return
	}
	m, err := checkout.ParseMoneyPadded(string(in.TotalPrice), t.amount.Currency)
	if err != nil || m.Minor <= 0 {
		unprocessable(w, "The totalPrice is invalid.", []string{"The totalPrice is invalid."})
		return
	}
	if t.refunded+m.Minor > t.amount.Minor {
		unprocessable(w, "Refund amount exceeds the refundable amount.", []string{"Refund amount exceeds the refundable amount."})
		return
	}
	t.refunded += m.Minor
	rf := &refund{id: alnum(24), arn: digits(12), txnTrack: t.trackID, amount: m, refunded: s.autoRefund, at: s.clock.Now()}
	s.refunds[rf.id] = rf
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Refund request created successfully",
		"data": map[string]any{"order_id": t.upayOrderID, "refund_order_id": rf.id, "refund_arn": rf.arn}})
}

// apiMultivendorRefund is create-multivendor-refund (research §1.10): each
// entry refunds one vendor of a split charge, never above what the vendor
// was paid less what it refunded; an entry whose figures disagree with the
// simulator's (totalPaid, refundedAmount, remainingLimit) is "dataTempered",
// one above the vendor's balance "insufficientBalance".
func (s *Sim) apiMultivendorRefund(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	var in struct {
		OrderID             string `json:"orderId"`
		IsMultivendorRefund bool   `json:"isMultivendorRefund"`
		RefundPayload       []struct {
			RefundRequestID string      `json:"refundRequestId"`
			IBANNumber      string      `json:"ibanNumber"`
			TotalPaid       json.Number `json:"totalPaid"`
			RefundedAmount  json.Number `json:"refundedAmount"`
			RemainingLimit  json.Number `json:"remainingLimit"`
			AmountToRefund  json.Number `json:"amountToRefund"`
			MerchantType    string      `json:"merchantType"`
		} `json:"refundPayload"`
	}
	if err := decode(body, &in); err != nil || in.OrderID == "" || !in.IsMultivendorRefund || len(in.RefundPayload) == 0 {
		unprocessable(w, "The orderId, isMultivendorRefund and refundPayload fields are required.", []string{"The refundPayload field is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *txn
	for _, c := range s.txns {
		if c.upayOrderID == in.OrderID {
			t = c
		}
	}
	if t == nil || t.result != Captured || t.vendors == nil {
		unprocessable(w, "The selected orderId is invalid.", []string{"The selected orderId is not a captured multi-vendor transaction."})
		return
	}
	minor := func(n json.Number) (int64, bool) {
		m, err := checkout.ParseMoneyPadded(string(n), t.amount.Currency)
		return m.Minor, err == nil
	}
	generated, tampered, insufficient := []any{}, []any{}, []any{}
	for _, e := range in.RefundPayload {
		share, isVendor := t.vendors[e.IBANNumber]
		paid, ok1 := minor(e.TotalPaid)
		before, ok2 := minor(e.RefundedAmount)
		limit, ok3 := minor(e.RemainingLimit)
		amt, ok4 := minor(e.AmountToRefund)
		entry := map[string]any{"refundRequestId": e.RefundRequestID, "ibanNumber": e.IBANNumber}
		switch {
		case !isVendor || !ok1 || !ok2 || !ok3 || !ok4 || e.MerchantType != "vendor" || amt <= 0 ||
			paid != share || before != t.vendorRefunded[e.IBANNumber] || limit != share-before:
			tampered = append(tampered, entry)
		case amt > limit:
			insufficient = append(insufficient, entry)
		default:
			t.vendorRefunded[e.IBANNumber] += amt
			t.refunded += amt
			rf := &refund{id: alnum(24), arn: digits(12), txnTrack: t.trackID,
				amount: checkout.Money{Minor: amt, Currency: t.amount.Currency}, refunded: s.autoRefund, at: s.clock.Now()}
			s.refunds[rf.id] = rf
			generated = append(generated, map[string]any{"generatedInvoiceId": digits(8), "amount": string(e.AmountToRefund),
				"orderId": t.upayOrderID, "refundOrderId": rf.id, "refundArn": rf.arn})
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Multivendor refund processed",
		"data": map[string]any{"responseData": map[string]any{"generated": generated, "dataTempered": tampered,
			"refundIssue": []any{}, "insufficientBalance": insufficient}}})
}

func (s *Sim) apiRefundStatus(w http.ResponseWriter, _ *http.Request, _, id string, _ []byte) {
	s.mu.Lock()
	rf, ok := s.refunds[id]
	var refunded bool
	var date any
	if ok {
		refunded = rf.refunded
		if refunded {
			date = rf.at.UTC().Format("2006-01-02 15:04:05")
		}
	}
	s.mu.Unlock()
	if !ok {
		unprocessable(w, "Refund not found.", []string{"The selected order id is invalid."})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Response received successfully",
		"data": map[string]any{"transaction": map[string]any{"is_refunded": refunded, "is_refunded_date": date}}})
}

func (s *Sim) readToken(w http.ResponseWriter, body []byte) (string, bool) {
	var in struct {
		Token json.Number `json:"customerUniqueToken"`
	}
	if err := decode(body, &in); err != nil || !validToken(string(in.Token)) {
		unprocessable(w, "The customer unique token must be numeric, 8 to 18 digits.",
			[]string{"The customerUniqueToken must be between 8 and 18 digits."})
		return "", false
	}
	return string(in.Token), true
}

func (s *Sim) apiCreateToken(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	tok, ok := s.readToken(w, body)
	if !ok {
		return
	}
	s.mu.Lock()
	if _, exists := s.tokens[tok]; !exists {
		s.tokens[tok] = []Card{}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Customer unique token created successfully", "data": map[string]any{"customerUniqueToken": tok}})
}

func (s *Sim) apiCards(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	tok, ok := s.readToken(w, body)
	if !ok {
		return
	}
	s.mu.Lock()
	cards, exists := s.tokens[tok]
	cards = append([]Card{}, cards...)
	s.mu.Unlock()
	if !exists {
		unprocessable(w, "Customer unique token not found.", []string{"The selected customerUniqueToken is invalid."})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Customer cards retrieved successfully", "data": map[string]any{"customerCards": cards}})
}

func (s *Sim) apiAddCard(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	var in struct {
		Token     json.Number `json:"customerUniqueToken"`
		ReturnURL string      `json:"returnUrl"`
	}
	if err := decode(body, &in); err != nil || !validToken(string(in.Token)) || in.ReturnURL == "" {
		unprocessable(w, "The customerUniqueToken and returnUrl fields are required.", []string{"The customerUniqueToken and returnUrl fields are required."})
		return
	}
	s.mu.Lock()
	_, exists := s.tokens[string(in.Token)]
	s.mu.Unlock()
	if !exists {
		unprocessable(w, "Customer unique token not found.", []string{"The selected customerUniqueToken is invalid."})
		return
	}
	link := s.base + "/my-cards?session_id=" + url.QueryEscape(string(in.Token)+"-"+alnum(12)) + "&return=" + url.QueryEscape(in.ReturnURL)
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Add card link generated successfully",
		"data": map[string]any{"link": link}})
}

func (s *Sim) apiRemoveCard(w http.ResponseWriter, _ *http.Request, _, _ string, body []byte) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(body, &in); err != nil || in.Token == "" {
		unprocessable(w, "The token field is required.", []string{"The token field is required."})
		return
	}
	s.mu.Lock()
	found := false
	for tok, cards := range s.tokens {
		for i, c := range cards {
			if c.Token == in.Token {
				s.tokens[tok] = append(cards[:i:i], cards[i+1:]...)
				found = true
				break
			}
		}
	}
	s.mu.Unlock()
	if !found {
		unprocessable(w, "The selected token is invalid.", []string{"The selected token is invalid."})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"status": true, "message": "Card removed successfully", "data": nil})
}

// SaveCard stores a test card for a registered customer token, as the
// hosted add-card page would, and returns it.
func (s *Sim) SaveCard(customerUniqueToken string) (Card, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cards, ok := s.tokens[customerUniqueToken]
	if !ok {
		return Card{}, fmt.Errorf("upaytest: unknown customer token %q", customerUniqueToken)
	}
	c := Card{Brand: "MASTERCARD", Number: "512345xxxxxx0008", Scheme: "MASTERCARD", Token: "tok_" + alnum(16)}
	s.tokens[customerUniqueToken] = append(cards, c)
	return c, nil
}

// payPage is the hosted page: UPayments' three results.
var payPage = &simkit.Page{Title: "UPayments simulator", Heading: "UPayments simulator", Field: "result",
	Buttons: []simkit.Button{{Value: Captured, Label: "CAPTURED (pay)"}, {Value: NotCaptured, Label: "NOT CAPTURED (decline)"},
		{Value: Canceled, Label: "CANCELED (cancel)"}}}

func (s *Sim) servePay(w http.ResponseWriter, r *http.Request, trackID string) {
	s.mu.Lock()
	var view *simkit.View
	if t, ok := s.txns[trackID]; ok {
		view = &simkit.View{Noun: "Order", ID: t.orderID, Amount: t.amount.String() + " " + t.amount.Currency, Done: t.result}
	}
	s.mu.Unlock()
	payPage.Serve(w, r, view, func(result string) (string, error) { return s.Complete(trackID, result) })
}

// serveMyCards is the hosted add-card page: GET shows a button, POST saves
// a test card and redirects to the return URL.
func (s *Sim) serveMyCards(w http.ResponseWriter, r *http.Request) {
	session := r.FormValue("session_id")
	tok, _, _ := strings.Cut(session, "-")
	ret := r.FormValue("return")
	if r.Method == http.MethodPost {
		if _, err := s.SaveCard(tok); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		http.Redirect(w, r, ret, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><body><h1>Save a card</h1><form method="post"><input type="hidden" name="session_id" value="%s"><input type="hidden" name="return" value="%s"><button>Save test card 5123 45xx xxxx 0008</button></form></body></html>`,
		template.HTMLEscapeString(session), template.HTMLEscapeString(ret))
}

func writeJSON(w http.ResponseWriter, status int, v any) { simkit.WriteJSON(w, status, v) }

func unprocessable(w http.ResponseWriter, msg string, errs []string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": msg, "errors": errs})
}

func decode(body []byte, v any) error { return simkit.DecodeNumbers(body, v) }

func validToken(s string) bool {
	if len(s) < 8 || len(s) > 18 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	case json.Number:
		return v == "1"
	}
	return false
}

func sign(secret, ts, method, path string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + method + path))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func alnum(n int) string { return simkit.Random(simkit.Alnum, n) }

func digits(n int) string { return simkit.Random(simkit.Digits, n) }
