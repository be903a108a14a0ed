// Package shopifytest simulates the parts of Shopify paybridge talks to,
// for tests:
//
//   - OAuth: GET /shops/{shop}/admin/oauth/authorize (the merchant approves
//     at once and is sent back with a signed query) and POST
//     /shops/{shop}/admin/oauth/access_token (codes, and refresh grants
//     for expiring offline tokens).
//   - The Admin and Payments Apps GraphQL APIs, which validate every query
//     and its variables against Shopify's real schema of the API version in
//     the URL (testdata/, converted from @shopify/dev-mcp's introspection
//     results; see testdata/README.md), with github.com/vektah/gqlparser/v2,
//     and answer like Shopify: userErrors, top-level errors with
//     extensions.code (undefinedField, THROTTLED). A version without a
//     schema here is answered 404.
//   - Shopify's side of payment sessions: requests sent over mTLS with a
//     client certificate from the simulator's own CA, and the confirmation
//     flow (paymentSessionConfirm, then the result POSTed to the app:
//     SetConfirmation).
//   - Webhooks signed as Shopify signs them.
//
// Give the bridge AdminOrigin = s.AdminOrigin() ("{URL}/shops/{shop}").
package shopifytest

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"paybridge/internal/checkout"
	"paybridge/internal/simkit"
)

//go:embed testdata/*.graphql testdata/*.graphql.gz testdata/webhooks/*.json
var files embed.FS

// Versions of the schemas in testdata: the Admin API's and the Payments
// Apps API's the bridge and its tests use.
var (
	AdminVersions    = []string{"2026-07"}
	PaymentsVersions = []string{"2026-07", "2026-10"}
)

// Fixture returns a webhook payload fixture by file name
// ("orders_create.json"), from testdata/webhooks.
func Fixture(name string) []byte {
	b, err := files.ReadFile("testdata/webhooks/" + name)
	if err != nil {
		panic("shopifytest: no fixture " + name)
	}
	return b
}

// SDL returns a schema file ("admin_2026-07.graphql",
// "payments_apps_2026-10.graphql"), decompressed when it is stored
// gzipped (the Admin schema is).
func SDL(name string) string {
	if b, err := files.ReadFile("testdata/" + name); err == nil {
		return string(b)
	}
	f, err := files.Open("testdata/" + name + ".gz")
	if err != nil {
		panic("shopifytest: no schema " + name)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		panic("shopifytest: schema " + name + ": " + err.Error())
	}
	b, err := io.ReadAll(gz)
	if err != nil {
		panic("shopifytest: schema " + name + ": " + err.Error())
	}
	return string(b)
}

