// Package woocommercetest simulates a WooCommerce store for tests, from
// the behaviour recorded in shared/research/woocommerce.md (read in
// WooCommerce's source and seen on a 7.9 store): REST v3 orders, notes and
// webhooks with real error shapes; Basic auth over https only and
// one-legged OAuth 1.0a over http; set_paid that only acts when the order
// needs payment; money as strings and line_items[].price as a number;
// signed webhook deliveries that are never retried and disable a webhook
// after the 7th consecutive failure; the unsigned creation ping; wc-auth
// that POSTs keys to the app's callback and deletes them unless it answers
// exactly 200; and the unpaid-order cancel timer.
//
// Deliveries go through simkit (one attempt each, never retried); SetClock
// puts order dates, SetDown and the cancel timer on a fake clock.
//
// It does not import the bridge's woocommerce package, so that the two
// sides of every signature are written independently.
package woocommercetest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/simkit"
)

// Server is a Sim on its own httptest.Server (plain http: the bridge must
// sign with OAuth 1.0a, as against a real store over http).
type Server struct {
	*httptest.Server
	*Sim
}

// NewServer starts a simulated store. Call Close when done.
func NewServer() *Server {
	ts, sim := simkit.NewServer(New)
	return &Server{Server: ts, Sim: sim}
}

// Close waits for deliveries in flight, stops the timer and the server.
func (s *Server) Close() {
	s.Sim.Close()
	s.Server.Close()
}

// Sim is the simulated store; it is an http.Handler.
type Sim struct {
	// AllowHTTPCallback lets wc-auth post keys to an http:// callback
	// (real WooCommerce insists on https).
	AllowHTTPCallback bool

	out *simkit.Deliverer

	mu        sync.Mutex
	clock     clockwork.Clock
	base      string
	keys      map[string]key
	orders    map[int64]*order
	notes     map[int64][]Note
	webhooks  map[int64]*webhook
	nextID    int64
	downUntil time.Time
	down503   int
	puts      int
	pings     []string
	nonces    map[string]bool
	wg        sync.WaitGroup // the hold timer
	stop      chan struct{}
	stopOnce  sync.Once
}

type key struct {
	secret, permissions string
}

// Note is an order note.
type Note struct {
	ID           int64  `json:"id"`
	Author       string `json:"author"`
	DateCreated  string `json:"date_created"`
	Note         string `json:"note"`
	CustomerNote bool   `json:"customer_note"`
}

// Delivery is one webhook delivery attempt.
type Delivery struct {
	WebhookID int64
	URL       string
	Body      []byte
	Header    http.Header
	Status    int
}

type webhook struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	Topic       string `json:"topic"`
	DeliveryURL string `json:"delivery_url"`
	secret      string
	failures    int
}

type item struct {
	Name     string
	Quantity int
	Total    string
}

type order struct {
	id                        int64
	key, status, currency     string
	total, createdVia         string
	items                     []item
	transactionID             string
	datePaid                  *time.Time
	created, modified         time.Time
	meta                      []map[string]any
	refunds                   []map[string]any
	first, last, email, phone string
	customerID                int64
}

// New returns a simulator whose public address is base.
func New(base string) *Sim {
	out := simkit.NewDeliverer()
	out.SetClient(&http.Client{Timeout: simkit.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}})
	return &Sim{base: strings.TrimRight(base, "/"), out: out, clock: clockwork.NewRealClock(), keys: map[string]key{},
		orders: map[int64]*order{}, notes: map[int64][]Note{}, webhooks: map[int64]*webhook{}, nextID: 100,
		nonces: map[string]bool{}, stop: make(chan struct{})}
}

// SetClock replaces the real clock for order dates and notes, SetDown, the
// unpaid-order cancel timer (StartHoldTimer ticks on it) and delivery ids.
// OAuth timestamps are still checked against the wall clock: they come
// from the bridge's. Set it before adding orders.
func (s *Sim) SetClock(c clockwork.Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = c
	s.out.SetClock(c)
}

