package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/checkout"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/jobs"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/metrics"
	"paybridge/internal/platforms/api"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
	"paybridge/internal/upay/upaytest"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "all", "what this process runs: all, web (HTTP only) or worker (jobs only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *role != "all" && *role != "web" && *role != "worker" {
		return fmt.Errorf("--role %q: want all, web or worker", *role)
	}
	a, err := openApp(ctx, stderr, *role == "all")
	if err != nil {
		return err
	}
	defer a.close()
	if a.embedded != nil && *role != "all" {
		return errors.New("--role web/worker needs BRIDGE_REDIS_URL: the embedded queue lives inside one process")
	}
	return a.serve(ctx, *role, nil)
}

// serve runs the roles until ctx ends. ln, when set, is used instead of
// listening on BRIDGE_ADDR (tests).
func (a *app) serve(ctx context.Context, role string, ln net.Listener) error {
	metrics.RegisterPaymentStates(a.db)
	var worker *jobs.Worker
	if role == "all" || role == "worker" {
		worker = jobs.NewWorker(a.redis, &workerCore{Service: a.svc, a: a}, a.jobsCfg)
		if err := worker.Start(ctx); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer worker.Shutdown()
		a.log.Info("worker started", "reconcile_interval", a.cfg.ReconcileInterval)
	}
	if role == "worker" {
		// Workers answer only the operations endpoints, so that their
		// health and job metrics can be scraped like the web's.
		srv := a.opsServer()
		a.log.Info("worker operations endpoints listening", "addr", a.cfg.Addr)
		if ln != nil {
			return srv.Serve(ctx, ln)
		}
		return srv.Run(ctx, a.cfg.Addr)
	}
	if a.sp != nil && a.cfg.ShopifyMTLSCAFile != "" {
		if err := a.serveShopifySessions(ctx); err != nil {
			return err
		}
	}
	srv := a.webServer()
	a.log.Info("bridge listening", "addr", a.cfg.Addr, "public_url", a.cfg.PublicURL, "role", role, "version", version)
	if ln != nil {
		return srv.Serve(ctx, ln)
	}
	return srv.Run(ctx, a.cfg.Addr)
}

// opsServer is the server with only the landing page, /healthz, /readyz
// and /metrics.
func (a *app) opsServer() *server.Server {
	rdb := a.redis.MakeRedisClient().(redis.UniversalClient)
	return server.New(server.Config{
		Logger:     a.log,
		Production: true, // no gin debug banner: our access log says what matters
		Version:    version,
		Ready: []server.ReadyCheck{
			{Name: "database", Check: a.db.Ping},
			{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
	})
}

func (a *app) webServer() *server.Server {
	srv := a.opsServer()
	srv.Mount(api.New(a.svc, a.db))
	dest := map[string]shopper.Destination{}
	srv.Mount(a.wc)
	if a.sp != nil {
		srv.Mount(a.sp)
		dest[checkout.PlatformShopify] = a.sp
	}
	srv.Mount(shopper.New(a.svc, shopper.Config{PublicURL: a.cfg.PublicURL, Destinations: dest}))
	if a.cfg.Simulators {
		sim := upaytest.New(a.cfg.PublicURL + "/sim/upay")
		h := gin.WrapH(http.StripPrefix("/sim/upay", sim))
		srv.Engine().Any("/sim/upay/*path", h)
		a.log.Warn("BRIDGE_SIMULATORS is on: a fake UPayments is served at /sim/upay; never enable this in production",
			"upay_api", a.cfg.PublicURL+"/sim/upay/api/v1")
		ckoSim := ckotest.New(a.cfg.PublicURL + "/sim/cko")
		// Checkout.com posts to the account's workflow URL: the bridge's
		// account-level notify route.
		ckoSim.SetWebhookURL(func(_, _ string) string { return a.cfg.PublicURL + "/notify/cko" })
		srv.Engine().Any("/sim/cko/*path", gin.WrapH(http.StripPrefix("/sim/cko", ckoSim)))
		kupaySim := kupaytest.New(a.cfg.PublicURL + "/sim/kupay")
		srv.Engine().Any("/sim/kupay/*path", gin.WrapH(http.StripPrefix("/sim/kupay", kupaySim)))
		a.log.Warn("BRIDGE_SIMULATORS is on: fake Checkout.com and KuPay are served at /sim/cko and /sim/kupay",
			"cko_api", a.cfg.PublicURL+"/sim/cko",
			"cko_processing_channel", ckotest.DefaultProcessingChannel, "kupay_api", a.cfg.PublicURL+"/sim/kupay")
	}
	return srv
}

// serveShopifySessions serves Shopify's payment, refund, capture and void
// session requests on their own listener, which requires a client
// certificate from SHOPIFY_MTLS_CA_FILE: Shopify authenticates these
// requests with mTLS only.
func (a *app) serveShopifySessions(ctx context.Context) error {
	tcfg, err := a.sp.SessionTLSConfig()
	if err != nil {
		return fmt.Errorf("shopify session listener: %w", err)
	}
	ln, err := net.Listen("tcp", a.sp.SessionAddr())
	if err != nil {
		return fmt.Errorf("shopify session listener: %w", err)
	}
	ss := server.New(server.Config{Logger: a.log, Production: true, Version: version})
	ss.Mount(a.sp.SessionRoutes())
	go func() {
		if err := ss.Serve(ctx, tls.NewListener(ln, tcfg)); err != nil {
			a.log.Error("shopify session listener stopped", "err", err)
		}
	}()
	a.log.Info("shopify session listener (mTLS)", "addr", ln.Addr().String())
	return nil
}