// withoutField drops a field's definition line (two-space indent) from an
// SDL file.
func withoutField(sdl, field string) string {
	lines := strings.Split(sdl, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "  "+field+"(") && !strings.HasPrefix(l, "  "+field+":") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Failure is a scripted failure of a GraphQL field.
type Failure struct {
	// Status answers this HTTP status (503, 429 …) instead.
	Status int
	// Throttled answers HTTP 200 with a THROTTLED error.
	Throttled bool
	// UserError answers the mutation with this user error.
	UserError string
	// Code is the user error's code (for payloads whose errors have one).
	Code string
}

// Call is one GraphQL operation received.
type Call struct {
	API     string // "admin" or "payments_apps"
	Version string // the API version in the URL ("2026-07")
	Shop    string
	Field   string
	Vars    map[string]any
	// Answered is false for scripted failures and refused calls.
	Answered bool
}

// SessionState is what Shopify knows of a payment session.
type SessionState struct {
	State       string // "", "resolved", "rejected", "pending"
	Reason      string
	Message     string
	RedirectURL string
	Resolves    int
	Rejects     int
	// Confirms counts paymentSessionConfirm calls Shopify took.
	Confirms int
}

// Transaction is an order transaction, in the shop's currency and in the
// order's presentment currency.
type Transaction struct {
	ID                  string
	Kind                string
	Status              string
	Gateway             string
	Amount              string
	Currency            string
	PresentmentAmount   string
	PresentmentCurrency string
}

// Order is a simulated order. Its balance is kept in the shop's currency
// and in the presentment currency (the one the shopper saw), which
// payments must be recorded in.
type Order struct {
	GID                    string
	Name                   string
	Note                   string
	Currency               string
	Outstanding            string
	Presentment            string
	PresentmentOutstanding string
	Status                 string // displayFinancialStatus
	Transactions           []Transaction
}

// Server is a running simulator.
type Server struct {
	// URL is the simulator's base URL.
	URL       string
	APIKey    string
	APISecret string

	srv *httptest.Server
	// admin and paa are the schemas by API version.
	admin map[string]*ast.Schema
	// legacyAdmin lacks orderCreateManualPayment (API versions < 2025-04).
	legacyAdmin map[string]*ast.Schema
	paa         map[string]*ast.Schema

	mu        sync.Mutex
	legacy    bool
	tokenTTL  time.Duration
	codes     map[string]string // code → shop
	tokens    map[string]token  // access token → shop
	refreshes map[string]string // refresh token → shop
	sessions  map[string]*SessionState
	refunds   map[string]*SessionState
	others    map[string]*SessionState // capture and void sessions
	transient map[string]transientState
	configs   map[string]map[string]any
	orders    map[string]*Order
	failures  simkit.Faults[Failure]
	calls     []Call
	seq       int

	// The payments extension's confirmation settings (SetConfirmation).
	confirmURL     string
	confirmResults map[string]bool // gid → what Shopify answers (default true)
	confirmDrops   int             // confirmation results not delivered
	deliveries     sync.WaitGroup

	clientCA   *x509.Certificate
	clientCert tls.Certificate
	serverCA   *x509.Certificate
	serverCert tls.Certificate
}

// transientState is a state Shopify answers the next resolves or
// rejects of a session with, before it takes them.
type transientState struct {
	state string
	n     int
}

type token struct {
	shop    string
	expires time.Time
}

// New starts a simulator for the app with these credentials. Close it.
func New(apiKey, apiSecret string) *Server {
	s := &Server{APIKey: apiKey, APISecret: apiSecret,
		codes: map[string]string{}, tokens: map[string]token{}, refreshes: map[string]string{},
		sessions: map[string]*SessionState{}, refunds: map[string]*SessionState{}, others: map[string]*SessionState{},
		configs: map[string]map[string]any{}, orders: map[string]*Order{}, transient: map[string]transientState{},
		confirmResults: map[string]bool{}}
	s.admin, s.legacyAdmin, s.paa = map[string]*ast.Schema{}, map[string]*ast.Schema{}, map[string]*ast.Schema{}
	for _, v := range AdminVersions {
		sdl := SDL("admin_" + v + ".graphql")
		s.admin[v] = loadSchema("admin_"+v+".graphql", sdl)
		s.legacyAdmin[v] = loadSchema("admin_"+v+"-legacy.graphql", withoutField(sdl, "orderCreateManualPayment"))
	}
	for _, v := range PaymentsVersions {
		s.paa[v] = loadSchema("payments_apps_"+v+".graphql", SDL("payments_apps_"+v+".graphql"))
	}
	s.makeCerts()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// loadSchemaCache keeps parsed schemas across simulators: the Admin
// schema takes a while to parse and never changes.
var loadSchemaCache sync.Map // name → *ast.Schema

func loadSchema(name, sdl string) *ast.Schema {
	if s, ok := loadSchemaCache.Load(name); ok {
		return s.(*ast.Schema)
	}
	s := gqlparser.MustLoadSchema(&ast.Source{Name: name, Input: sdl})
	loadSchemaCache.Store(name, s)
	return s
}

// Close stops the server, after the confirmation results on their way.
func (s *Server) Close() {
	s.deliveries.Wait()
	s.srv.Close()
}

// SetConfirmation sets the payments extension's
// supports_oversell_protection with its confirmation_callback_url: with an
// empty url, paymentSessionConfirm answers CONFIRMATION_NOT_SUPPORTED;
// otherwise Shopify takes it (the session becomes CONFIRMING) and POSTs
// the result to url over mTLS, with Shopify's headers. Results are true
// (the checkout can be fulfilled) unless SetConfirmationResult says
// otherwise.
func (s *Server) SetConfirmation(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmURL = url
}

// SetConfirmationResult sets what Shopify answers when the payment session
// gid is confirmed: false as for an item sold out meanwhile.
func (s *Server) SetConfirmationResult(gid string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmResults[gid] = ok
}

// DropConfirmations makes the next n confirmation results go undelivered,
// as when Shopify's POST is lost.
func (s *Server) DropConfirmations(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmDrops += n
}

// deliverConfirmation POSTs a confirmation result to the app, as Shopify
// does after paymentSessionConfirm: the session's id and gid and
// confirmation_result, with the session request headers and the client
// certificate. Its answer is not looked at (the result is recorded on
// the simulator's side already).
func (s *Server) deliverConfirmation(target, shop, gid string, ok bool) {
	defer s.deliveries.Done()
	id := strings.TrimPrefix(gid, "gid://shopify/PaymentSession/")
	b, _ := json.Marshal(map[string]any{"id": id, "gid": gid, "confirmation_result": ok})
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Shopify-Shop-Domain", shop)
	req.Header.Set("Shopify-Request-Id", random(8))
	req.Header.Set("Shopify-Api-Version", SessionAPIVersion)
	if resp, err := s.SessionClient(true).Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// AdminOrigin is the value for the bridge's SHOPIFY_ADMIN_ORIGIN.
func (s *Server) AdminOrigin() string { return s.URL + "/shops/{shop}" }

// SetLegacy makes the Admin API lack orderCreateManualPayment.
func (s *Server) SetLegacy(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacy = on
}

// SetTokenTTL makes new access tokens expire after d, with a refresh
// token (0: offline tokens that never expire).
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// ExpireTokens makes every access token issued so far invalid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.expires = time.Now().Add(-time.Second)
		s.tokens[k] = t
	}
}

// GrantToken issues an offline token for shop directly (no OAuth).
func (s *Server) GrantToken(shop string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "shpat_" + random(16)
	s.tokens[tok] = token{shop: shop}
	return tok
}

// Fail scripts the next n calls of a GraphQL field (matched exactly) to
// fail with f. Calls queue up in order.
func (s *Server) Fail(field string, n int, f Failure) { s.failures.AddExact(field, n, f) }

// Recover drops the scripted failures of a GraphQL field not yet taken:
// Shopify answers it again.
func (s *Server) Recover(field string) { s.failures.Clear(field) }

// Calls returns the GraphQL calls of a field ("" for all) so far.
func (s *Server) Calls(field string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if field == "" || c.Field == field {
			out = append(out, c)
		}
	}
	return out
}

