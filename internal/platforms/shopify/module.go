package shopify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
)

// Module is the Shopify app as the bridge wires it: [Config]'s SHOPIFY_*
// variables. The app is off unless SHOPIFY_API_KEY is set.
type Module struct {
	Config
}

var _ platforms.Module = (*Module)(nil)

// Name returns checkout.PlatformShopify.
func (m *Module) Name() string { return checkout.PlatformShopify }

// Validate checks the variables; each error names its variable.
func (m *Module) Validate() error {
	c := m.Config
	var errs []error
	if (c.APIKey == "") != (c.APISecret == "") {
		errs = append(errs, errors.New("SHOPIFY_API_KEY and SHOPIFY_API_SECRET: set both (the Shopify app) or neither"))
	}
	if c.SessionCAFile != "" && (c.APIKey == "" || c.SessionCertFile == "" || c.SessionKeyFile == "") {
		errs = append(errs, errors.New("SHOPIFY_MTLS_CA_FILE: the session listener also needs SHOPIFY_API_KEY, SHOPIFY_MTLS_CERT_FILE and SHOPIFY_MTLS_KEY_FILE"))
	}
	if c.AdminOrigin != "" {
		if u, err := url.Parse(c.AdminOrigin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("SHOPIFY_ADMIN_ORIGIN=%q: want an absolute http(s) URL (tests only)", c.AdminOrigin))
		}
	}
	if c.SessionAddr != "" {
		if _, port, err := net.SplitHostPort(c.SessionAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("SHOPIFY_MTLS_ADDR=%q: want host:port or :port", c.SessionAddr))
		}
	}
	return errors.Join(errs...)
}

// Off says the app is off when SHOPIFY_API_KEY is not set.
func (m *Module) Off() string {
	if m.APIKey == "" {
		return "SHOPIFY_API_KEY is not set: the Shopify app is off"
	}
	return ""
}

// Open returns the app over deps.
func (m *Module) Open(deps platforms.Deps) (platforms.Platform, error) {
	cfg := m.Config
	cfg.PublicURL, cfg.Logger = deps.PublicURL, deps.Logger
	p, err := New(deps.Service, deps.Store, cfg)
	if err != nil {
		return nil, err
	}
	return &module{Platform: p, version: deps.Version}, nil
}

// module is the opened app: the Platform, and the session listener the
// bridge starts on its web role.
type module struct {
	*Platform
	version string
}

var (
	_ platforms.Platform         = (*module)(nil)
	_ platforms.Listener         = (*module)(nil)
	_ platforms.Closer           = (*module)(nil)
	_ server.Routes              = (*module)(nil)
	_ checkout.Syncer            = (*module)(nil)
	_ shopper.Destination        = (*module)(nil)
	_ shopper.PendingDestination = (*module)(nil)
)

// Name returns checkout.PlatformShopify.
func (m *module) Name() string { return checkout.PlatformShopify }

// Listen serves Shopify's payment, refund, capture and void session
// requests on their own listener (SHOPIFY_MTLS_ADDR), which requires a
// client certificate from SHOPIFY_MTLS_CA_FILE: Shopify authenticates these
// requests with mTLS only. Without SHOPIFY_MTLS_CA_FILE there is no
// listener.
func (m *module) Listen(ctx context.Context) error {
	if m.cfg.SessionCAFile == "" {
		return nil
	}
	tcfg, err := m.SessionTLSConfig()
	if err != nil {
		return fmt.Errorf("shopify session listener: %w", err)
	}
	ln, err := net.Listen("tcp", m.SessionAddr())
	if err != nil {
		return fmt.Errorf("shopify session listener: %w", err)
	}
	ss := server.New(server.Config{Logger: m.log, Production: true, Version: m.version})
	ss.Mount(m.SessionRoutes())
	go func() {
		if err := ss.Serve(ctx, tls.NewListener(ln, tcfg)); err != nil {
			m.log.Error("shopify session listener stopped", "err", err)
		}
	}()
	m.log.Info("shopify session listener (mTLS)", "addr", ln.Addr().String())
	return nil
}