// Base is the store's address (its URL).
func (s *Sim) Base() string { return s.base }

// Close stops the cancel timer and waits for deliveries in flight.
func (s *Sim) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.out.Close()
}

// Wait waits for webhook deliveries in flight.
func (s *Sim) Wait() { s.out.Wait() }

// AddKey adds REST API keys (permissions "read", "write" or "read_write").
func (s *Sim) AddKey(consumerKey, consumerSecret, permissions string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[consumerKey] = key{consumerSecret, permissions}
}

// NewKeys makes a read_write key pair as WooCommerce formats them.
func (s *Sim) NewKeys() (ck, cs string) {
	ck, cs = "ck_"+randHex(20), "cs_"+randHex(20)
	s.AddKey(ck, cs, "read_write")
	return ck, cs
}

// OrderSpec describes a new order.
type OrderSpec struct {
	Currency string
	// Total is formatted as the store's decimal setting would ("12.35" on a
	// 2-decimal KWD store, "12.345" on a 3-decimal one).
	Total string
	// Items default to one line for the whole total.
	Items []Item
	// Status defaults to "pending"; CreatedVia to "checkout" ("admin" for
	// an order made on the order screen).
	Status, CreatedVia string
	// CustomerID is the WordPress user who placed it; 0 is a guest.
	CustomerID int64
	// Billing overrides the default billing name, e-mail and phone
	// (Fatima Al-Sabah, fatima@example.com, +96550000000); a field set to
	// "-" is left empty.
	Billing *Billing
}

// Billing is an order's billing contact.
type Billing struct {
	FirstName, LastName, Email, Phone string
}

// Item is an order line.
type Item struct {
	Name     string
	Quantity int
	// Total is the line total as a string; price is Total/Quantity.
	Total string
}

// AddOrder creates an order and returns its id and key.
func (s *Sim) AddOrder(spec OrderSpec) (id int64, orderKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	now := s.clock.Now().UTC()
	o := &order{id: s.nextID, key: "wc_order_" + randHex(6), status: spec.Status, currency: spec.Currency,
		total: spec.Total, createdVia: spec.CreatedVia, created: now, modified: now,
		first: "Fatima", last: "Al-Sabah", email: "fatima@example.com", phone: "+96550000000", customerID: spec.CustomerID}
	if b := spec.Billing; b != nil {
		for _, f := range []struct {
			to *string
			v  string
		}{{&o.first, b.FirstName}, {&o.last, b.LastName}, {&o.email, b.Email}, {&o.phone, b.Phone}} {
			switch f.v {
			case "":
			case "-":
				*f.to = ""
			default:
				*f.to = f.v
			}
		}
	}
	if o.status == "" {
		o.status = "pending"
	}
	if o.createdVia == "" {
		o.createdVia = "checkout"
	}
	for _, it := range spec.Items {
		o.items = append(o.items, item(it))
	}
	if len(o.items) == 0 {
		o.items = []item{{Name: "Dates box", Quantity: 1, Total: spec.Total}}
	}
	s.orders[o.id] = o
	return o.id, o.key
}

// Order is a snapshot of an order as REST shows it (decoded with UseNumber).
func (s *Sim) Order(id int64) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil
	}
	var m map[string]any
	_ = simkit.DecodeNumbers(s.orderJSON(o), &m)
	return m
}

// SetTotal changes an order's total (a merchant editing the order).
func (s *Sim) SetTotal(id int64, total string) {
	s.mu.Lock()
	o := s.orders[id]
	o.total = total
	o.items = []item{{Name: "Dates box", Quantity: 1, Total: total}}
	o.modified = s.clock.Now().UTC()
	s.mu.Unlock()
	s.fire(id)
}

// SetBilling changes an order's billing e-mail and phone (a merchant
// editing the order); an empty field is left as it is.
func (s *Sim) SetBilling(id int64, email, phone string) {
	s.mu.Lock()
	o := s.orders[id]
	if email != "" {
		o.email = email
	}
	if phone != "" {
		o.phone = phone
	}
	o.modified = s.clock.Now().UTC()
	s.mu.Unlock()
	s.fire(id)
}

