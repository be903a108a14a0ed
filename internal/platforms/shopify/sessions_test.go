package shopify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/upay/upaytest"
)

// postPayment sends a payment session with the test flag and headers,
// and returns the status and redirect URL.
func (h *harness) postPayment(shop *checkout.Shop, id string, test bool, hdr map[string]string) (int, string) {
	h.t.Helper()
	body := shopifytest.PaymentSessionBody(id, "3.000", "KWD", h.sim.URL+"/checkouts/"+id)
	body["test"] = test
	code, out, err := h.sim.PostSessionWith(h.sessionURL+"/shopify/payments/sessions", shop.Domain, body, true, hdr)
	if err != nil {
		h.t.Fatal(err)
	}
	u, _ := out["redirect_url"].(string)
	return code, u
}

// TestSessionTestFlag: a test checkout is charged only on a sandbox
// account, a real one only on a live account, and a shop without
// credentials (a new install) takes nothing; each refusal is a durable
// rejection with its reason, without any gateway call.
func TestSessionTestFlag(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	sandbox := h.setup("sandbox-flag.myshopify.com", ModePaymentsApp)
	live := h.setup("live-flag.myshopify.com", ModePaymentsApp)
	if code, out := h.settings(live.Domain, SettingsJSON{Mode: ModePaymentsApp, Sandbox: false}); code != http.StatusOK {
		t.Fatalf("settings: %d %v", code, out)
	}
	fresh := h.install("fresh-flag.myshopify.com")
	if fresh.Gateway.Sandbox {
		t.Fatal("a new install defaults to a sandbox account")
	}

	charged := func(shop *checkout.Shop, id string, test bool) {
		t.Helper()
		before := len(h.upay.Charges())
		code, u := h.postPayment(shop, id, test, nil)
		if code != http.StatusCreated {
			t.Fatalf("%s: %d", id, code)
		}
		h.visit(u)
		if p := h.payment(shop, id); p.Status == checkout.StatusFailed || len(h.upay.Charges()) != before+1 || p.Metadata[MetaTest] != map[bool]string{true: "true", false: "false"}[test] {
			t.Fatalf("%s: payment %s, %d charges", id, p.Status, len(h.upay.Charges())-before)
		}
	}
	refused := func(shop *checkout.Shop, id string, test bool, want string) {
		t.Helper()
		before := h.gatewayCreates()
		code, u := h.postPayment(shop, id, test, nil)
		if code != http.StatusCreated || u == "" {
			t.Fatalf("%s: %d %q", id, code, u)
		}
		p := h.payment(shop, id)
		if p.Status != checkout.StatusFailed || !strings.Contains(p.Metadata[checkout.MetaDeclineReason], want) {
			t.Fatalf("%s: %s %q", id, p.Status, p.Metadata[checkout.MetaDeclineReason])
		}
		gid := "gid://shopify/PaymentSession/" + id
		eventually(t, 15*time.Second, id+" rejected", func() bool { return h.sim.Session(gid).State == "rejected" })
		if st := h.sim.Session(gid); !strings.Contains(st.Message, want) {
			t.Fatalf("%s: merchant message %q", id, st.Message)
		}
		if n := h.gatewayCreates() - before; n != 0 {
			t.Fatalf("%s: %d gateway calls", id, n)
		}
	}
	charged(sandbox, "flag-test-on-sandbox", true)
	refused(sandbox, "flag-live-on-sandbox", false, "sandbox (test) account, which cannot take a real checkout")
	charged(live, "flag-live-on-live", false)
	refused(live, "flag-test-on-live", true, "test checkouts are charged only on a sandbox account")
	refused(fresh, "flag-fresh", false, "has not entered its UPayments credentials")
	// A retry of a taken session is answered the same; with other details
	// it is refused.
	if code, _ := h.postPayment(live, "flag-live-on-live", false, map[string]string{"Shopify-Api-Version": "2026-10"}); code != http.StatusCreated {
		t.Fatalf("retry: %d", code)
	}
	other := shopifytest.PaymentSessionBody("flag-live-on-live", "4.000", "KWD", h.sim.URL+"/checkouts/x")
	other["test"] = false
	if code, _, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/sessions", live.Domain, other, true); err != nil || code != http.StatusConflict {
		t.Fatalf("retry with another amount: %d %v", code, err)
	}

	// Order-webhook mode follows the same rule: a real order on a sandbox
	// account gets a note, no payment.
	orders := h.setup("sandbox-orders.myshopify.com", ModeOrderWebhook)
	gid := h.sim.AddOrder(7001, "#7001", "KWD", "1.000")
	var o map[string]any
	_ = json.Unmarshal(orderPayload(t, 7001, orders.Domain, "1.000"), &o)
	o["test"] = false
	b, _ := json.Marshal(o)
	if code, err := h.sim.SendWebhook(nil, h.base+"/shopify/webhooks", "orders/create", orders.Domain, "evt-7001", b, ""); err != nil || code != http.StatusOK {
		t.Fatalf("webhook: %d %v", code, err)
	}
	if _, err := h.db.PaymentByOrder(t.Context(), orders.ID, "7001"); err == nil {
		t.Fatal("a real order got a payment on a sandbox account")
	}
	if note := h.sim.Order(gid).Note; !strings.Contains(note, "sandbox (test) account") {
		t.Fatalf("note: %q", note)
	}
}

