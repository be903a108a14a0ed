// Package gatewaytest is the conformance suite every gateway adapter runs
// against its simulator: [Run] exercises a [checkout.Gateway] through the
// same calls the core makes (charge, status, callbacks, refunds) and the
// failures it must survive (a stalled gateway, a 5xx, a rejected key), and
// checks what the core relies on: that a status binds only to its own
// payment and amount, that a claim is never signed unless its signature
// verified, that temporary failures say so and permanent ones show no
// secret, and that declared capabilities match what the adapter does.
//
// A gateway package runs it from a test of its own:
//
//	func TestConformance(t *testing.T) {
//		gatewaytest.Run(t, func(t *testing.T, callbackURL string) gatewaytest.Harness {
//			// start the simulator, point the adapter at it, return the harness
//		})
//	}
package gatewaytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// Harness is one adapter wired to a fresh simulator, with the controls
// the suite drives it by.
type Harness struct {
	// Gateway is the adapter under test, pointed at the simulator.
	Gateway checkout.Gateway
	// Account is a shop's working account at the simulator. Where the
	// gateway signs notifications, it holds the signing key.
	Account checkout.GatewayAccount
	// BadAccount is an account whose credentials the simulator rejects
	// (HTTP 401 or 403).
	BadAccount checkout.GatewayAccount
	// NewPayment returns a new payment, with fresh ids, for an amount and
	// currency the gateway takes ([NewPayment] makes one).
	NewPayment func(t *testing.T) *checkout.Payment
	// NoChargeRef says that the gateway's answer to a charge carries no
	// reference of its own (Charge.Ref is empty); by default the suite
	// requires one.
	NoChargeRef bool

	// Pay, Decline and Cancel do what the shopper does on the hosted page
	// of charge ch: pay, have the payment declined, or cancel it. Each
	// makes the simulator send its notification (to the callback URL Run
	// gave) and returns the URL the shopper's browser comes back to. Nil
	// when the gateway has no such outcome (the case is skipped). A charge
	// left alone stays unpaid.
	Pay, Decline, Cancel func(t *testing.T, ch checkout.Charge) string

	// Stall makes the simulator's next API request hang, unanswered, until
	// the client gives up ([Server.StallNext]).
	Stall func(t *testing.T)
	// Fail makes the simulator's next API request answer the HTTP status
	// (500, 503, 401), with a body the gateway would send.
	Fail func(t *testing.T, status int)
}

// NewHarness builds a harness with a fresh simulator for one case.
// callbackURL is where the simulator must send notifications: the suite
// passes URLs under it to CreatePayment (callbackURL + "/notify/{gateway}/{payment id}",
// "/return/{id}", "/cancel/{id}") and routes a notification posted to an
// account-level URL (callbackURL + "/notify/{gateway}") with the adapter's
// checkout.CallbackRouter.
type NewHarness func(t *testing.T, callbackURL string) Harness

// Run runs every case of the suite as a subtest, each on a harness of its
// own: Capabilities (declared credentials, amount rules, refunds only with
// a checkout.Refunder, saved cards only with a checkout.CustomerTokener), Charge (and each declared payment method), Status (unpaid, paid and bound to the
// payment's order and exact amount, declined, canceled, another payment's
// reference), Callbacks (genuine returns and notifications, stripped,
// garbage, a wrong signature, account-level routing), Faults (a stall, a
// 5xx, a 401, rejected credentials) and Refunds (full, partial). A case
// whose feature the gateway lacks, or whose shopper action (Decline,
// Cancel) the harness leaves nil, is skipped; the other controls are
// required.
func Run(t *testing.T, newHarness NewHarness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, setup(t, newHarness))
		})
	}
}

// env is one case's harness, with the inbox its notifications reach.
type env struct {
	Harness
	ctx   context.Context
	caps  checkout.Capabilities
	inbox *inbox
	base  string
}

func setup(t *testing.T, newHarness NewHarness) *env {
	t.Helper()
	e := &env{ctx: t.Context()}
	var srv *httptest.Server
	e.inbox, srv = newInbox(t)
	e.base = srv.URL
	e.Harness = newHarness(t, e.base)
	if e.Gateway == nil || e.NewPayment == nil {
		t.Fatal("gatewaytest: the harness needs a Gateway and NewPayment")
	}
	e.inbox.setGateway(e.Gateway)
	e.caps = e.Gateway.Capabilities()
	return e
}