// SetStatus changes an order's status as the admin would, with
// WooCommerce's transition note.
func (s *Sim) SetStatus(id int64, status string) {
	s.mu.Lock()
	s.setStatus(s.orders[id], status)
	s.mu.Unlock()
	s.fire(id)
}

// AddRefund records a refund made in the store's admin ("refund
// manually": no gateway call), as refunds[] shows it (negative total).
func (s *Sim) AddRefund(id int64, amount, reason string) {
	s.mu.Lock()
	o := s.orders[id]
	s.nextID++
	o.refunds = append(o.refunds, map[string]any{"id": s.nextID, "reason": reason, "total": "-" + amount})
	s.addNote(id, "Refunded "+amount+" – "+reason)
	o.modified = s.clock.Now().UTC()
	s.mu.Unlock()
	s.fire(id)
}

// Notes returns an order's notes, newest first (as REST lists them).
func (s *Sim) Notes(id int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Note(nil), s.notes[id]...)
}

// NotesContaining counts the order's notes that contain sub.
func (s *Sim) NotesContaining(id int64, sub string) int {
	n := 0
	for _, nt := range s.Notes(id) {
		if strings.Contains(nt.Note, sub) {
			n++
		}
	}
	return n
}

// SetDown makes every REST call answer 503 (with Retry-After: 1) for d.
func (s *Sim) SetDown(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downUntil = s.clock.Now().Add(d)
}

// Down503s counts the calls answered 503 by SetDown.
func (s *Sim) Down503s() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down503
}

// OrderUpdates counts PUT /orders calls that succeeded.
func (s *Sim) OrderUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// Pings returns the webhook_id bodies of the creation pings and the
// status each got, as "webhook_id=N → 200".
func (s *Sim) Pings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.pings...)
}

// Deliveries returns every webhook delivery attempt.
func (s *Sim) Deliveries() []Delivery {
	as := s.out.Attempts()
	out := make([]Delivery, len(as))
	for i, a := range as {
		id, _ := a.Meta.(int64)
		out[i] = Delivery{WebhookID: id, URL: a.URL, Body: a.Body, Header: a.Header, Status: a.Status}
	}
	return out
}

// WebhookStatuses returns each webhook's status by id.
func (s *Sim) WebhookStatuses() map[int64]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]string{}
	for id, w := range s.webhooks {
		out[id] = w.Status
	}
	return out
}

// SetWebhookStatus sets a webhook's status ("disabled" as after 7 failures).
func (s *Sim) SetWebhookStatus(id int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.webhooks[id]; w != nil {
		w.Status = status
	}
}

// CancelUnpaid runs WooCommerce's wc_cancel_unpaid_orders once: pending
// checkout orders unchanged for at least hold are cancelled with its note.
// It returns how many were.
func (s *Sim) CancelUnpaid(hold time.Duration) int {
	s.mu.Lock()
	var ids []int64
	for id, o := range s.orders {
		if o.status == "pending" && o.createdVia == "checkout" && s.clock.Since(o.modified) >= hold {
			s.setStatus(o, "cancelled")
			s.addNote(id, "Unpaid order cancelled - time limit reached.")
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.fire(id)
	}
	return len(ids)
}

// StartHoldTimer runs CancelUnpaid(hold) every hold/4 until Close, as the
// woocommerce_cancel_unpaid_orders cron does with hold-stock minutes. It
// ticks on the simulator's clock (SetClock).
func (s *Sim) StartHoldTimer(hold time.Duration) {
	s.mu.Lock()
	clock := s.clock
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := clock.NewTicker(max(hold/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.Chan():
				s.CancelUnpaid(hold)
			}
		}
	}()
}

var statusNames = map[string]string{"pending": "Pending payment", "processing": "Processing", "on-hold": "On hold",
	"completed": "Completed", "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed"}

