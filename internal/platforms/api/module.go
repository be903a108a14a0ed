package api

import (
	"context"
	"flag"
	"fmt"
	"time"

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

var _ platforms.ShopAdder = (*Module)(nil)

// Name returns checkout.PlatformAPI.
func (m *Module) Name() string { return checkout.PlatformAPI }

// ShopFlags defines no flags: an API shop is a name and a gateway account.
func (m *Module) ShopFlags(*flag.FlagSet) platforms.ShopForm { return shopForm{} }

// shopForm creates API shops from the command line.
type shopForm struct{}

// Check requires --name.
func (shopForm) Check(in platforms.NewShop) []string {
	if in.Name == "" {
		return []string{"--name is required"}
	}
	return nil
}

// Add creates the shop with a fresh API key and webhook secret, and
// prints both, once.
func (shopForm) Add(ctx context.Context, deps platforms.Deps, in platforms.NewShop) (*platforms.ShopAdded, error) {
	apiKey, whsec := NewCredentials()
	shop := &checkout.Shop{
		ID: checkout.NewID("shop"), Name: in.Name, Platform: checkout.PlatformAPI,
		Gateway:    in.Account,
		APIKeyHash: HashAPIKey(apiKey), WebhookSecret: whsec, CreatedAt: time.Now().UTC(),
	}
	if err := deps.Store.CreateShop(ctx, shop); err != nil {
		return nil, err
	}
	sandbox := ""
	if in.Account.Sandbox {
		sandbox = ", sandbox"
	}
	return &platforms.ShopAdded{
		JSON: map[string]string{"id": shop.ID, "api_key": apiKey, "webhook_secret": whsec},
		Text: fmt.Sprintf("shop %s created (%s, gateway %s%s)\n", shop.ID, shop.Name, in.Account.Gateway, sandbox) +
			fmt.Sprintf("api key:        %s\nwebhook secret: %s\n", apiKey, whsec) +
			"Store both now: the API key is not shown again.\n",
	}, nil
}