// HoldSession makes Shopify answer the next n resolves or rejects of the
// payment session gid with a state that is not final — "confirming"
// (CONFIRMING: Shopify is confirming the payment) or
// "buyer_action_required" — without taking them, as a session Shopify is
// still confirming does.
func (s *Server) HoldSession(gid, state string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transient[gid] = transientState{state, n}
}

// Session returns the state of a payment session by gid.
func (s *Server) Session(gid string) SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.sessions[gid]; st != nil {
		return *st
	}
	return SessionState{}
}

// RefundSession returns the state of a refund session by gid.
func (s *Server) RefundSession(gid string) SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.refunds[gid]; st != nil {
		return *st
	}
	return SessionState{}
}

// OtherSession returns the state of a capture or void session by gid.
func (s *Server) OtherSession(gid string) SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.others[gid]; st != nil {
		return *st
	}
	return SessionState{}
}

// Configuration returns the last paymentsAppConfigure arguments for shop.
func (s *Server) Configuration(shop string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.configs[shop]
}

// AddOrder creates an order owing total (a decimal string) in currency
// and returns its gid.
func (s *Server) AddOrder(id int64, name, currency, total string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid := fmt.Sprintf("gid://shopify/Order/%d", id)
	s.orders[gid] = &Order{GID: gid, Name: name, Currency: currency, Outstanding: total,
		Presentment: currency, PresentmentOutstanding: total, Status: "PENDING"}
	return gid
}

// AddMultiCurrencyOrder creates an order of a multi-currency store: it
// owes total in the shop's currency and presented (what the shopper saw)
// in presentment. It returns its gid.
func (s *Server) AddMultiCurrencyOrder(id int64, name, currency, total, presentment, presented string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid := fmt.Sprintf("gid://shopify/Order/%d", id)
	s.orders[gid] = &Order{GID: gid, Name: name, Currency: currency, Outstanding: total,
		Presentment: presentment, PresentmentOutstanding: presented, Status: "PENDING"}
	return gid
}

// Order returns a copy of an order.
func (s *Server) Order(gid string) Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[gid]
	if o == nil {
		return Order{}
	}
	c := *o
	c.Transactions = append([]Transaction(nil), o.Transactions...)
	return c
}

// SignQuery adds timestamp (now) and hmac to q as Shopify signs admin
// links: hex HMAC-SHA256 of the sorted, URLSearchParams-encoded query, a
// repeated key's values joined with ",".
func (s *Server) SignQuery(q url.Values, at time.Time) url.Values {
	q.Set("timestamp", strconv.FormatInt(at.Unix(), 10))
	q.Del("hmac")
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, searchParamsEscape(k)+"="+searchParamsEscape(strings.Join(q[k], ",")))
	}
	mac := hmac.New(sha256.New, []byte(s.APISecret))
	mac.Write([]byte(strings.Join(parts, "&")))
	q.Set("hmac", hex.EncodeToString(mac.Sum(nil)))
	return q
}

// searchParamsEscape is URLSearchParams' encoding of s (space as "+";
// letters, digits and *-._ kept), which url.QueryEscape is not on "*"
// and "~".
func searchParamsEscape(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("%2A", "*", "~", "%7E").Replace(e)
}