// setStatus is WC_Order::set_status + save: a transition note, and
// date_paid when the new status is a paid one. Caller holds mu.
func (s *Sim) setStatus(o *order, to string) {
	if o.status == to {
		return
	}
	s.addNote(o.id, fmt.Sprintf("Order status changed from %s to %s.", statusNames[o.status], statusNames[to]))
	o.status = to
	if (to == "processing" || to == "completed") && o.datePaid == nil {
		now := s.clock.Now().UTC()
		o.datePaid = &now
	}
	o.modified = s.clock.Now().UTC()
}

func (s *Sim) addNote(id int64, text string) {
	s.nextID++
	n := Note{ID: s.nextID, Author: "system", DateCreated: s.clock.Now().UTC().Format("2006-01-02T15:04:05"), Note: text}
	s.notes[id] = append([]Note{n}, s.notes[id]...)
}

func (o *order) needsPayment() bool {
	return (o.status == "pending" || o.status == "failed") && strings.Trim(strings.ReplaceAll(o.total, ".", ""), "0") != ""
}

func fmtTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Format("2006-01-02T15:04:05")
}

// orderJSON renders an order like GET /wc/v3/orders/{id} (fields of the
// docs' fixture plus the newer ones). Caller holds mu.
func (s *Sim) orderJSON(o *order) []byte {
	dp := 2
	if _, frac, ok := strings.Cut(o.total, "."); ok {
		dp = len(frac)
	}
	zero := "0." + strings.Repeat("0", dp)
	var lines []map[string]any
	for i, it := range o.items {
		price := it.Total
		if it.Quantity > 1 {
			price = divide(it.Total, it.Quantity)
		}
		lines = append(lines, map[string]any{"id": int64(i + 1), "name": it.Name, "product_id": 93, "variation_id": 0,
			"quantity": it.Quantity, "tax_class": "", "subtotal": it.Total, "subtotal_tax": zero, "total": it.Total,
			"total_tax": zero, "taxes": []any{}, "meta_data": []any{}, "sku": "", "price": json.Number(price),
			"image": map[string]any{"id": "", "src": ""}, "parent_name": nil})
	}
	meta := o.meta
	if meta == nil {
		meta = []map[string]any{}
	}
	refunds := o.refunds
	if refunds == nil {
		refunds = []map[string]any{}
	}
	id := strconv.FormatInt(o.id, 10)
	m := map[string]any{
		"id": o.id, "parent_id": 0, "number": id, "order_key": o.key, "created_via": o.createdVia,
		"version": "7.9.0", "status": o.status, "currency": o.currency,
		"date_created": fmtTime(&o.created), "date_created_gmt": fmtTime(&o.created),
		"date_modified": fmtTime(&o.modified), "date_modified_gmt": fmtTime(&o.modified),
		"discount_total": zero, "discount_tax": zero, "shipping_total": zero, "shipping_tax": zero, "cart_tax": zero,
		"total": o.total, "total_tax": zero, "prices_include_tax": false, "customer_id": o.customerID,
		"customer_ip_address": "", "customer_user_agent": "", "customer_note": "",
		"billing": map[string]any{"first_name": o.first, "last_name": o.last, "company": "", "address_1": "Block 1",
			"address_2": "", "city": "Kuwait City", "state": "", "postcode": "", "country": "KW", "email": o.email, "phone": o.phone},
		"shipping": map[string]any{"first_name": o.first, "last_name": o.last, "company": "", "address_1": "Block 1",
			"address_2": "", "city": "Kuwait City", "state": "", "postcode": "", "country": "KW", "phone": ""},
		"payment_method": "paybridge_upayments", "payment_method_title": "Pay online",
		"transaction_id": o.transactionID, "date_paid": fmtTime(o.datePaid), "date_paid_gmt": fmtTime(o.datePaid),
		"date_completed": nil, "date_completed_gmt": nil, "cart_hash": "", "meta_data": meta,
		"line_items": lines, "tax_lines": []any{}, "shipping_lines": []any{}, "fee_lines": []any{}, "coupon_lines": []any{},
		"refunds":       refunds,
		"payment_url":   s.base + "/checkout/order-pay/" + id + "/?pay_for_order=true&key=" + o.key,
		"is_editable":   o.status == "pending" || o.status == "on-hold" || o.status == "auto-draft",
		"needs_payment": o.needsPayment(), "needs_processing": true,
		"_links": map[string]any{"self": []any{map[string]any{"href": s.base + "/wp-json/wc/v3/orders/" + id}}},
	}
	b, _ := json.Marshal(m)
	return b
}

