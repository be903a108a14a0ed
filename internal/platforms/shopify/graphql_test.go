package shopify

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/shopify/shopifytest"
)

// TestGraphQLErrorClasses checks how Shopify's answers map onto the job
// ladder: retry, retry after, or give up.
func TestGraphQLErrorClasses(t *testing.T) {
	h := newHarness(t, sqliteBackend)
	shop := h.install("classes.myshopify.com")
	call := func(query string) error {
		var out map[string]any
		return h.p.graphql(context.Background(), shop, apiPayments, query, map[string]any{"ready": true, "externalHandle": "x"}, &out)
	}
	for _, c := range []struct {
		name      string
		fail      *shopifytest.Failure
		query     string
		permanent bool
		after     bool
	}{
		{"ok", nil, configureMutation, false, false},
		{"503", &shopifytest.Failure{Status: http.StatusServiceUnavailable}, configureMutation, false, false},
		{"429", &shopifytest.Failure{Status: http.StatusTooManyRequests}, configureMutation, false, true},
		{"THROTTLED", &shopifytest.Failure{Throttled: true}, configureMutation, false, true},
		{"403", &shopifytest.Failure{Status: http.StatusForbidden}, configureMutation, true, false},
		{"unknown field", nil, `mutation { paymentsAppConfigure(ready: true) { bogus } }`, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.fail != nil {
				h.sim.Fail("paymentsAppConfigure", 1, *c.fail)
			}
			err := call(c.query)
			var ra *checkout.RetryAfterError
			switch {
			case c.name == "ok" && err != nil:
				t.Fatal(err)
			case c.name == "ok":
			case err == nil:
				t.Fatal("no error")
			case checkout.IsPermanent(err) != c.permanent:
				t.Fatalf("permanent = %v: %v", checkout.IsPermanent(err), err)
			case errors.As(err, &ra) != c.after:
				t.Fatalf("retry-after = %v: %v", errors.As(err, &ra), err)
			}
		})
	}
	// A userError that cannot change is permanent; Shopify not having
	// seen our answer to the session yet is retried.
	if err := userErrorsErr("x", UserErrors{{Message: "Payment session has already been rejected."}}); !checkout.IsPermanent(err) {
		t.Fatalf("rejected session: %v", err)
	}
	if err := userErrorsErr("x", UserErrors{{Message: "… or the response to start_payment_session request has not been received."}}); err == nil || checkout.IsPermanent(err) {
		t.Fatalf("not received yet: %v", err)
	}
}
