package woocommerce

import (
	"context"
	"fmt"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms"
	"paybridge/internal/server"
)

// Module is the WooCommerce platform as the bridge wires it: [Config]'s
// variables (BRIDGE_WEBHOOK_CHECK_INTERVAL). It is always on.
type Module struct {
	Config
}

var _ platforms.Module = (*Module)(nil)

// Validate checks the variables; the error names its variable.
func (m *Module) Validate() error {
	if m.WebhookCheckInterval < time.Second {
		return fmt.Errorf("BRIDGE_WEBHOOK_CHECK_INTERVAL=%s: must be at least 1s", m.WebhookCheckInterval)
	}
	return nil
}

// Off returns "": the platform is always served.
func (m *Module) Off() string { return "" }

// Open returns the platform over deps.
func (m *Module) Open(deps platforms.Deps) (platforms.Platform, error) {
	cfg := m.Config
	cfg.PublicURL, cfg.AllowInsecureURLs, cfg.Logger = deps.PublicURL, deps.AllowInsecureURLs, deps.Logger
	return New(deps.Service, deps.Store, cfg), nil
}

var (
	_ platforms.Platform = (*Platform)(nil)
	_ platforms.Upkeeper = (*Platform)(nil)
	_ platforms.Closer   = (*Platform)(nil)
	_ server.Routes      = (*Platform)(nil)
)

// Name returns checkout.PlatformWooCommerce.
func (p *Platform) Name() string { return checkout.PlatformWooCommerce }

// UpkeepInterval is Config.WebhookCheckInterval.
func (p *Platform) UpkeepInterval() time.Duration { return p.cfg.WebhookCheckInterval }

// Upkeep re-activates the webhooks that stores disabled: WooCommerce never
// retries a delivery and disables a webhook after 7 failed ones.
func (p *Platform) Upkeep(ctx context.Context) error { return p.CheckWebhooks(ctx) }

// Close is [Platform.Wait].
func (p *Platform) Close() { p.Wait() }