// divide formats total/qty with up to 6 decimals, as PHP would print a
// float (a number in the JSON, not a string).
func divide(total string, qty int) string {
	f, _ := strconv.ParseFloat(total, 64)
	return strconv.FormatFloat(f/float64(qty), 'f', -1, 64)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	simkit.WriteJSON(w, status, v)
}

func wcError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "data": map[string]any{"status": status}})
}

// ServeHTTP routes REST, wc-auth and the store's pages.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/wp-json/wc/v3/"):
		s.serveREST(w, r)
	case r.URL.Path == "/wc-auth/v1/authorize":
		s.authorize(w, r)
	case r.URL.Path == "/wc-auth/v1/access_granted":
		s.accessGranted(w, r)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body>store page %s</body></html>", r.URL.Path)
	}
}

// authenticate is WC_REST_Authentication: Basic only over https, OAuth
// 1.0a one-legged over http. It returns the key's permissions.
func (s *Sim) authenticate(r *http.Request) (string, int, string, string) {
	q := r.URL.Query()
	if ck, cs, ok := r.BasicAuth(); ok && r.TLS != nil {
		k, found := s.keys[ck]
		if !found || !hmac.Equal([]byte(k.secret), []byte(cs)) {
			return "", 401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
		}
		return k.permissions, 0, "", ""
	}
	ck := q.Get("oauth_consumer_key")
	if ck == "" || r.TLS != nil {
		return "", 401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
	}
	k, found := s.keys[ck]
	if !found {
		return "", 401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
	}
	ts, err := strconv.ParseInt(q.Get("oauth_timestamp"), 10, 64)
	// The wall clock, not s.clock: the timestamp is the bridge's.
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 15*time.Minute {
		return "", 401, "woocommerce_rest_authentication_error", "Invalid timestamp."
	}
	nonce := ck + "/" + q.Get("oauth_nonce")
	if q.Get("oauth_nonce") == "" || s.nonces[nonce] {
		return "", 401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used."
	}
	var h func() hash.Hash
	switch q.Get("oauth_signature_method") {
	case "HMAC-SHA256":
		h = sha256.New
	case "HMAC-SHA1":
		h = sha1.New
	default:
		return "", 401, "woocommerce_rest_authentication_error", "Invalid signature method."
	}
	var pairs []string
	for name, vs := range q {
		if name == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, enc(name)+"="+enc(v))
		}
	}
	sort.Strings(pairs)
	baseString := r.Method + "&" + enc(s.base+r.URL.Path) + "&" + enc(strings.Join(pairs, "&"))
	m := hmac.New(h, []byte(k.secret+"&"))
	m.Write([]byte(baseString))
	got, _ := base64.StdEncoding.DecodeString(q.Get("oauth_signature"))
	if !hmac.Equal(got, m.Sum(nil)) {
		return "", 401, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."
	}
	s.nonces[nonce] = true
	return k.permissions, 0, "", ""
}

func enc(v string) string { return strings.ReplaceAll(url.QueryEscape(v), "+", "%20") }