// InstallQuery is the signed query Shopify opens the app URL with.
func (s *Server) InstallQuery(shop string, at time.Time) url.Values {
	q := url.Values{}
	q.Set("shop", shop)
	q.Set("host", base64.RawURLEncoding.EncodeToString([]byte("admin.shopify.com/store/"+strings.TrimSuffix(shop, ".myshopify.com"))))
	return s.SignQuery(q, at)
}

// SignWebhook is the X-Shopify-Hmac-Sha256 of body.
func (s *Server) SignWebhook(body []byte) string {
	mac := hmac.New(sha256.New, []byte(s.APISecret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SendWebhook POSTs a webhook as Shopify does and returns the status.
// An empty signature signs body correctly.
func (s *Server) SendWebhook(hc *http.Client, target, topic, shop, eventID string, body []byte, signature string) (int, error) {
	if signature == "" {
		signature = s.SignWebhook(body)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Hmac-Sha256", signature)
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Shop-Domain", shop)
	h.Set("X-Shopify-Api-Version", "2026-07")
	h.Set("X-Shopify-Webhook-Id", "wh-"+random(6))
	h.Set("X-Shopify-Event-Id", eventID)
	a := simkit.Send(hc, simkit.Message{URL: target, Body: body, Header: h,
		Prepare: func(r *http.Request, now time.Time) {
			r.Header.Set("X-Shopify-Triggered-At", now.UTC().Format(time.RFC3339))
		}})
	if a.Err != "" {
		return 0, errors.New(a.Err)
	}
	return a.Status, nil
}

// PaymentSessionBody is a start-payment-session body as Shopify sends it
// (the published example's shape).
func PaymentSessionBody(id, amount, currency, cancelURL string) map[string]any {
	return map[string]any{
		"id": id, "gid": "gid://shopify/PaymentSession/" + id, "group": "grp-" + id,
		"session_id": "sess-" + id, "amount": amount, "currency": currency, "test": true,
		"merchant_locale": "en", "kind": "sale", "proposed_at": time.Now().UTC().Format(time.RFC3339),
		"payment_method": map[string]any{"type": "offsite", "data": map[string]any{"cancel_url": cancelURL}},
		"customer": map[string]any{"email": "buyer@example.com", "phone_number": "96550000000", "locale": "en",
			"billing_address": map[string]any{"given_name": "Fatima", "family_name": "Al-Sabah", "line1": "Street 1",
				"city": "Kuwait City", "postal_code": "13001", "country_code": "KW", "phone_number": "96550000000"}},
	}
}

// SessionAPIVersion is the Shopify-Api-Version PostSession sends (the
// payments extension's configured version).
const SessionAPIVersion = "2026-07"

// PostSession sends a session request (payment, refund, capture or void)
// to the bridge's mTLS endpoint with Shopify's headers and, when withCert,
// the simulator's client certificate. Registering the gid happens on a
// 2xx, as Shopify only then knows the session started.
func (s *Server) PostSession(target, shop string, body map[string]any, withCert bool) (int, map[string]any, error) {
	return s.PostSessionWith(target, shop, body, withCert, nil)
}

// PostSessionWith is PostSession with headers set over Shopify's
// (Shopify-Api-Version, Shopify-Request-Id …); an empty value removes
// the header.
func (s *Server) PostSessionWith(target, shop string, body map[string]any, withCert bool, hdr map[string]string) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Shopify-Shop-Domain", shop)
	req.Header.Set("Shopify-Request-Id", random(8))
	req.Header.Set("Shopify-Api-Version", SessionAPIVersion)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.SessionClient(withCert).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode/100 == 2 {
		gid, _ := body["gid"].(string)
		s.mu.Lock()
		switch {
		case strings.Contains(gid, "/PaymentSession/"):
			if s.sessions[gid] == nil {
				s.sessions[gid] = &SessionState{}
			}
		case strings.Contains(gid, "/RefundSession/"):
			if s.refunds[gid] == nil {
				s.refunds[gid] = &SessionState{}
			}
		default:
			if s.others[gid] == nil {
				s.others[gid] = &SessionState{}
			}
		}
		s.mu.Unlock()
	}
	return resp.StatusCode, out, nil
}

// SessionClient is an HTTPS client trusting the simulator's server CA,
// presenting Shopify's client certificate when withCert.
func (s *Server) SessionClient(withCert bool) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(s.serverCA)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{s.clientCert}
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// ClientCAs is the pool to verify Shopify's client certificates with.
func (s *Server) ClientCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.clientCA)
	return p
}

// ClientCAPEM is the client CA as PEM (what SHOPIFY_MTLS_CA_FILE holds).
func (s *Server) ClientCAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.clientCA.Raw})
}

