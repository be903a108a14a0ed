// Package platforms is the contract between the bridge's wiring
// (cmd/bridge) and the store platforms it serves (api, woocommerce,
// shopify): what a platform module gives, and what it is given.
//
// A platform package exports a Module: its configuration, a struct whose
// fields carry env tags (github.com/caarlos0/env/v11). The bridge parses
// each module's variables after its own, calls Validate, and opens the
// platforms that are on with the shared [Deps]. What an opened [Platform]
// does beyond having a name is told by the optional interfaces it
// implements:
//
//   - server.Routes: routes on the public listener;
//   - checkout.Syncer: tells the platform's stores about final payments
//     and refunds (registered under [Platform.Name]);
//   - [Upkeeper]: periodic work run by the reconciler;
//   - [Listener]: a listener of its own, next to the public one;
//   - shopper.Destination (and shopper.PendingDestination): where the
//     shopper goes once the payment is final;
//   - shopper.Gate: whether a shopper at the pay URL goes on to the
//     gateway yet (Shopify's checkout confirmation);
//   - [Closer]: background work to finish on shutdown, before the
//     database closes.
//
// A Module that is also a [ShopAdder] connects shops from the command
// line (`bridge shops add --platform <name>`).
//
// The interfaces live here rather than in cmd/bridge, their consumer,
// because [Deps] must be importable by every platform, and a platform can
// then assert at compile time that it implements what it means to.
package platforms

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/store"
)

// Deps is what the bridge gives every platform it opens.
type Deps struct {
	// Service is the payment core.
	Service *checkout.Service
	// Store is the database.
	Store *store.DB
	// PublicURL is the bridge's external base URL, without a trailing
	// slash (BRIDGE_PUBLIC_URL).
	PublicURL string
	// AllowInsecureURLs accepts http:// and private store and merchant
	// URLs (BRIDGE_ALLOW_INSECURE_URLS; development and tests).
	AllowInsecureURLs bool
	// Logger is the bridge's logger.
	Logger *slog.Logger
	// Version is the bridge's version, shown by servers a platform starts.
	Version string
}

// Module is a platform's configuration as the bridge lists it. The bridge
// fills a fresh one from the environment (its env tags), then calls
// Validate, and Open when Off returns "".
type Module interface {
	// Name is the platform's name, as checkout.Shop.Platform holds it.
	Name() string
	// Validate checks the parsed configuration. Each problem is one error
	// naming its variable ("SHOPIFY_MTLS_ADDR=…: want host:port");
	// several are joined with errors.Join.
	Validate() error
	// Off says why this configuration leaves the platform off
	// ("SHOPIFY_API_KEY is not set"), or "" when it is on.
	Off() string
	// Open returns the platform over deps.
	Open(deps Deps) (Platform, error)
}

// Platform is an opened platform. What it serves is told by the optional
// interfaces of the package doc.
type Platform interface {
	// Name is the platform's name, as checkout.Shop.Platform holds it.
	Name() string
}

// Upkeeper is a platform with periodic work, run on a reconcile pass at
// most once per UpkeepInterval (WooCommerce re-activates the webhooks its
// stores disabled).
type Upkeeper interface {
	// UpkeepInterval is the least time between two runs of Upkeep.
	UpkeepInterval() time.Duration
	// Upkeep does the work once. Its error is logged; the next run is
	// still one interval later.
	Upkeep(ctx context.Context) error
}

// Listener is a platform that serves on a listener of its own (Shopify's
// mTLS payment-session listener), on the web role.
type Listener interface {
	// Listen starts listening and serving until ctx ends. It returns once
	// the listener is open, or with why it cannot be; a platform whose
	// configuration asks for no listener returns nil at once.
	Listen(ctx context.Context) error
}

// Closer is a platform with background work that must end before the
// database closes.
type Closer interface {
	// Close waits for the platform's background work.
	Close()
}

// ShopAdder is a [Module] whose shops `bridge shops add --platform
// <Name>` connects. Platforms whose shops connect from the platform itself
// (Shopify's app install) are not.
type ShopAdder interface {
	// ShopFlags defines the platform's own flags on fs (--name, --gateway,
	// the gateway's credential flags, --sandbox and --json are the
	// command's) and returns the form that reads them once fs is parsed.
	ShopFlags(fs *flag.FlagSet) ShopForm
}

// ShopForm is one platform's part of a `shops add` command line.
type ShopForm interface {
	// Check returns what is wrong with the command line for a shop of
	// this platform, one message per problem naming its flag.
	Check(in NewShop) []string
	// Add creates the shop and returns what to print. deps.Service is
	// nil: the command opens no queue.
	Add(ctx context.Context, deps Deps, in NewShop) (*ShopAdded, error)
}

// NewShop is what `shops add` reads for every platform.
type NewShop struct {
	// Name is --name, trimmed.
	Name string
	// Account is the gateway account: --gateway, its credential flags and
	// --sandbox.
	Account checkout.GatewayAccount
}

// ShopAdded is what `shops add` prints about the shop it created.
type ShopAdded struct {
	// JSON is printed with --json, as one JSON object.
	JSON map[string]string
	// Text is printed otherwise: what the merchant must note, once.
	Text string
}