// urls are the addresses paybridge gives the gateway for p.
func (e *env) urls(p *checkout.Payment) checkout.URLs {
	return checkout.URLs{Return: e.base + "/return/" + p.ID, Cancel: e.base + "/cancel/" + p.ID,
		Notify: e.base + "/notify/" + e.Gateway.Name() + "/" + p.ID}
}

// charge creates the charge of a new payment and records it on the
// payment as the core does.
func (e *env) charge(t *testing.T) (*checkout.Payment, checkout.Charge) {
	t.Helper()
	p := e.NewPayment(t)
	p.Gateway = e.Gateway.Name()
	ch, err := e.Gateway.CreatePayment(e.ctx, e.Account, p, e.urls(p))
	if err != nil {
		t.Fatalf("CreatePayment(%s %s): %v", p.Amount, p.Amount.Currency, err)
	}
	p.GatewayRef, p.GatewayURL, p.Status = ch.Ref, ch.URL, checkout.StatusRedirected
	if len(ch.Data) > 0 {
		p.GatewayData = maps(p.GatewayData, ch.Data)
	}
	return p, ch
}

// status asks for p's status under ref.
func (e *env) status(t *testing.T, p *checkout.Payment, ref string) checkout.GatewayStatus {
	t.Helper()
	st, err := e.Gateway.Status(e.ctx, e.Account, p, ref)
	if err != nil {
		t.Fatalf("Status(%s): %v", ref, err)
	}
	return st
}

// ref is what the core asks Status about for charge ch of p.
func ref(p *checkout.Payment, ch checkout.Charge) string {
	if ch.Ref != "" {
		return ch.Ref
	}
	return p.GatewayRef
}

// act runs a shopper action, skipping the case when the gateway has none.
func act(t *testing.T, f func(*testing.T, checkout.Charge) string, what string, ch checkout.Charge) string {
	t.Helper()
	if f == nil {
		t.Skipf("the gateway has no %s outcome", what)
	}
	return f(t, ch)
}

// paid pays a new charge and binds the paid status to the payment, as the
// core does before any refund.
func (e *env) paid(t *testing.T) (*checkout.Payment, checkout.Charge) {
	t.Helper()
	if e.Pay == nil {
		t.Fatal("gatewaytest: the harness needs Pay")
	}
	p, ch := e.charge(t)
	e.Pay(t, ch)
	st := e.status(t, p, ref(p, ch))
	if st.Outcome != checkout.OutcomePaid {
		t.Fatalf("status after paying: %s (%q)", st.Outcome, st.Result)
	}
	if st.Ref != "" {
		p.GatewayRef = st.Ref
	}
	p.TransactionID, p.Status = st.TransactionID, checkout.StatusPaid
	p.GatewayData = maps(p.GatewayData, st.Data)
	return p, ch
}

func maps(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// returned is the browser's return to returnURL as paybridge receives it.
func returned(t *testing.T, returnURL string) checkout.CallbackRequest {
	t.Helper()
	u, err := url.Parse(returnURL)
	if err != nil {
		t.Fatalf("return URL %q: %v", returnURL, err)
	}
	return checkout.CallbackRequest{Method: http.MethodGet, URL: returnURL, Query: u.Query(), Header: http.Header{}}
}

// gatewayError returns err as a *checkout.GatewayError or fails.
func gatewayError(t *testing.T, what string, err error) *checkout.GatewayError {
	t.Helper()
	var ge *checkout.GatewayError
	if !errors.As(err, &ge) {
		t.Fatalf("%s: err = %v, want a *checkout.GatewayError", what, err)
	}
	if ge.Gateway == "" || ge.Op == "" || ge.Message == "" {
		t.Errorf("%s: incomplete GatewayError %+v", what, ge)
	}
	return ge
}

// showsSecret reports which credential of accounts err's text shows.
func showsSecret(err error, accounts ...checkout.GatewayAccount) string {
	var ge *checkout.GatewayError
	texts := []string{err.Error()}
	if errors.As(err, &ge) {
		texts = append(texts, ge.Message)
	}
	for _, a := range accounts {
		for name, v := range a.Credentials {
			if len(v) < 4 {
				continue // too short to tell from ordinary text
			}
			for _, s := range texts {
				if strings.Contains(s, v) {
					return name
				}
			}
		}
	}
	return ""
}

// tamper changes one letter or digit of b, near its end, keeping its format.
func tamper(b []byte) []byte {
	out := bytes.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		switch c := out[i]; {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
			out[i]++
			return out
		case c == '9' || c == 'z' || c == 'Z':
			out[i]--
			return out
		}
	}
	return append(out, ' ')
}

