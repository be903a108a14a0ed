package kupay

import (
	"fmt"
	"net/http"

	"paybridge/internal/checkout"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/routes"
)

// Module is KuPay as the bridge wires it: the variable it reads (env
// tags, github.com/caarlos0/env/v11), the adapter built from it and the
// demo simulator. cmd/bridge lists it; nothing else is needed to register
// the gateway.
type Module struct {
	// URL is KuPay's API host (paths start with /v1). KUPAY_URL.
	URL string `env:"KUPAY_URL" envDefault:"https://api.kupay.finance"`
}

// Name returns "kupay".
func (m *Module) Name() string { return GatewayName }

// Validate checks the parsed variable; the error names it.
func (m *Module) Validate() error {
	if err := checkout.CheckURL(m.URL, true); err != nil {
		return fmt.Errorf("KUPAY_URL=%q: %w", m.URL, err)
	}
	return nil
}

// Gateway returns the adapter for the parsed variable.
func (m *Module) Gateway() checkout.Gateway { return New(Config{BaseURL: m.URL}) }

// Simulator returns the demo simulator for BRIDGE_SIMULATORS, to be served
// at routes.SimulatorPath("kupay") with that prefix stripped, and the log
// attributes telling an operator where to point KUPAY_URL.
func (m *Module) Simulator(publicURL string) (http.Handler, []any) {
	base := routes.SimulatorURL(publicURL, GatewayName)
	return kupaytest.New(base), []any{"kupay_api", base}
}