func (s *Sim) serveREST(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	if s.clock.Now().Before(s.downUntil) {
		s.down503++
		s.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><body><h1>503 Service Unavailable</h1></body></html>")
		return
	}
	perms, status, code, msg := s.authenticate(r)
	if status != 0 {
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="WooCommerce REST API"`)
		wcError(w, status, code, msg)
		return
	}
	if r.Method != http.MethodGet && !strings.Contains(perms, "write") {
		s.mu.Unlock()
		wcError(w, 401, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/wp-json/wc/v3/")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var fired []int64
	func() {
		defer s.mu.Unlock()
		switch {
		case parts[0] == "orders" && len(parts) == 1 && r.Method == http.MethodGet:
			out := []json.RawMessage{}
			for _, o := range s.orders {
				out = append(out, s.orderJSON(o))
			}
			writeJSON(w, 200, out)
		case parts[0] == "orders" && len(parts) >= 2:
			id, _ := strconv.ParseInt(parts[1], 10, 64)
			o, ok := s.orders[id]
			if !ok {
				wcError(w, 404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
				return
			}
			switch {
			case len(parts) == 2 && r.Method == http.MethodGet:
				w.Header().Set("Content-Type", "application/json")
				w.Write(s.orderJSON(o))
			case len(parts) == 2 && (r.Method == http.MethodPut || r.Method == http.MethodPost):
				if err := s.updateOrder(o, body); err != nil {
					wcError(w, 400, "rest_invalid_param", err.Error())
					return
				}
				s.puts++
				fired = append(fired, id)
				w.Header().Set("Content-Type", "application/json")
				w.Write(s.orderJSON(o))
			case len(parts) == 3 && parts[2] == "notes" && r.Method == http.MethodGet:
				writeJSON(w, 200, s.notes[id])
			case len(parts) == 3 && parts[2] == "notes" && r.Method == http.MethodPost:
				var in struct {
					Note         string `json:"note"`
					CustomerNote bool   `json:"customer_note"`
				}
				if json.Unmarshal(body, &in) != nil || in.Note == "" {
					wcError(w, 400, "woocommerce_rest_missing_parameter", "Missing parameter note")
					return
				}
				s.addNote(id, in.Note)
				n := s.notes[id][0]
				n.CustomerNote = in.CustomerNote
				s.notes[id][0] = n
				writeJSON(w, 201, n)
			default:
				wcError(w, 404, "rest_no_route", "No route was found matching the URL and request method.")
			}
		case parts[0] == "webhooks" && len(parts) == 1 && r.Method == http.MethodGet:
			out := []*webhook{}
			for _, wh := range s.webhooks {
				out = append(out, wh)
			}
			sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
			writeJSON(w, 200, out)
		case parts[0] == "webhooks" && len(parts) == 1 && r.Method == http.MethodPost:
			var in struct{ Name, Topic, Status, Secret string }
			var raw map[string]any
			_ = json.Unmarshal(body, &raw)
			_ = json.Unmarshal(body, &in)
			in.Secret, _ = raw["secret"].(string)
			in.Topic, _ = raw["topic"].(string)
			du, _ := raw["delivery_url"].(string)
			if in.Topic != "order.updated" && in.Topic != "order.created" && in.Topic != "order.deleted" {
				wcError(w, 400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.")
				return
			}
			if !strings.HasPrefix(du, "http://") && !strings.HasPrefix(du, "https://") {
				wcError(w, 400, "woocommerce_rest_shop_webhook_invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
				return
			}
			if in.Secret == "" {
				in.Secret = randHex(25) // WooCommerce makes one that cannot be read back
			}
			if in.Status == "" {
				in.Status = "active"
			}
			s.nextID++
			wh := &webhook{ID: s.nextID, Name: in.Name, Status: in.Status, Topic: in.Topic, DeliveryURL: du, secret: in.Secret}
			s.webhooks[wh.ID] = wh
			w.Header().Set("Location", "/wp-json/wc/v3/webhooks/"+strconv.FormatInt(wh.ID, 10))
			cp := *wh
			// The ping goes out after saving, synchronously, its result ignored.
			s.mu.Unlock()
			s.ping(cp)
			s.mu.Lock()
			writeJSON(w, 201, cp)
		case parts[0] == "webhooks" && len(parts) == 2:
			id, _ := strconv.ParseInt(parts[1], 10, 64)
			wh, ok := s.webhooks[id]
			if !ok {
				wcError(w, 404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
				return
			}
			if r.Method == http.MethodDelete {
				// Webhooks cannot be trashed: WooCommerce deletes them only
				// with force=true.
				if r.URL.Query().Get("force") != "true" {
					wcError(w, 501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
					return
				}
				delete(s.webhooks, id)
				writeJSON(w, 200, wh)
				return
			}
			if r.Method == http.MethodPut || r.Method == http.MethodPost {
				var in map[string]any
				_ = json.Unmarshal(body, &in)
				if st, ok := in["status"].(string); ok {
					wh.Status = st // failure count is NOT reset (research §1.5)
				}
				if sec, ok := in["secret"].(string); ok {
					wh.secret = sec
				}
			}
			writeJSON(w, 200, wh)
		default:
			wcError(w, 404, "rest_no_route", "No route was found matching the URL and request method.")
		}
	}()
	for _, id := range fired {
		s.fire(id)
	}
}

// updateOrder is ORD3::save_object: props, then status, then set_paid
// (only when the order needs payment). Caller holds mu.
func (s *Sim) updateOrder(o *order, body []byte) error {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return fmt.Errorf("invalid JSON body")
	}
	if v, ok := in["transaction_id"]; ok {
		_ = json.Unmarshal(v, &o.transactionID)
	}
	if v, ok := in["meta_data"]; ok {
		var metas []map[string]any
		if err := json.Unmarshal(v, &metas); err != nil {
			return fmt.Errorf("meta_data is not of type array")
		}
		for _, m := range metas {
			replaced := false
			for _, old := range o.meta {
				if old["key"] == m["key"] {
					old["value"], replaced = m["value"], true
				}
			}
			if !replaced {
				s.nextID++
				o.meta = append(o.meta, map[string]any{"id": s.nextID, "key": m["key"], "value": m["value"]})
			}
		}
	}
	if v, ok := in["status"]; ok {
		var st string
		_ = json.Unmarshal(v, &st)
		if _, known := statusNames[st]; !known {
			return fmt.Errorf("status is not one of pending, processing, on-hold, completed, cancelled, refunded, failed")
		}
		s.setStatus(o, st)
	}
	if v, ok := in["set_paid"]; ok && string(v) == "true" && o.needsPayment() {
		// payment_complete()
		s.setStatus(o, "processing")
	}
	o.modified = s.clock.Now().UTC()
	return nil
}

// fire delivers order.updated for the order to every active webhook,
// signed, in the background, never retried.
func (s *Sim) fire(id int64) {
	s.mu.Lock()
	o, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return
	}
	body := s.orderJSON(o)
	var hooks []webhook
	for _, wh := range s.webhooks {
		if wh.Status == "active" && wh.Topic == "order.updated" {
			hooks = append(hooks, *wh)
		}
	}
	s.mu.Unlock()
	for _, wh := range hooks {
		s.out.Deliver(simkit.Policy{}, s.delivery(wh, body), func(a simkit.Attempt) { s.delivered(wh.ID, a.Status) })
	}
}

// delivery is Hookshot's POST of an order.updated payload, signed with the
// webhook's secret.
func (s *Sim) delivery(wh webhook, body []byte) simkit.Message {
	m := hmac.New(sha256.New, []byte(wh.secret))
	m.Write(body)
	h := http.Header{}
	h.Set("User-Agent", "WooCommerce/7.9.0 Hookshot (WordPress/6.1.9)")
	h.Set("Content-Type", "application/json")
	h.Set("X-WC-Webhook-Source", s.base+"/")
	h.Set("X-WC-Webhook-Topic", wh.Topic)
	h.Set("X-WC-Webhook-Resource", "order")
	h.Set("X-WC-Webhook-Event", "updated")
	h.Set("X-WC-Webhook-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	h.Set("X-WC-Webhook-ID", strconv.FormatInt(wh.ID, 10))
	return simkit.Message{URL: wh.DeliveryURL, Body: body, Header: h, Meta: wh.ID,
		Prepare: func(r *http.Request, now time.Time) {
			dh := sha256.Sum256([]byte(fmt.Sprint(wh.ID, now.Unix())))
			r.Header.Set("X-WC-Webhook-Delivery-ID", hex.EncodeToString(dh[:16]))
		}}
}

// delivered counts a delivery's outcome: WooCommerce disables a webhook at
// its 7th consecutive failure (a 2xx or 30x-but-not-303 resets the count).
func (s *Sim) delivered(id int64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.webhooks[id]
	if cur == nil {
		return
	}
	if status >= 200 && status < 303 {
		cur.failures = 0
		return
	}
	if cur.failures > 5 {
		cur.Status = "disabled"
		return
	}
	cur.failures++
}

func (s *Sim) ping(wh webhook) {
	a := s.out.Do(simkit.Message{URL: wh.DeliveryURL, Body: []byte("webhook_id=" + strconv.FormatInt(wh.ID, 10)),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"User-Agent": {"WooCommerce/7.9.0 Hookshot (WordPress/6.1.9)"}}})
	s.mu.Lock()
	s.pings = append(s.pings, fmt.Sprintf("webhook_id=%d → %d", wh.ID, a.Status))
	s.mu.Unlock()
}

// authorize is the grant screen (the merchant is taken as logged in).
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, p := range []string{"app_name", "scope", "user_id", "return_url", "callback_url"} {
		if q.Get(p) == "" {
			http.Error(w, "Error: Missing parameter "+p, http.StatusBadRequest)
			return
		}
	}
	if s := q.Get("scope"); s != "read" && s != "write" && s != "read_write" {
		http.Error(w, "Error: Invalid scope "+s, http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(q.Get("callback_url"), "https://") && !s.AllowHTTPCallback {
		http.Error(w, "Error: The callback_url needs to be over SSL.", http.StatusBadRequest)
		return
	}
	approve := "/wc-auth/v1/access_granted?" + q.Encode()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<html><body><h1>%s would like to connect to your store</h1><a id="approve" href="%s">Approve</a></body></html>`,
		htmlEscape(q.Get("app_name")), htmlEscape(approve))
}

