package kupay_test

import (
	"net/http"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/checkout/gatewaytest"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
)

// TestConformance runs the gateway conformance suite against the
// simulator (unsigned callbacks, no refunds).
func TestConformance(t *testing.T) {
	gatewaytest.Run(t, func(t *testing.T, callbackURL string) gatewaytest.Harness {
		var sim *kupaytest.Sim
		srv := gatewaytest.NewServer(t, func(base string) http.Handler { sim = kupaytest.New(base); return sim })
		t.Cleanup(sim.Wait)
		amount := checkout.Money{Minor: 1250, Currency: "USD"}
		return gatewaytest.Harness{
			Gateway: kupay.New(kupay.Config{BaseURL: sim.APIBase()}),
			Account: checkout.GatewayAccount{Gateway: kupay.GatewayName,
				Credentials: map[string]string{kupay.CredToken: kupaytest.DefaultToken}},
			BadAccount: checkout.GatewayAccount{Gateway: kupay.GatewayName,
				Credentials: map[string]string{kupay.CredToken: "kupay_conformance_wrong"}},
			NewPayment: func(*testing.T) *checkout.Payment { return gatewaytest.NewPayment(amount) },
			Pay:        gatewaytest.Act(sim.Complete, kupaytest.Paid),
			Decline:    gatewaytest.Act(sim.Complete, kupaytest.Failure),
			Cancel:     gatewaytest.Act(sim.Complete, kupaytest.Cancelled),
			Stall:      srv.StallNext,
			Fail:       func(_ *testing.T, status int) { sim.FailNext("", status, "[]") },
		}
	})
}