// ServerCertificate is a certificate for 127.0.0.1 and localhost, from a
// CA the session client trusts: the bridge's session listener uses it.
func (s *Server) ServerCertificate() *tls.Certificate { c := s.serverCert; return &c }

// ServerCertPEM is ServerCertificate as PEM files' contents (for
// SHOPIFY_MTLS_CERT_FILE and SHOPIFY_MTLS_KEY_FILE).
func (s *Server) ServerCertPEM() (certPEM, keyPEM []byte) {
	key, err := x509.MarshalECPrivateKey(s.serverCert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.serverCert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key})
}

func (s *Server) makeCerts() {
	mk := func(cn string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, isCA bool, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"shopifytest"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
		if isCA {
			tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
			tmpl.KeyUsage |= x509.KeyUsageCertSign
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		parent, signer := tmpl, key
		if ca != nil {
			parent, signer = ca, caKey
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			panic(err)
		}
		cert, _ := x509.ParseCertificate(der)
		return cert, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	}
	ca, caKey, _ := mk("Shopify test client CA", nil, nil, true, 0)
	_, _, client := mk("shopify-payments-client", ca, caKey, false, x509.ExtKeyUsageClientAuth)
	sca, scaKey, _ := mk("Test public CA", nil, nil, true, 0)
	_, _, srv := mk("localhost", sca, scaKey, false, x509.ExtKeyUsageServerAuth)
	s.clientCA, s.clientCert, s.serverCA, s.serverCert = ca, client, sca, srv
}

func random(n int) string { return simkit.RandomHex(n) }

func writeJSON(w http.ResponseWriter, status int, v any) { simkit.WriteJSON(w, status, v) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/shops/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	shop, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	switch {
	case path == "/admin/oauth/authorize" && r.Method == http.MethodGet:
		s.authorize(w, r, shop)
	case path == "/admin/oauth/access_token" && r.Method == http.MethodPost:
		s.accessToken(w, r, shop)
	case strings.HasPrefix(path, "/admin/api/") && strings.HasSuffix(path, "/graphql.json") && r.Method == http.MethodPost:
		s.graphql(w, r, shop, "admin")
	case strings.HasPrefix(path, "/payments_apps/api/") && strings.HasSuffix(path, "/graphql.json") && r.Method == http.MethodPost:
		s.graphql(w, r, shop, "payments_apps")
	default:
		http.NotFound(w, r)
	}
}

// authorize approves at once and redirects to redirect_uri, signed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, shop string) {
	q := r.URL.Query()
	if q.Get("client_id") != s.APIKey || q.Get("redirect_uri") == "" || q.Get("state") == "" {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	code := random(12)
	s.mu.Lock()
	s.codes[code] = shop
	s.mu.Unlock()
	back := url.Values{}
	back.Set("code", code)
	back.Set("shop", shop)
	back.Set("state", q.Get("state"))
	back.Set("host", base64.RawURLEncoding.EncodeToString([]byte("admin.shopify.com/store/x")))
	s.SignQuery(back, time.Now())
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request, shop string) {
	var in map[string]string
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	if in["client_id"] != s.APIKey || !hmac.Equal([]byte(in["client_secret"]), []byte(s.APISecret)) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case in["grant_type"] == "refresh_token":
		if s.refreshes[in["refresh_token"]] != shop {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		delete(s.refreshes, in["refresh_token"])
	case in["code"] != "":
		if s.codes[in["code"]] != shop {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
			return
		}
		delete(s.codes, in["code"])
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	tok := "shpat_" + random(16)
	out := map[string]any{"access_token": tok, "scope": "read_orders,write_orders"}
	t := token{shop: shop}
	if s.tokenTTL > 0 {
		t.expires = time.Now().Add(s.tokenTTL)
		rt := "shprt_" + random(16)
		s.refreshes[rt] = shop
		out["expires_in"] = int(s.tokenTTL.Seconds())
		out["refresh_token"] = rt
		out["refresh_token_expires_in"] = 7776000
	}
	s.tokens[tok] = t
	writeJSON(w, http.StatusOK, out)
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func (s *Server) graphql(w http.ResponseWriter, r *http.Request, shop, api string) {
	version := strings.TrimSuffix(r.URL.Path[strings.Index(r.URL.Path, "/api/")+len("/api/"):], "/graphql.json")
	s.mu.Lock()
	t, ok := s.tokens[r.Header.Get("X-Shopify-Access-Token")]
	s.mu.Unlock()
	if !ok || t.shop != shop || (!t.expires.IsZero() && time.Now().After(t.expires)) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": "invalid JSON"})
		return
	}
	s.mu.Lock()
	schema := s.paa[version]
	if api == "admin" {
		schema = s.admin[version]
		if s.legacy {
			schema = s.legacyAdmin[version]
		}
	}
	s.mu.Unlock()
	if schema == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": "Not Found: no " + api + " API version " + version})
		return
	}
	doc, errs := gqlparser.LoadQueryWithRules(schema, in.Query, nil)
	if len(errs) > 0 {
		var out []gqlError
		for _, e := range errs {
			code := "GRAPHQL_VALIDATION_FAILED"
			if strings.Contains(e.Message, "Cannot query field") {
				code = "undefinedField"
			}
			out = append(out, gqlError{Message: e.Message, Extensions: map[string]any{"code": code}})
		}
		s.record(Call{API: api, Version: version, Shop: shop, Field: "(invalid)"})
		writeJSON(w, http.StatusOK, map[string]any{"errors": out})
		return
	}
	if len(doc.Operations) != 1 {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Message: "exactly one operation is supported"}}})
		return
	}
	op := doc.Operations[0]
	vars, err := validator.VariableValues(schema, op, in.Variables)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Message: err.Error(), Extensions: map[string]any{"code": "INVALID_VARIABLE"}}}})
		return
	}
	data := map[string]any{}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			continue
		}
		args := f.ArgumentMap(vars)
		if fail, ok := s.takeFailure(f.Name); ok {
			s.record(Call{API: api, Version: version, Shop: shop, Field: f.Name, Vars: args})
			switch {
			case fail.Status != 0:
				writeJSON(w, fail.Status, map[string]any{"errors": "simulated failure"})
				return
			case fail.Throttled:
				writeJSON(w, http.StatusOK, map[string]any{"errors": []gqlError{{Message: "Throttled", Extensions: map[string]any{"code": "THROTTLED"}}},
					"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10,
						"throttleStatus": map[string]any{"maximumAvailable": 1000, "currentlyAvailable": 0, "restoreRate": 50}}}})
				return
			default:
				ue := map[string]any{"field": []string{"id"}, "message": fail.UserError}
				if fail.Code != "" {
					ue["code"] = fail.Code
				}
				data[f.Alias] = map[string]any{"userErrors": []map[string]any{ue}}
				continue
			}
		}
		data[f.Alias] = s.execute(shop, f.Name, args)
		s.record(Call{API: api, Version: version, Shop: shop, Field: f.Name, Vars: args, Answered: true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data,
		"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10, "actualQueryCost": 10,
			"throttleStatus": map[string]any{"maximumAvailable": 1000, "currentlyAvailable": 990, "restoreRate": 50}}}})
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *Server) takeFailure(field string) (Failure, bool) { return s.failures.Take(field) }