// TestSessionRequestHeaders: Shopify-Api-Version is checked, and with
// Shopify-Request-Id recorded on the payment's events and in the logs;
// the session's mutations use its API version.
func TestSessionRequestHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("headers-shop.myshopify.com", ModePaymentsApp)
	for _, c := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no API version", map[string]string{"Shopify-Api-Version": ""}},
		{"not a release", map[string]string{"Shopify-Api-Version": "2026-08"}},
		{"unstable", map[string]string{"Shopify-Api-Version": "unstable"}},
		{"too old", map[string]string{"Shopify-Api-Version": "2024-10"}},
		{"no request id", map[string]string{"Shopify-Request-Id": ""}},
	} {
		id := "hdr-" + strings.ReplaceAll(c.name, " ", "-")
		if code, _ := h.postPayment(shop, id, true, c.hdr); code != http.StatusBadRequest {
			t.Errorf("%s: %d", c.name, code)
		}
		if _, err := h.db.PaymentByOrder(t.Context(), shop.ID, id); err == nil {
			t.Errorf("%s: a payment was recorded", c.name)
		}
	}

	const id = "hdr-ok"
	code, u := h.postPayment(shop, id, true, map[string]string{"Shopify-Api-Version": "2026-10", "Shopify-Request-Id": "req-hdr-1"})
	if code != http.StatusCreated {
		t.Fatalf("session: %d", code)
	}
	p := h.payment(shop, id)
	if p.Metadata[MetaAPIVersion] != "2026-10" {
		t.Fatalf("API version stored: %q", p.Metadata[MetaAPIVersion])
	}
	ret, _ := h.upay.Complete(h.visit(u), upaytest.Captured)
	h.waitRedirect(ret, 15*time.Second)
	calls := h.sim.Calls("paymentSessionResolve")
	if len(calls) == 0 || calls[len(calls)-1].Version != "2026-10" {
		t.Fatalf("resolve calls: %+v", calls)
	}
	// A refund session on another version and request id.
	rid := "r-hdr-ok"
	body := map[string]any{"id": rid, "gid": "gid://shopify/RefundSession/" + rid, "payment_id": id, "amount": "1.000", "currency": "KWD"}
	if code, out, err := h.sim.PostSessionWith(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true,
		map[string]string{"Shopify-Api-Version": "2026-07", "Shopify-Request-Id": "req-hdr-2"}); err != nil || code != http.StatusCreated {
		t.Fatalf("refund session: %d %v %v", code, out, err)
	}
	eventually(t, 20*time.Second, "refund resolved", func() bool { return h.sim.RefundSession("gid://shopify/RefundSession/"+rid).State == "resolved" })
	body["amount"] = "2.000" // the same refund session with another amount
	if code, _, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/refunds", shop.Domain, body, true); err != nil || code != http.StatusConflict {
		t.Fatalf("refund session with another amount: %d %v", code, err)
	}
	if calls := h.sim.Calls("refundSessionResolve"); calls[len(calls)-1].Version != "2026-07" {
		t.Fatalf("refund resolve on %s", calls[len(calls)-1].Version)
	}
	evs, err := h.svc.Events(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range evs {
		if e.Kind != EventSessionRequest {
			continue
		}
		var d map[string]string
		_ = json.Unmarshal(e.Detail, &d)
		seen[d["shopify_request_id"]] = d["session"] + " " + d["api_version"]
	}
	if seen["req-hdr-1"] != "payment 2026-10" || seen["req-hdr-2"] != "refund 2026-07" {
		t.Fatalf("session requests on the payment's events: %v", seen)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "shopify_request_id=req-hdr-1") || !strings.Contains(logs, "shopify_request_id=req-hdr-2") {
		t.Fatal("request ids not in the logs")
	}
}

