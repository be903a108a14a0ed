package upay

import (
	"errors"
	"fmt"
	"net/http"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/upay/upaytest"
)

// Module is UPayments as the bridge wires it: the variables it reads
// (env tags, github.com/caarlos0/env/v11), the adapter built from them and
// the demo simulator. cmd/bridge lists it; nothing else is needed to
// register the gateway.
type Module struct {
	// SandboxURL is the API base of sandbox accounts. UPAY_SANDBOX_URL.
	SandboxURL string `env:"UPAY_SANDBOX_URL" envDefault:"https://sandboxapi.upayments.com/api/v1"`
	// LiveURL is the API base of live accounts. UPAY_LIVE_URL.
	LiveURL string `env:"UPAY_LIVE_URL" envDefault:"https://apiv2api.upayments.com/api/v1"`
}

// Name returns "upay".
func (m *Module) Name() string { return GatewayName }

// Validate checks the parsed variables; each error names its variable.
func (m *Module) Validate() error {
	var errs []error
	for _, v := range []struct{ name, url string }{{"UPAY_SANDBOX_URL", m.SandboxURL}, {"UPAY_LIVE_URL", m.LiveURL}} {
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
// at routes.SimulatorPath("upay") with that prefix stripped, and the
// log attributes telling an operator where to point UPAY_SANDBOX_URL.
func (m *Module) Simulator(publicURL string) (http.Handler, []any) {
	base := routes.SimulatorURL(publicURL, GatewayName)
	return upaytest.New(base), []any{"upay_api", base + "/api/v1"}
}