func userErrors(msgs ...string) []map[string]any {
	out := []map[string]any{}
	for _, m := range msgs {
		out = append(out, map[string]any{"field": []string{"id"}, "message": m})
	}
	return out
}

// codedUserErrors is one user error with a code (payloads whose errors
// have one: PaymentSessionConfirmUserError).
func codedUserErrors(code, msg string) []map[string]any {
	return []map[string]any{{"field": []string{"id"}, "message": msg, "code": code}}
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func (s *Server) sessionJSON(gid string, st *SessionState) map[string]any {
	state := map[string]any{"__typename": "PaymentSessionStateRedirecting", "code": "REDIRECTING"}
	switch st.State {
	case "resolved":
		state = map[string]any{"__typename": "PaymentSessionStateResolved", "code": "RESOLVED"}
	case "rejected":
		state = map[string]any{"__typename": "PaymentSessionStateRejected", "code": "REJECTED", "reason": st.Reason, "merchantMessage": st.Message}
	case "pending":
		state = map[string]any{"__typename": "PaymentSessionStatePending", "code": "PENDING", "reason": st.Reason}
	case "confirming":
		state = map[string]any{"__typename": "PaymentSessionStateConfirming", "code": "CONFIRMING"}
	case "buyer_action_required":
		state = map[string]any{"__typename": "PaymentSessionStateBuyerActionRequired", "code": "BUYER_ACTION_REQUIRED"}
	}
	out := map[string]any{"id": gid, "state": state, "nextAction": nil}
	if st.RedirectURL != "" {
		out["nextAction"] = map[string]any{"action": "REDIRECT", "context": map[string]any{"redirectUrl": st.RedirectURL}}
	}
	return out
}

// execute runs one top-level field. Called without s.mu.
func (s *Server) execute(shop, field string, args map[string]any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := str(args["id"])
	reason, _ := args["reason"].(map[string]any)
	switch field {
	case "paymentSessionResolve", "paymentSessionReject", "paymentSessionPending":
		st := s.sessions[id]
		if st == nil {
			return map[string]any{"paymentSession": nil, "userErrors": userErrors(
				"Payment session has already been resolved with a different authentication, has already been rejected, or the response to start_payment_session request has not been received.")}
		}
		if t := s.transient[id]; t.n > 0 && field != "paymentSessionPending" {
			t.n--
			s.transient[id] = t
			held := *st
			held.State, held.RedirectURL = t.state, ""
			return map[string]any{"paymentSession": s.sessionJSON(id, &held), "userErrors": []any{}}
		}
		switch field {
		case "paymentSessionResolve":
			if st.State == "rejected" {
				return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": userErrors("Payment session has already been rejected.")}
			}
			st.Resolves++
			if st.State != "resolved" {
				st.State = "resolved"
				st.RedirectURL = s.URL + "/checkouts/" + strings.TrimPrefix(id, "gid://shopify/PaymentSession/") + "/thank_you"
			}
		case "paymentSessionReject":
			if st.State == "resolved" {
				return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": userErrors("Payment session has already been resolved.")}
			}
			st.Rejects++
			if st.State != "rejected" {
				st.State, st.Reason, st.Message = "rejected", str(reason["code"]), str(reason["merchantMessage"])
				st.RedirectURL = s.URL + "/checkouts/" + strings.TrimPrefix(id, "gid://shopify/PaymentSession/") + "/payment_failed"
			}
		default:
			if st.State == "" {
				st.State, st.Reason = "pending", str(args["reason"])
				st.RedirectURL = s.URL + "/checkouts/" + strings.TrimPrefix(id, "gid://shopify/PaymentSession/") + "/processing"
			}
		}
		return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": []any{}}
	case "paymentSessionConfirm":
		st := s.sessions[id]
		switch {
		case st == nil:
			return map[string]any{"paymentSession": nil, "userErrors": codedUserErrors("PAYMENT_SESSION_NOT_FOUND", "Payment session not found.")}
		case s.confirmURL == "":
			return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": codedUserErrors("CONFIRMATION_NOT_SUPPORTED", "The payments app does not support confirmation.")}
		case st.State != "":
			return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": codedUserErrors("INVALID_STATE_TRANSITION", "The payment session cannot be confirmed from its current state.")}
		}
		st.State = "confirming"
		st.Confirms++
		ok, set := s.confirmResults[id]
		if !set {
			ok = true
		}
		if s.confirmDrops > 0 {
			s.confirmDrops--
		} else {
			s.deliveries.Add(1)
			go s.deliverConfirmation(s.confirmURL, shop, id, ok)
		}
		return map[string]any{"paymentSession": s.sessionJSON(id, st), "userErrors": []any{}}
	case "refundSessionResolve", "refundSessionReject", "captureSessionResolve", "captureSessionReject", "voidSessionResolve", "voidSessionReject":
		table := s.refunds
		key := "refundSession"
		if !strings.HasPrefix(field, "refund") {
			table = s.others
			key = strings.TrimSuffix(strings.TrimSuffix(field, "Resolve"), "Reject")
		}
		st := table[id]
		if st == nil {
			return map[string]any{key: nil, "userErrors": userErrors("Session not found, or the response to the session request has not been received.")}
		}
		if strings.HasSuffix(field, "Resolve") {
			st.Resolves++
			st.State = "resolved"
		} else {
			st.Rejects++
			st.State, st.Reason, st.Message = "rejected", str(reason["code"]), str(reason["merchantMessage"])
		}
		return map[string]any{key: map[string]any{"id": id}, "userErrors": []any{}}
	case "paymentsAppConfigure":
		s.configs[shop] = args
		return map[string]any{"paymentsAppConfiguration": map[string]any{"externalHandle": args["externalHandle"], "ready": args["ready"]}, "userErrors": []any{}}
	case "paymentSession":
		if st := s.sessions[id]; st != nil {
			return s.sessionJSON(id, st)
		}
		return nil
	case "order":
		if o := s.orders[id]; o != nil {
			return orderJSON(o)
		}
		return nil
	case "orderUpdate":
		in, _ := args["input"].(map[string]any)
		o := s.orders[str(in["id"])]
		if o == nil {
			return map[string]any{"order": nil, "userErrors": userErrors("Order does not exist")}
		}
		if n, ok := in["note"]; ok {
			o.Note = str(n)
		}
		return map[string]any{"order": orderJSON(o), "userErrors": []any{}}
	case "orderCreateManualPayment":
		o := s.orders[id]
		if o == nil {
			return map[string]any{"order": nil, "userErrors": userErrors("Order does not exist")}
		}
		amt, _ := args["amount"].(map[string]any)
		amount, currency := str(amt["amount"]), str(amt["currencyCode"])
		if err := s.pay(o, amount, currency, str(args["paymentMethodName"])); err != nil {
			var ce codedError
			if errors.As(err, &ce) {
				return map[string]any{"order": orderJSON(o), "userErrors": []map[string]any{{"field": []string{"amount"}, "message": ce.msg, "code": ce.code}}}
			}
			return map[string]any{"order": orderJSON(o), "userErrors": userErrors(err.Error())}
		}
		return map[string]any{"order": orderJSON(o), "userErrors": []any{}}
	case "orderMarkAsPaid":
		in, _ := args["input"].(map[string]any)
		o := s.orders[str(in["id"])]
		if o == nil {
			return map[string]any{"order": nil, "userErrors": userErrors("Order does not exist")}
		}
		if err := s.pay(o, o.PresentmentOutstanding, o.Presentment, "manual"); err != nil {
			return map[string]any{"order": orderJSON(o), "userErrors": userErrors(err.Error())}
		}
		return map[string]any{"order": orderJSON(o), "userErrors": []any{}}
	}
	return nil
}

// codedError is a user error with its code in the Admin schema's
// OrderCreateManualPaymentOrderCreateManualPaymentErrorCode.
type codedError struct{ code, msg string }

func (e codedError) Error() string { return e.code + ": " + e.msg }

// pay records a sale on o in the presentment currency, in exact minor
// units, as Shopify does: an amount in another currency is
// CURRENCY_MISMATCH.
func (s *Server) pay(o *Order, amount, currency, gateway string) error {
	if currency != o.Presentment {
		return codedError{"CURRENCY_MISMATCH", "The currency of the amount does not match the order's presentment currency."}
	}
	m, err := checkout.ParseMoney(amount, currency)
	if err != nil {
		return err
	}
	out, err := checkout.ParseMoney(o.PresentmentOutstanding, currency)
	if err != nil {
		return err
	}
	shopOut, err := checkout.ParseMoney(o.Outstanding, o.Currency)
	if err != nil {
		return err
	}
	if m.Minor <= 0 {
		return codedError{"AMOUNT_NOT_POSITIVE", "The amount must be positive."}
	}
	if m.Minor > out.Minor || o.Status == "PAID" {
		return codedError{"AMOUNT_EXCEEDS_BALANCE", "The amount exceeds the outstanding balance."}
	}
	s.seq++
	if gateway == "" {
		gateway = "Other"
	}
	// The shop-currency share of the payment, in proportion.
	shopPart := shopOut.Minor
	if m.Minor < out.Minor {
		shopPart = shopOut.Minor * m.Minor / out.Minor
	}
	o.Transactions = append(o.Transactions, Transaction{ID: fmt.Sprintf("gid://shopify/OrderTransaction/%d", 9000+s.seq),
		Kind: "SALE", Status: "SUCCESS", Gateway: gateway, Amount: checkout.Money{Minor: shopPart, Currency: o.Currency}.String(), Currency: o.Currency,
		PresentmentAmount: m.String(), PresentmentCurrency: currency})
	out.Minor -= m.Minor
	shopOut.Minor -= shopPart
	o.PresentmentOutstanding, o.Outstanding = out.String(), shopOut.String()
	o.Status = "PARTIALLY_PAID"
	if out.Minor == 0 {
		o.Status = "PAID"
	}
	return nil
}

func orderJSON(o *Order) map[string]any {
	txns := []any{}
	for _, t := range o.Transactions {
		txns = append(txns, map[string]any{"id": t.ID, "kind": t.Kind, "status": t.Status, "gateway": t.Gateway, "formattedGateway": t.Gateway,
			"amountSet": map[string]any{"shopMoney": map[string]any{"amount": t.Amount, "currencyCode": t.Currency},
				"presentmentMoney": map[string]any{"amount": t.PresentmentAmount, "currencyCode": t.PresentmentCurrency}}})
	}
	return map[string]any{"id": o.GID, "name": o.Name, "note": o.Note, "currencyCode": o.Currency, "presentmentCurrencyCode": o.Presentment,
		"displayFinancialStatus": o.Status,
		"totalOutstandingSet": map[string]any{"shopMoney": map[string]any{"amount": o.Outstanding, "currencyCode": o.Currency},
			"presentmentMoney": map[string]any{"amount": o.PresentmentOutstanding, "currencyCode": o.Presentment}},
		"transactions": txns}
}
