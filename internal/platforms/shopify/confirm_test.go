package shopify

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/upay/upaytest"
)

// TestConfirmation runs the paymentSessionConfirm flow end to end: the
// shopper is let through to the gateway only once Shopify has confirmed
// the checkout; a refused confirmation rejects the session with
// CONFIRMATION_REJECTED and sends the shopper back to Shopify without
// reaching the gateway's page; a lost confirmation is given up after
// ConfirmTimeout; a shop whose extension does not confirm goes on as
// before.
func TestConfirmation(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, sqliteBackend, func(c *Config) {
		c.ConfirmSessions = true
		c.ConfirmWait = 300 * time.Millisecond
		c.ConfirmRetry = 500 * time.Millisecond
		c.ConfirmTimeout = 2 * time.Second
	})
	shop := h.setup("confirming-store.myshopify.com", ModePaymentsApp)
	h.sim.SetConfirmation(h.sessionURL + routes.ShopifyConfirmSessions)
	gid := func(id string) string { return "gid://shopify/PaymentSession/" + id }
	// goesToGateway waits until the pay URL sends the shopper to
	// UPayments' page (it shows "checking your order" until then).
	goesToGateway := func(t *testing.T, payURL string) string {
		t.Helper()
		loc := h.waitRedirect(payURL, 15*time.Second)
		if !strings.HasPrefix(loc, h.upay.URL+"/pay/") {
			t.Fatalf("pay URL sent the shopper to %q", loc)
		}
		return strings.TrimPrefix(loc, h.upay.URL+"/pay/")
	}

	t.Run("AcceptedGoesOnToPay", func(t *testing.T) {
		id := "c-accepted"
		track := goesToGateway(t, h.startSession(shop, id, "6.125", "KWD"))
		st := h.sim.Session(gid(id))
		if st.Confirms != 1 || st.State != "confirming" {
			t.Fatalf("session before paying: %+v", st)
		}
		p := h.payment(shop, id)
		if p.Metadata[MetaConfirmation] != confirmAccepted {
			t.Fatalf("confirmation on the payment: %q", p.Metadata[MetaConfirmation])
		}
		ret, err := h.upay.Complete(track, upaytest.Captured)
		if err != nil {
			t.Fatal(err)
		}
		if loc := h.waitRedirect(ret, 15*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/thank_you" {
			t.Fatalf("shopper sent to %q", loc)
		}
		if st := h.sim.Session(gid(id)); st.State != "resolved" || st.Confirms != 1 {
			t.Fatalf("session: %+v", st)
		}
		kinds := eventKinds(t, h, p.ID)
		for _, k := range []string{EventConfirmationAsked, EventConfirmationResult} {
			if kinds[k] != 1 {
				t.Fatalf("%d %s events: %v", kinds[k], k, kinds)
			}
		}
	})

	t.Run("RefusedRejectsWithoutPaying", func(t *testing.T) {
		id := "c-soldout"
		h.sim.SetConfirmationResult(gid(id), false)
		payURL := h.startSession(shop, id, "2.500", "KWD")
		if loc := h.waitRedirect(payURL, 15*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
			t.Fatalf("shopper sent to %q", loc)
		}
		st := h.sim.Session(gid(id))
		if st.State != "rejected" || st.Reason != "CONFIRMATION_REJECTED" || st.Message != msgConfirmRejected || st.Rejects != 1 {
			t.Fatalf("session: %+v", st)
		}
		p := h.payment(shop, id)
		if p.Status != checkout.StatusExpired || eventKinds(t, h, p.ID)[checkout.EventWithdrawn] != 1 {
			t.Fatalf("payment %s, events %v", p.Status, eventKinds(t, h, p.ID))
		}
		if n := transitionsTo(t, h, p.ID, checkout.StatusRedirected); n != 0 {
			t.Fatal("the shopper was sent to the gateway's page")
		}
		// Coming back to the pay URL changes nothing.
		if loc := h.waitRedirect(payURL, 5*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
			t.Fatalf("again: %q", loc)
		}
		h.settled(p.ID)
		if st := h.sim.Session(gid(id)); st.Rejects != 1 || st.Confirms != 1 {
			t.Fatalf("session told twice: %+v", st)
		}
	})

	t.Run("LostConfirmationGivenUp", func(t *testing.T) {
		id := "c-lost"
		h.sim.DropConfirmations(1)
		payURL := h.startSession(shop, id, "1.000", "KWD")
		code, _, body := get(t, noRedirect, payURL)
		if code != http.StatusOK || !strings.Contains(body, "Checking your order") {
			t.Fatalf("pay URL while confirming: %d %s", code, body)
		}
		if strings.Contains(body, "<bdi>"+id+"</bdi>") {
			t.Fatal("the page shows Shopify's session id as the shopper's order")
		}
		if loc := h.waitRedirect(payURL, 15*time.Second); loc != h.sim.URL+"/checkouts/"+id+"/payment_failed" {
			t.Fatalf("shopper sent to %q", loc)
		}
		st := h.sim.Session(gid(id))
		if st.State != "rejected" || st.Reason != "PROCESSING_ERROR" || st.Message != msgConfirmTimeout {
			t.Fatalf("session: %+v", st)
		}
		if calls := len(h.sim.Calls("paymentSessionConfirm")); calls < 2 {
			t.Fatalf("%d paymentSessionConfirm calls: the bridge did not ask again", calls)
		}
	})

	t.Run("CallbackChecked", func(t *testing.T) {
		id := "c-callback"
		h.sim.SetConfirmationResult(gid(id), true)
		h.sim.DropConfirmations(1) // the test sends the result itself
		payURL := h.startSession(shop, id, "3.000", "KWD")
		if code, _, _ := get(t, noRedirect, payURL); code != http.StatusOK {
			t.Fatalf("pay URL: %d", code)
		}
		target := h.sessionURL + routes.ShopifyConfirmSessions
		for _, c := range []struct {
			name string
			body map[string]any
			hdr  map[string]string
			want int
		}{
			{"no result", map[string]any{"id": id, "gid": gid(id)}, nil, http.StatusBadRequest},
			{"result not a boolean", map[string]any{"id": id, "gid": gid(id), "confirmation_result": "true"}, nil, http.StatusBadRequest},
			{"no session", map[string]any{"confirmation_result": true}, nil, http.StatusBadRequest},
			{"id and gid disagree", map[string]any{"id": "other", "gid": gid(id), "confirmation_result": true}, nil, http.StatusBadRequest},
			{"not a payment session", map[string]any{"gid": "gid://shopify/RefundSession/" + id, "confirmation_result": true}, nil, http.StatusBadRequest},
			{"unknown session", map[string]any{"id": "nope", "gid": gid("nope"), "confirmation_result": true}, nil, http.StatusNotFound},
			{"no API version", map[string]any{"id": id, "gid": gid(id), "confirmation_result": true}, map[string]string{"Shopify-Api-Version": ""}, http.StatusBadRequest},
			{"accepted", map[string]any{"gid": gid(id), "confirmation_result": true}, nil, http.StatusCreated},
			{"repeated", map[string]any{"id": id, "gid": gid(id), "confirmation_result": true}, nil, http.StatusCreated},
			{"contradicted", map[string]any{"id": id, "gid": gid(id), "confirmation_result": false}, nil, http.StatusConflict},
		} {
			code, out, err := h.sim.PostSessionWith(target, shop.Domain, c.body, true, c.hdr)
			if err != nil || code != c.want {
				t.Errorf("%s: %d %v %v, want %d", c.name, code, out, err, c.want)
			}
		}
		other := h.setup("other-store.myshopify.com", ModePaymentsApp)
		if code, _, _ := h.sim.PostSessionWith(target, other.Domain, map[string]any{"gid": gid(id), "confirmation_result": false}, true, nil); code != http.StatusNotFound {
			t.Errorf("another shop's session: %d", code)
		}
		if _, _, err := h.sim.PostSessionWith(target, shop.Domain, map[string]any{"gid": gid(id), "confirmation_result": false}, false, nil); err == nil {
			t.Error("a confirmation without Shopify's client certificate was taken")
		}
		if p := h.payment(shop, id); p.Metadata[MetaConfirmation] != confirmAccepted || eventKinds(t, h, p.ID)[EventConfirmationResult] != 1 {
			t.Fatalf("payment: %v", p.Metadata)
		}
		goesToGateway(t, payURL)
	})

	t.Run("NotSupportedGoesOn", func(t *testing.T) {
		h.sim.SetConfirmation("")
		id := "c-unsupported"
		goesToGateway(t, h.startSession(shop, id, "1.500", "KWD"))
		if p := h.payment(shop, id); p.Metadata[MetaConfirmation] != confirmUnsupported {
			t.Fatalf("confirmation: %q", p.Metadata[MetaConfirmation])
		}
	})
}

// TestConfirmationOff: without ConfirmSessions nothing is asked.
func TestConfirmationOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sqliteBackend)
	shop := h.setup("plain-store.myshopify.com", ModePaymentsApp)
	h.sim.SetConfirmation(h.sessionURL + routes.ShopifyConfirmSessions)
	h.visit(h.startSession(shop, "c-off", "1.000", "KWD"))
	if n := len(h.sim.Calls("paymentSessionConfirm")); n != 0 {
		t.Fatalf("%d paymentSessionConfirm calls", n)
	}
}

func eventKinds(t *testing.T, h *harness, paymentID string) map[string]int {
	t.Helper()
	evs, err := h.svc.Events(t.Context(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Kind]++
	}
	return out
}

func transitionsTo(t *testing.T, h *harness, paymentID string, to checkout.Status) int {
	t.Helper()
	evs, err := h.svc.Events(t.Context(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == checkout.EventTransition && e.To == string(to) {
			n++
		}
	}
	return n
}