// final outcomes end a payment.
var final = []checkout.Outcome{checkout.OutcomePaid, checkout.OutcomeFailed, checkout.OutcomeCanceled, checkout.OutcomeExpired}

type testCase struct {
	name string
	run  func(t *testing.T, e *env)
}

var cases = []testCase{
	{"Capabilities/Credentials", testCredentials},
	{"Capabilities/Amounts", testAmounts},
	{"Capabilities/Refunder", testRefunder},
	{"Capabilities/CustomerTokener", testCustomerTokener},
	{"Charge/Methods", testMethods},
	{"Charge", testCharge},
	{"Status/Unpaid", testUnpaid},
	{"Status/Paid", testPaid},
	{"Status/Declined", func(t *testing.T, e *env) { testOutcome(t, e, e.Decline, "decline", checkout.OutcomeFailed) }},
	{"Status/Canceled", func(t *testing.T, e *env) { testOutcome(t, e, e.Cancel, "cancel", checkout.OutcomeCanceled) }},
	{"Status/OtherReference", testOtherReference},
	{"Callbacks/Genuine", testGenuineCallbacks},
	{"Callbacks/Stripped", testStrippedCallback},
	{"Callbacks/Garbage", testGarbageCallback},
	{"Callbacks/WrongSignature", testWrongSignature},
	{"Callbacks/Router", testRouter},
	{"Faults/Stall", testStall},
	{"Faults/Unavailable", testUnavailable},
	{"Faults/Unauthorized", testUnauthorized},
	{"Faults/BadAccount", testBadAccount},
	{"Refunds/Full", func(t *testing.T, e *env) { testRefund(t, e, false) }},
	{"Refunds/Partial", func(t *testing.T, e *env) { testRefund(t, e, true) }},
}

func testCredentials(t *testing.T, e *env) {
	if len(e.caps.Credentials) == 0 {
		t.Fatal("the gateway declares no credentials")
	}
	for _, f := range e.caps.Credentials {
		if f.Name == "" || f.Label == "" || f.LabelAR == "" {
			t.Errorf("credential %+v lacks a name or a label in English and Arabic (connect and settings forms show both)", f)
		}
		if strings.TrimSpace(e.Account.Credentials[f.Name]) == "" {
			t.Errorf("declared credential %q (%s) is not in the working account", f.Name, f.Label)
		}
	}
	if e.Account.Gateway != e.Gateway.Name() {
		t.Errorf("working account is for %q, the adapter is %q", e.Account.Gateway, e.Gateway.Name())
	}
	if err := e.caps.CheckCredentials(e.Account.Credentials); err != nil {
		t.Errorf("CheckCredentials(working account) = %v", err)
	}
	if err := e.caps.CheckCredentials(nil); err == nil {
		t.Error("CheckCredentials accepts an empty account")
	}
	if err := e.caps.CheckCredentials(map[string]string{}); err == nil {
		t.Error("CheckCredentials accepts an account with no credentials")
	}
}

// exponents are currencies the suite tries, by exponent, when the gateway
// takes every currency.
var exponents = map[int][]string{0: {"JPY", "KRW"}, 2: {"USD", "EUR"}, 3: {"KWD", "BHD"}}

// currencyOf returns a currency of exponent exp the gateway takes, or "".
func currencyOf(caps checkout.Capabilities, exp int) string {
	list := caps.Currencies
	if list == nil {
		list = exponents[exp]
	}
	for _, c := range list {
		if x, err := checkout.Exponent(c); err == nil && x == exp {
			return c
		}
	}
	return ""
}

