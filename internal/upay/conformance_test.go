package upay_test

import (
	"net/http"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/checkout/gatewaytest"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

// TestConformance runs the gateway conformance suite against the
// simulator, with a signing account (requests and notifications signed).
func TestConformance(t *testing.T) {
	gatewaytest.Run(t, func(t *testing.T, callbackURL string) gatewaytest.Harness {
		var sim *upaytest.Sim
		srv := gatewaytest.NewServer(t, func(base string) http.Handler { sim = upaytest.New(base); return sim })
		t.Cleanup(sim.Wait)
		sim.SetSecret("conformance-key", "conformance-secret")
		amount := checkout.Money{Minor: 12345, Currency: "KWD"}
		return gatewaytest.Harness{
			Gateway: upay.New(upay.Config{SandboxURL: sim.APIBase()}),
			Account: checkout.GatewayAccount{Gateway: upay.GatewayName, Sandbox: true,
				Credentials: map[string]string{"api_key": "conformance-key", "api_secret": "conformance-secret"}},
			BadAccount: checkout.GatewayAccount{Gateway: upay.GatewayName, Sandbox: true,
				Credentials: map[string]string{"api_key": "conformance-wrong-key"}},
			NewPayment: func(*testing.T) *checkout.Payment { return gatewaytest.NewPayment(amount) },
			Pay:        gatewaytest.Act(sim.Complete, upaytest.Captured),
			Decline:    gatewaytest.Act(sim.Complete, upaytest.NotCaptured),
			Cancel:     gatewaytest.Act(sim.Complete, upaytest.Canceled),
			Stall:      srv.StallNext,
			Fail: func(_ *testing.T, status int) {
				body := `{"message":"Server Error"}`
				if status == http.StatusUnauthorized {
					body = `{"message":"Unauthorized"}`
				}
				sim.FailNext("", status, body)
			},
		}
	})
}
