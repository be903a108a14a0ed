package cko_test

import (
	"net/http"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/checkout/gatewaytest"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
)

// TestConformance runs the gateway conformance suite against the
// simulator, with webhooks posted to the account-level URL and signed.
func TestConformance(t *testing.T) {
	gatewaytest.Run(t, func(t *testing.T, callbackURL string) gatewaytest.Harness {
		var sim *ckotest.Sim
		srv := gatewaytest.NewServer(t, func(base string) http.Handler { sim = ckotest.New(base); return sim })
		t.Cleanup(sim.Close)
		sim.SetWebhookURL(func(_, _ string) string { return callbackURL + "/notify/" + cko.GatewayName })
		creds := func(secretKey string) map[string]string {
			return map[string]string{cko.CredSecretKey: secretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel,
				cko.CredWebhookKey: ckotest.DefaultWebhookKey}
		}
		amount := checkout.Money{Minor: 12340, Currency: "KWD"}
		return gatewaytest.Harness{
			Gateway:    cko.New(cko.Config{SandboxURL: sim.APIBase()}),
			Account:    checkout.GatewayAccount{Gateway: cko.GatewayName, Sandbox: true, Credentials: creds(ckotest.DefaultSecretKey)},
			BadAccount: checkout.GatewayAccount{Gateway: cko.GatewayName, Sandbox: true, Credentials: creds("sk_sbox_conformance_wrong")},
			NewPayment: func(*testing.T) *checkout.Payment { return gatewaytest.NewPayment(amount) },
			Pay:        gatewaytest.Act(sim.Complete, ckotest.Captured),
			Decline:    gatewaytest.Act(sim.Complete, ckotest.Declined),
			Cancel:     gatewaytest.Act(sim.Complete, ckotest.Canceled),
			Stall:      srv.StallNext,
			Fail:       func(_ *testing.T, status int) { sim.FailNext("", status, "") },
		}
	})
}