func testAmounts(t *testing.T, e *env) {
	name := e.Gateway.Name()
	p := e.NewPayment(t)
	if err := e.caps.CheckAmount(name, p.Amount); err != nil {
		t.Fatalf("the harness's amount %s %s is refused: %v", p.Amount, p.Amount.Currency, err)
	}
	refused := func(what string, m checkout.Money) {
		t.Helper()
		err := e.caps.CheckAmount(name, m)
		var ue *checkout.UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, checkout.ErrUnsupported) || ue.Gateway != name || ue.Reason == "" {
			t.Errorf("%s: CheckAmount(%s %s) = %v, want an *UnsupportedError", what, m, m.Currency, err)
			return
		}
		// The adapter must refuse it too, never charge a rounded amount.
		q := e.NewPayment(t)
		q.Amount = m
		if _, err := e.Gateway.CreatePayment(e.ctx, e.Account, q, e.urls(q)); err == nil {
			t.Errorf("%s: CreatePayment(%s %s) succeeded although CheckAmount refuses it", what, m, m.Currency)
		}
	}
	for _, r := range e.caps.AmountRules {
		if r.MinorMultiple <= 1 {
			t.Errorf("amount rule %+v restricts nothing", r)
			continue
		}
		if r.Why == "" {
			t.Errorf("amount rule %+v does not say why", r)
		}
		cur := currencyOf(e.caps, r.Exponent)
		if cur == "" {
			t.Errorf("amount rule for exponent %d: the gateway takes no such currency", r.Exponent)
			continue
		}
		refused("amount rule", checkout.Money{Minor: r.MinorMultiple*10 + 1, Currency: cur})
		if err := e.caps.CheckAmount(name, checkout.Money{Minor: r.MinorMultiple * 10, Currency: cur}); err != nil {
			t.Errorf("amount rule %+v refuses a multiple: %v", r, err)
		}
	}
	if e.caps.MaxMinor > 0 {
		refused("above MaxMinor", checkout.Money{Minor: e.caps.MaxMinor + 1, Currency: p.Amount.Currency})
	}
	if e.caps.Currencies != nil {
		if !slices.Contains(e.caps.Currencies, p.Amount.Currency) {
			t.Errorf("the harness's currency %s is not among the declared %v", p.Amount.Currency, e.caps.Currencies)
		}
		for _, cur := range []string{"USD", "KWD", "EUR", "JPY", "BHD"} {
			if !slices.Contains(e.caps.Currencies, cur) {
				refused("undeclared currency", checkout.Money{Minor: 1000, Currency: cur})
				break
			}
		}
	}
}

func testRefunder(t *testing.T, e *env) {
	_, ok := e.Gateway.(checkout.Refunder)
	switch {
	case e.caps.Refunds && !ok:
		t.Error("the gateway declares refunds but is not a checkout.Refunder")
	case !e.caps.Refunds && ok:
		t.Error("the gateway is a checkout.Refunder but declares no refunds")
	case !e.caps.Refunds && (e.caps.PartialRefunds || e.caps.MultipleRefunds || e.caps.IdempotentRefunds):
		t.Errorf("the gateway declares no refunds but partial, multiple or idempotent ones: %+v", e.caps)
	}
}

// testCustomerTokener: saved cards are declared exactly when the adapter
// makes customer tokens, and a token is made with the working account, a
// new one each time.
func testCustomerTokener(t *testing.T, e *env) {
	tg, ok := e.Gateway.(checkout.CustomerTokener)
	switch {
	case e.caps.SavedCards && !ok:
		t.Fatal("the gateway declares saved cards but is not a checkout.CustomerTokener")
	case !e.caps.SavedCards && ok:
		t.Fatal("the gateway is a checkout.CustomerTokener but declares no saved cards")
	case !ok:
		t.Skip("no saved cards")
	}
	a, err := tg.NewCustomerToken(e.ctx, e.Account)
	if err != nil || a == "" {
		t.Fatalf("NewCustomerToken: %q %v", a, err)
	}
	if b, err := tg.NewCustomerToken(e.ctx, e.Account); err != nil || b == a {
		t.Fatalf("a second customer's token %q (%v), the first %q", b, err, a)
	}
}

// testMethods: every payment method the gateway declares can be charged.
func testMethods(t *testing.T, e *env) {
	if len(e.caps.Methods) == 0 {
		t.Skip("the gateway takes no payment method")
	}
	for _, m := range e.caps.Methods {
		p := e.NewPayment(t)
		p.Gateway, p.PaymentMethod = e.Gateway.Name(), m
		if _, err := e.Gateway.CreatePayment(e.ctx, e.Account, p, e.urls(p)); err != nil {
			t.Errorf("method %q: %v", m, err)
		}
	}
}