// TestSessionRejectionsDurable: capture, void and refund-session
// rejections that Shopify does not take at once survive a restart and are
// sent afterwards, once.
func TestSessionRejectionsDurable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("durable-rejects.myshopify.com", ModePaymentsApp)
	sessions := []struct{ path, mutation, gid string }{
		{"captures", "captureSessionReject", "gid://shopify/CaptureSession/cap-d"},
		{"voids", "voidSessionReject", "gid://shopify/VoidSession/void-d"},
		{"refunds", "refundSessionReject", "gid://shopify/RefundSession/ref-d"},
	}
	for _, s := range sessions {
		h.sim.Fail(s.mutation, 1000, shopifytest.Failure{Status: http.StatusServiceUnavailable})
		id := s.gid[strings.LastIndex(s.gid, "/")+1:]
		body := map[string]any{"id": id, "gid": s.gid, "payment_id": "no-such-session", "amount": "1.000", "currency": "KWD"}
		for range 2 { // Shopify retries: one rejection
			if code, out, err := h.sim.PostSession(h.sessionURL+"/shopify/payments/"+s.path, shop.Domain, body, true); err != nil || code != http.StatusCreated {
				t.Fatalf("%s session: %d %v %v", s.path, code, out, err)
			}
		}
	}
	for _, s := range sessions {
		eventually(t, 15*time.Second, s.mutation+" tried", func() bool { return len(h.sim.Calls(s.mutation)) >= 2 })
	}
	h.stop()
	for _, s := range sessions {
		h.sim.Recover(s.mutation)
	}
	h.restart()
	for _, s := range sessions {
		eventually(t, 20*time.Second, s.mutation+" after the restart", func() bool {
			return h.sim.OtherSession(s.gid).State == "rejected" ||
				h.sim.RefundSession(s.gid).State == "rejected"
		})
		st := h.sim.OtherSession(s.gid)
		if strings.Contains(s.gid, "Refund") {
			st = h.sim.RefundSession(s.gid)
		}
		if st.Rejects != 1 || st.Reason != "PROCESSING_ERROR" || st.Message == "" {
			t.Fatalf("%s: %+v", s.gid, st)
		}
	}
}

// TestSessionConfirmingStates: a session Shopify answers as CONFIRMING or
// BUYER_ACTION_REQUIRED after paymentSessionResolve is not final: the
// resolve is sent again until Shopify resolves it, and the shopper is
// sent on only then. The selection names these states only where the
// API version has them (the simulator validates against each version's
// real schema).
func TestSessionConfirmingStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("confirming-shop.myshopify.com", ModePaymentsApp)
	for _, c := range []struct{ id, state string }{{"conf-1", "confirming"}, {"conf-2", "buyer_action_required"}} {
		gid := "gid://shopify/PaymentSession/" + c.id
		h.sim.HoldSession(gid, c.state, 2)
		code, u := h.postPayment(shop, c.id, true, map[string]string{"Shopify-Api-Version": "2026-10"})
		if code != http.StatusCreated {
			t.Fatalf("session: %d", code)
		}
		ret, _ := h.upay.Complete(h.visit(u), upaytest.Captured)
		eventually(t, 20*time.Second, c.id+" resolved", func() bool { return h.sim.Session(gid).State == "resolved" })
		if loc := h.waitRedirect(ret, 15*time.Second); loc != h.sim.URL+"/checkouts/"+c.id+"/thank_you" {
			t.Fatalf("shopper sent to %q", loc)
		}
		eventually(t, 10*time.Second, "synced", func() bool { return h.payment(shop, c.id).SyncState == checkout.SyncDone })
		n := 0
		for _, call := range h.sim.Calls("paymentSessionResolve") {
			if call.Vars["id"] == gid {
				n++
			}
		}
		if st := h.sim.Session(gid); n != 3 || st.Resolves != 1 || h.payment(shop, c.id).Metadata[MetaSessionState] != "resolved" {
			t.Fatalf("%s: %d resolve calls, %+v, state %q", c.id, n, st, h.payment(shop, c.id).Metadata[MetaSessionState])
		}
	}
	if q := resolveMutation("2025-07"); strings.Contains(q, "Confirming") {
		t.Fatal("2025-07 selection names states that version is not known to have")
	}
}