// ApproveURL is the grant screen's Approve link for an authorize URL.
func ApproveURL(authorizeURL string) string {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return ""
	}
	u.Path = "/wc-auth/v1/access_granted"
	return u.String()
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// accessGranted makes the keys, POSTs them to the callback and, unless it
// answers exactly 200, deletes them.
func (s *Sim) accessGranted(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ck, cs := "ck_"+randHex(20), "cs_"+randHex(20)
	s.mu.Lock()
	s.nextID++
	keyID := s.nextID
	s.keys[ck] = key{cs, q.Get("scope")}
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"key_id": keyID, "user_id": q.Get("user_id"), "consumer_key": ck,
		"consumer_secret": cs, "key_permissions": q.Get("scope")})
	a := s.out.Do(simkit.Message{URL: q.Get("callback_url"), Body: body,
		Header: http.Header{"Content-Type": {"application/json;charset=UTF-8"}}})
	if a.Err != "" || a.Status != 200 {
		s.mu.Lock()
		delete(s.keys, ck)
		s.mu.Unlock()
		http.Error(w, "Error: An error occurred in the request and at the time were unable to send the consumer data.", http.StatusUnauthorized)
		return
	}
	ret, _ := url.Parse(q.Get("return_url"))
	rq := ret.Query()
	rq.Set("success", "1")
	rq.Set("user_id", q.Get("user_id"))
	ret.RawQuery = rq.Encode()
	http.Redirect(w, r, ret.String(), http.StatusFound)
}

func randHex(n int) string { return simkit.RandomHex(n) }