func testCharge(t *testing.T, e *env) {
	_, ch := e.charge(t)
	u, err := url.Parse(ch.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Errorf("charge URL %q is not an absolute web address", ch.URL)
	}
	if ch.Ref == "" && !e.NoChargeRef {
		t.Error("the charge carries no gateway reference")
	}
	if ch.Ref != "" && e.NoChargeRef {
		t.Errorf("the harness says charges carry no reference, this one carries %q", ch.Ref)
	}
}

func testUnpaid(t *testing.T, e *env) {
	p, ch := e.charge(t)
	st := e.status(t, p, ref(p, ch))
	if st.Outcome != checkout.OutcomePending || slices.Contains(final, st.Outcome) {
		t.Fatalf("status of an unpaid charge: %s (%q), want pending", st.Outcome, st.Result)
	}
}

func testPaid(t *testing.T, e *env) {
	p, ch := e.charge(t)
	act(t, e.Pay, "pay", ch)
	st := e.status(t, p, ref(p, ch))
	if st.Outcome != checkout.OutcomePaid {
		t.Errorf("outcome %s (%q), want paid", st.Outcome, st.Result)
	}
	if ch.Ref != "" && st.Ref != ch.Ref {
		t.Errorf("Ref %q does not echo the charge's %q", st.Ref, ch.Ref)
	}
	if st.OrderID != p.GatewayOrderID {
		t.Errorf("OrderID %q, want the payment's GatewayOrderID %q", st.OrderID, p.GatewayOrderID)
	}
	if !st.Amount.Equal(p.Amount) {
		t.Errorf("Amount %d %s, want %d %s", st.Amount.Minor, st.Amount.Currency, p.Amount.Minor, p.Amount.Currency)
	}
}

func testOutcome(t *testing.T, e *env, f func(*testing.T, checkout.Charge) string, what string, want checkout.Outcome) {
	p, ch := e.charge(t)
	act(t, f, what, ch)
	if st := e.status(t, p, ref(p, ch)); st.Outcome != want {
		t.Fatalf("after %s: outcome %s (%q), want %s", what, st.Outcome, st.Result, want)
	}
}

func testOtherReference(t *testing.T, e *env) {
	p, ch := e.charge(t)
	q, other := e.charge(t)
	if e.Pay != nil {
		e.Pay(t, other) // a paid answer is the one that must not bind
	}
	st := e.status(t, p, ref(q, other))
	if st.OrderID == p.GatewayOrderID {
		t.Errorf("the status of %s names this payment's order %q", other.Ref, st.OrderID)
	}
	if st.Ref != "" && ch.Ref != "" && st.Ref == ch.Ref {
		t.Errorf("the status of %s echoes this payment's reference %q", other.Ref, st.Ref)
	}
}

// parse calls ParseCallback on req, which must succeed.
func (e *env) parse(t *testing.T, what string, req checkout.CallbackRequest) checkout.Callback {
	t.Helper()
	cb, err := e.Gateway.ParseCallback(e.ctx, e.Account, req)
	if err != nil {
		t.Fatalf("ParseCallback(%s): %v", what, err)
	}
	return cb
}

func testGenuineCallbacks(t *testing.T, e *env) {
	for _, a := range []struct {
		what string
		f    func(*testing.T, checkout.Charge) string
		paid bool
	}{{"pay", e.Pay, true}, {"decline", e.Decline, false}, {"cancel", e.Cancel, false}} {
		if a.f == nil {
			continue
		}
		p, ch := e.charge(t)
		ret := a.f(t, ch)
		for _, c := range []struct {
			what string
			req  checkout.CallbackRequest
		}{{a.what + " return", returned(t, ret)}, {a.what + " notification", e.inbox.wait(t, p.ID)}} {
			cb := e.parse(t, c.what, c.req)
			if cb.Ref != "" && ch.Ref != "" && cb.Ref != ch.Ref {
				t.Errorf("%s claims reference %q, the charge's is %q", c.what, cb.Ref, ch.Ref)
			}
			if a.paid && cb.Outcome != checkout.OutcomePaid && cb.Outcome != checkout.OutcomePending {
				t.Errorf("%s claims %s (%q)", c.what, cb.Outcome, cb.Result)
			}
			if !a.paid && cb.Outcome == checkout.OutcomePaid {
				t.Errorf("%s claims paid (%q)", c.what, cb.Result)
			}
			if strings.HasSuffix(c.what, "notification") && e.caps.SignedNotifications && !cb.Signed {
				t.Errorf("%s of a gateway that signs is not Signed", c.what)
			}
		}
	}
}

