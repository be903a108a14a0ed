package main

import (
	"net/http"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/kupay"
	"paybridge/internal/platforms"
	"paybridge/internal/platforms/api"
	"paybridge/internal/platforms/shopify"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/upay"
)

// gatewayModules are the gateways this build has, each with its variables
// still to be read: a new gateway is one more entry.
func gatewayModules() []gatewayModule {
	return []gatewayModule{&upay.Module{}, &cko.Module{}, &kupay.Module{}}
}

// platformModules are the platforms this build has, each with its
// variables still to be read: a new platform is one more entry.
func platformModules() []platforms.Module {
	return []platforms.Module{&api.Module{}, &woocommerce.Module{}, &shopify.Module{}}
}

// gatewayModule is a gateway package's Module: a struct whose env tags
// name the gateway's variables, filled by loadConfig.
type gatewayModule interface {
	// Name is the gateway's name ("upay"), as accounts name it.
	Name() string
	// Validate checks the parsed variables; each error names its variable.
	Validate() error
	// Gateway returns the adapter. Its Capabilities do not depend on the
	// variables, so `shops add` reads them from an unparsed module.
	Gateway() checkout.Gateway
	// Simulator returns the demo simulator served with BRIDGE_SIMULATORS
	// at routes.SimulatorPath(Name()) (that prefix stripped), and log
	// attributes saying how to point an account at it.
	Simulator(publicURL string) (http.Handler, []any)
}
