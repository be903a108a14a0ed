package api

import (
	"paybridge/internal/checkout"
	"paybridge/internal/platforms"
	"paybridge/internal/server"
)

// Module is the generic JSON platform as the bridge wires it. It reads no
// variables of its own and is always on.
type Module struct{}

var _ platforms.Module = (*Module)(nil)

// Validate returns nil: there is nothing to check.
func (m *Module) Validate() error { return nil }

// Off returns "": the platform is always served.
func (m *Module) Off() string { return "" }

// Open returns the routes and the merchant callback syncer over deps.
func (m *Module) Open(deps platforms.Deps) (platforms.Platform, error) {
	return &platform{
		API:    New(deps.Service, deps.Store),
		Syncer: NewSyncer(deps.Store, deps.Service.PayURL, SyncerConfig{AllowPrivate: deps.AllowInsecureURLs}),
	}, nil
}

// platform is the opened API: its routes and its syncer.
type platform struct {
	*API
	*Syncer
}

var (
	_ server.Routes   = (*platform)(nil)
	_ checkout.Syncer = (*platform)(nil)
)

// Name returns checkout.PlatformAPI.
func (p *platform) Name() string { return checkout.PlatformAPI }