// notification pays a new charge and returns its genuine notification.
func (e *env) notification(t *testing.T) (*checkout.Payment, checkout.CallbackRequest) {
	t.Helper()
	p, ch := e.charge(t)
	act(t, e.Pay, "pay", ch)
	return p, e.inbox.wait(t, p.ID)
}

// unsignedOrError fails unless ParseCallback refused req or left it unsigned.
func (e *env) unsignedOrError(t *testing.T, what string, req checkout.CallbackRequest) {
	t.Helper()
	cb, err := e.Gateway.ParseCallback(e.ctx, e.Account, req)
	if err == nil && cb.Signed {
		t.Errorf("%s: Signed claim %+v", what, cb)
	}
}

func testStrippedCallback(t *testing.T, e *env) {
	_, req := e.notification(t)
	stripped := req
	stripped.Header = http.Header{}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		stripped.Header.Set("Content-Type", ct)
	}
	e.unsignedOrError(t, "notification without its headers", stripped)
}

func testGarbageCallback(t *testing.T, e *env) {
	p := e.NewPayment(t)
	u := e.urls(p)
	for _, req := range []checkout.CallbackRequest{
		{Method: http.MethodPost, URL: u.Notify, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":`)},
		{Method: http.MethodPost, URL: u.Notify, Header: http.Header{}, Body: []byte("\x00\xff garbage \xfe")},
		{Method: http.MethodPost, URL: u.Notify, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte("result=CAPTURED&status=paid&%zz")},
		{Method: http.MethodGet, URL: u.Return + "?%zz&result=CAPTURED", Query: url.Values{"x": {"\x00"}}, Header: http.Header{}},
	} {
		e.unsignedOrError(t, fmt.Sprintf("garbage %s %q", req.Method, req.Body), req)
	}
}

func testWrongSignature(t *testing.T, e *env) {
	if !e.caps.SignedNotifications {
		t.Skip("the gateway does not sign notifications")
	}
	_, req := e.notification(t)
	bad := req
	bad.Body = tamper(req.Body)
	_, err := e.Gateway.ParseCallback(e.ctx, e.Account, bad)
	if !errors.Is(err, checkout.ErrBadSignature) {
		t.Fatalf("a notification altered in transit: err = %v, want one wrapping checkout.ErrBadSignature", err)
	}
}

func testRouter(t *testing.T, e *env) {
	router, ok := e.Gateway.(checkout.CallbackRouter)
	if !ok {
		t.Skip("the adapter is not a checkout.CallbackRouter")
	}
	p, req := e.notification(t)
	if id, err := router.CallbackPaymentID(req); err != nil || id != p.ID {
		t.Fatalf("CallbackPaymentID = %q, %v; want %s", id, err, p.ID)
	}
	if _, err := router.CallbackPaymentID(checkout.CallbackRequest{Method: http.MethodPost, Body: []byte(`{}`)}); err == nil {
		t.Error("CallbackPaymentID names a payment for an empty body")
	}
}

// temporary fails unless err is a temporary *checkout.GatewayError.
func temporary(t *testing.T, what string, err error) *checkout.GatewayError {
	t.Helper()
	ge := gatewayError(t, what, err)
	if !ge.Temporary {
		t.Errorf("%s: not Temporary: %v", what, err)
	}
	return ge
}

func testStall(t *testing.T, e *env) {
	if e.Stall == nil {
		t.Fatal("gatewaytest: the harness needs Stall")
	}
	const deadline = 300 * time.Millisecond
	check := func(what string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, deadline)
		defer cancel()
		e.Stall(t)
		start := time.Now()
		err := call(ctx)
		if d := time.Since(start); d > deadline+2*time.Second {
			t.Errorf("%s: returned after %s, the context's deadline was %s", what, d, deadline)
		}
		if ge := temporary(t, what, err); ge.HTTPStatus != 0 {
			t.Errorf("%s: HTTPStatus %d without an answer", what, ge.HTTPStatus)
		}
	}
	p, ch := e.charge(t)
	check("stalled status", func(ctx context.Context) error {
		_, err := e.Gateway.Status(ctx, e.Account, p, ref(p, ch))
		return err
	})
	q := e.NewPayment(t)
	check("stalled charge", func(ctx context.Context) error {
		_, err := e.Gateway.CreatePayment(ctx, e.Account, q, e.urls(q))
		return err
	})
	// The gateway works again once it answers.
	e.status(t, p, ref(p, ch))
}

