package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/console"
	"paybridge/internal/jobs"
	"paybridge/internal/metrics"
	"paybridge/internal/platforms"
	"paybridge/internal/routes"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[--role all|web|worker]", "Runs the bridge (the default command). Configuration is read from the environment\n(BRIDGE_*, UPAY_*, CKO_*, KUPAY_*, SHOPIFY_*, WOOCOMMERCE_*; see the README).", stderr)
	role := fs.String("role", "all", "what this process runs: all, web (HTTP only) or worker (jobs only)")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
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
	if w := a.cfg.publicURLWarning(); w != "" {
		a.log.Warn(w)
	}
	if a.embedded != nil && *role != "all" {
		return errors.New("--role web/worker needs BRIDGE_REDIS_URL: the embedded queue lives inside one process")
	}
	return a.serve(ctx, *role, nil)
}

// serve runs the roles until ctx ends. ln, when set, is used instead of
// listening on BRIDGE_ADDR (tests).
func (a *app) serve(ctx context.Context, role string, ln net.Listener) error {
	if a.cfg.memoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(a.cfg.memoryLimit)
	}
	metrics.RegisterPaymentStates(a.db)
	if a.cfg.MetricsAddr != "" {
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			ms := server.New(server.Config{Logger: a.log, Production: true, Version: version, MetricsToken: a.cfg.MetricsToken})
			a.log.Info("metrics listening", "addr", a.cfg.MetricsAddr)
			if err := ms.Run(mctx, a.cfg.MetricsAddr); err != nil {
				a.log.Error("metrics listener stopped", "err", err)
			}
		}()
		defer func() { stop(); <-done }()
	}
	var worker *jobs.Worker
	if role == "all" || role == "worker" {
		worker = jobs.NewWorker(a.redis, newWorkerCore(a), a.jobsCfg)
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
	for _, p := range a.platforms {
		if l, ok := p.(platforms.Listener); ok {
			if err := l.Listen(ctx); err != nil {
				return err
			}
		}
	}
	srv, err := a.webServer()
	if err != nil {
		return err
	}
	if a.console != nil {
		defer a.console.Close()
	}
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
	access := server.MetricsLoopback // never public (see Config.MetricsToken)
	if a.cfg.MetricsAddr != "" {
		access = server.MetricsOff
	}
	return server.New(server.Config{
		Logger:        a.log,
		Production:    true, // no gin debug banner: our access log says what matters
		Version:       version,
		MetricsAccess: access,
		MetricsToken:  a.cfg.MetricsToken,
		// The landing page lists the version and routes only off https.
		ShowInternals: !strings.HasPrefix(a.cfg.PublicURL, "https://"),
		Ready: []server.ReadyCheck{
			{Name: "database", Check: a.db.Ping},
			{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
	})
}

func (a *app) webServer() (*server.Server, error) {
	srv := a.opsServer()
	// The limits guard the routes mounted below (not the operations ones
	// above); loadConfig has checked the rates.
	if lim, err := a.limiter(a.redis.MakeRedisClient().(redis.UniversalClient)); err == nil {
		srv.Engine().Use(lim.Handler)
	} else {
		a.log.Error("rate limits off", "err", err)
	}
	dest := map[string]shopper.Destination{}
	gates := map[string]shopper.Gate{}
	for _, p := range a.platforms {
		if r, ok := p.(server.Routes); ok {
			srv.Mount(r)
		}
		if d, ok := p.(shopper.Destination); ok {
			dest[p.Name()] = d
		}
		if g, ok := p.(shopper.Gate); ok {
			gates[p.Name()] = g
		}
	}
	srv.Mount(shopper.New(a.svc, shopper.Config{PublicURL: a.cfg.PublicURL, Destinations: dest, Gates: gates, Shops: a.db}))
	cons, err := console.New(console.Config{Store: a.db, Core: a.svc, Queue: a.redis, PublicURL: a.cfg.PublicURL, Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.console = cons
	srv.Mount(cons)
	if a.cfg.Simulators {
		for _, g := range a.cfg.gateways {
			h, attrs := g.Simulator(a.cfg.PublicURL)
			path := routes.SimulatorPath(g.Name())
			srv.Engine().Any(routes.SimulatorPattern(g.Name()), gin.WrapH(http.StripPrefix(path, h)))
			name := g.Gateway().Capabilities().DisplayName
			a.log.Warn("BRIDGE_SIMULATORS is on: a fake "+name+" is served at "+path+"; never enable this in production", attrs...)
		}
	}
	return srv, nil
}
