package cko

import (
	"errors"
	"fmt"
	"net/http"

	"paybridge/internal/checkout"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/routes"
)

// Module is Checkout.com as the bridge wires it: the variables it reads
// (env tags, github.com/caarlos0/env/v11), the adapter built from them and
// the demo simulator. cmd/bridge lists it; nothing else is needed to
// register the gateway.
type Module struct {
	// SandboxURL is the API base of sandbox accounts (use the
	// account-prefixed host Checkout.com gives, when it does).
	// CKO_SANDBOX_URL.
	SandboxURL string `env:"CKO_SANDBOX_URL" envDefault:"https://api.sandbox.checkout.com"`
	// LiveURL is the API base of live accounts. CKO_LIVE_URL.
	LiveURL string `env:"CKO_LIVE_URL" envDefault:"https://api.checkout.com"`
}

// Name returns "cko".
func (m *Module) Name() string { return GatewayName }

// Validate checks the parsed variables; each error names its variable.
func (m *Module) Validate() error {
	var errs []error
	for _, v := range []struct{ name, url string }{{"CKO_SANDBOX_URL", m.SandboxURL}, {"CKO_LIVE_URL", m.LiveURL}} {
		if err := checkout.CheckURL(v.url, true); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", v.name, v.url, err))
		}
	}
	return errors.Join(errs...)
}

// Gateway returns the adapter for the parsed variables.
func (m *Module) Gateway() checkout.Gateway {
	return New(Config{SandboxURL: m.SandboxURL, LiveURL: m.LiveURL})
}

// Simulator returns the demo simulator for BRIDGE_SIMULATORS, to be served
// at routes.SimulatorPath("cko") with that prefix stripped, and the log
// attributes telling an operator where to point CKO_SANDBOX_URL. Its
// webhooks go where Checkout.com posts a workflow's: the bridge's
// account-level notify route.
func (m *Module) Simulator(publicURL string) (http.Handler, []any) {
	base := routes.SimulatorURL(publicURL, GatewayName)
	sim := ckotest.New(base)
	notify := routes.NotifyAccountURL(publicURL, GatewayName)
	sim.SetWebhookURL(func(_, _ string) string { return notify })
	return sim, []any{"cko_api", base, "cko_processing_channel", ckotest.DefaultProcessingChannel}
}