func testUnavailable(t *testing.T, e *env) {
	if e.Fail == nil {
		t.Fatal("gatewaytest: the harness needs Fail")
	}
	p, ch := e.charge(t)
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		e.Fail(t, code)
		_, err := e.Gateway.Status(e.ctx, e.Account, p, ref(p, ch))
		if ge := temporary(t, "status answered "+http.StatusText(code), err); ge.HTTPStatus != code {
			t.Errorf("HTTPStatus %d, want %d", ge.HTTPStatus, code)
		}
	}
	e.Fail(t, http.StatusServiceUnavailable)
	q := e.NewPayment(t)
	_, err := e.Gateway.CreatePayment(e.ctx, e.Account, q, e.urls(q))
	temporary(t, "charge answered 503", err) // its outcome is unknown
}

// permanent fails unless err is a non-temporary *checkout.GatewayError
// for an HTTP 401 or 403 that shows no credential.
func (e *env) permanent(t *testing.T, what string, err error) {
	t.Helper()
	ge := gatewayError(t, what, err)
	if ge.Temporary {
		t.Errorf("%s: Temporary: %v", what, err)
	}
	if ge.HTTPStatus != http.StatusUnauthorized && ge.HTTPStatus != http.StatusForbidden {
		t.Errorf("%s: HTTPStatus %d, want 401 or 403", what, ge.HTTPStatus)
	}
	if name := showsSecret(err, e.Account, e.BadAccount); name != "" {
		t.Errorf("%s: the error shows credential %q: %v", what, name, err)
	}
}

func testUnauthorized(t *testing.T, e *env) {
	if e.Fail == nil {
		t.Fatal("gatewaytest: the harness needs Fail")
	}
	p, ch := e.charge(t)
	e.Fail(t, http.StatusUnauthorized)
	_, err := e.Gateway.Status(e.ctx, e.Account, p, ref(p, ch))
	e.permanent(t, "status answered 401", err)
}

func testBadAccount(t *testing.T, e *env) {
	if e.BadAccount.Credentials == nil {
		t.Fatal("gatewaytest: the harness needs a BadAccount")
	}
	p, ch := e.charge(t)
	q := e.NewPayment(t)
	_, err := e.Gateway.CreatePayment(e.ctx, e.BadAccount, q, e.urls(q))
	e.permanent(t, "charge with rejected credentials", err)
	_, err = e.Gateway.Status(e.ctx, e.BadAccount, p, ref(p, ch))
	e.permanent(t, "status with rejected credentials", err)
}

func testRefund(t *testing.T, e *env, partial bool) {
	g, ok := e.Gateway.(checkout.Refunder)
	switch {
	case !ok || !e.caps.Refunds:
		t.Skip("the gateway does not refund")
	case partial && !e.caps.PartialRefunds:
		t.Skip("the gateway does not refund partially")
	}
	p, _ := e.paid(t)
	amount := p.Amount
	if partial {
		step := int64(1)
		exp, _ := checkout.Exponent(amount.Currency)
		for _, r := range e.caps.AmountRules {
			if r.Exponent == exp && r.MinorMultiple > step {
				step = r.MinorMultiple
			}
		}
		amount.Minor = amount.Minor / 2 / step * step
		if amount.Minor <= 0 {
			t.Fatalf("the harness's amount %s %s is too small to refund in part", p.Amount, p.Amount.Currency)
		}
	}
	r := &checkout.Refund{ID: checkout.NewID("ref"), PaymentID: p.ID, Amount: amount, Status: checkout.RefundPending}
	res, err := g.Refund(e.ctx, e.Account, p, r)
	if err != nil {
		t.Fatalf("Refund(%s of %s %s): %v", amount, p.Amount, p.Amount.Currency, err)
	}
	if res.Status == checkout.RefundFailed {
		t.Fatalf("refund of a paid payment failed: %+v", res)
	}
	r.GatewayRef, r.Status, r.Attempts = res.Ref, res.Status, 1
	st, err := g.RefundStatus(e.ctx, e.Account, p, r)
	if err != nil {
		t.Fatalf("RefundStatus: %v", err)
	}
	if st.Status == checkout.RefundFailed {
		t.Fatalf("refund status: failed: %+v", st)
	}
}
