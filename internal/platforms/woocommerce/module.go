package woocommerce

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms"
	"paybridge/internal/routes"
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

// Upkeep re-activates the webhooks that stores disabled (WooCommerce never
// retries a delivery, and disables a webhook after repeated failures) and
// forgets connections that were started and never finished.
func (p *Platform) Upkeep(ctx context.Context) error {
	_, perr := p.PruneAbandoned(ctx)
	return errors.Join(p.CheckWebhooks(ctx), perr)
}

// Close is [Platform.Wait].
func (p *Platform) Close() { p.Wait() }

var _ platforms.ShopAdder = (*Module)(nil)

// Name returns checkout.PlatformWooCommerce.
func (m *Module) Name() string { return checkout.PlatformWooCommerce }

// ShopFlags defines --url, --consumer-key and --consumer-secret: a store
// connected with REST keys made by hand, where wc-auth is not possible.
func (m *Module) ShopFlags(fs *flag.FlagSet) platforms.ShopForm {
	return &shopForm{
		storeURL:       fs.String("url", "", "woocommerce: the store's address, like https://shop.example.com"),
		consumerKey:    fs.String("consumer-key", "", "woocommerce: a REST API consumer key with read/write permission (ck_…)"),
		consumerSecret: fs.String("consumer-secret", "", "woocommerce: its consumer secret (cs_…)"),
	}
}

// shopForm connects stores from the command line.
type shopForm struct {
	storeURL, consumerKey, consumerSecret *string
}

// Check requires the three flags.
func (f *shopForm) Check(platforms.NewShop) []string {
	var bad []string
	for _, fl := range []struct{ name, v string }{{"url", *f.storeURL}, {"consumer-key", *f.consumerKey}, {"consumer-secret", *f.consumerSecret}} {
		if strings.TrimSpace(fl.v) == "" {
			bad = append(bad, fmt.Sprintf("--%s is required with --platform woocommerce", fl.name))
		}
	}
	return bad
}

// Add connects the store ([AddShop]) and prints the plugin's settings,
// once. A store whose webhook could not be registered yet is connected
// all the same, with a warning: the reconciler retries.
func (f *shopForm) Add(ctx context.Context, deps platforms.Deps, in platforms.NewShop) (*platforms.ShopAdded, error) {
	shop, err := AddShop(ctx, deps.Store, Config{PublicURL: deps.PublicURL, AllowInsecureURLs: deps.AllowInsecureURLs, Logger: deps.Logger},
		AddShopParams{Name: in.Name, StoreURL: *f.storeURL, ConsumerKey: strings.TrimSpace(*f.consumerKey),
			ConsumerSecret: strings.TrimSpace(*f.consumerSecret), Account: in.Account})
	if shop == nil {
		return nil, err
	}
	if err != nil {
		// Created, but the webhook could not be registered yet: the
		// reconciler retries. The settings must still be shown, once.
		deps.Logger.Warn("shops add: "+err.Error(), "shop", shop.ID)
	}
	s := PluginSettingsFor(deps.PublicURL, shop)
	return &platforms.ShopAdded{
		JSON: map[string]string{"id": shop.ID, "bridge_url": s.BridgeURL, "shop_id": s.ShopID, "shared_secret": s.SharedSecret},
		Text: fmt.Sprintf("shop %s created (%s, %s, gateway %s)\n", shop.ID, shop.Name, shop.Domain, shop.Gateway.Gateway) +
			fmt.Sprintf("Install the plugin from %s and enter:\n", routes.WooCommercePluginURL(deps.PublicURL)) +
			fmt.Sprintf("  bridge URL:    %s\n  shop id:       %s\n  shared secret: %s\n", s.BridgeURL, s.ShopID, s.SharedSecret) +
			"Store the shared secret now: it is not shown again.\n",
	}, nil
}
