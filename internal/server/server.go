package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/routes"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	// DefaultRequestTimeout is the default Config.RequestTimeout.
	DefaultRequestTimeout = 15 * time.Second
	// DefaultMaxBodyBytes is the default Config.MaxBodyBytes: 1 MiB.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultShutdownTimeout is the default Config.ShutdownTimeout.
	DefaultShutdownTimeout = 20 * time.Second
	// ReadyCheckTimeout bounds each readiness check.
	ReadyCheckTimeout = 2 * time.Second
)

// Config configures a [Server]. The zero value is usable: every field
// documents what its zero value means.
type Config struct {
	// Logger receives the access log, recovered panics and the internal
	// errors behind 5xx answers. Nil means slog.Default().
	Logger *slog.Logger

	// RequestTimeout is the deadline set on each request's context.
	// Zero means 15 s; a negative value disables the deadline.
	RequestTimeout time.Duration

	// MaxBodyBytes is the largest request body accepted; a larger one is
	// answered 413. Zero means 1 MiB; a negative value disables the limit.
	MaxBodyBytes int64

	// ShutdownTimeout bounds the graceful shutdown of [Server.Run] once its
	// context ends; connections still open afterwards are closed.
	// Zero means 20 s.
	ShutdownTimeout time.Duration

	// Ready lists the dependencies /readyz checks. Nil means none: /readyz
	// then answers 200 as long as the process serves.
	Ready []ReadyCheck

	// Production puts Gin in release mode (no debug route listing).
	// False leaves Gin's mode as it is (debug unless GIN_MODE says otherwise).
	Production bool

	// TrustedProxies are the addresses or CIDR ranges of the reverse proxies
	// whose X-Forwarded-For is believed for the client IP. Nil means none:
	// the client IP is the connection's remote address. An invalid entry is
	// logged and then no proxy is trusted.
	TrustedProxies []string

	// Version is shown on the landing page when ShowInternals is set.
	// Empty means "dev".
	Version string

	// MetricsAccess says who may read /metrics; the zero value,
	// MetricsOpen, is anyone. MetricsToken, when set, is required on top
	// of it, as "Authorization: Bearer <token>".
	MetricsAccess MetricsAccess
	MetricsToken  string

	// ShowInternals makes the landing page at / list the version and the
	// operations routes, for development. False, the default, shows the
	// production page: what the service is and a link to the console,
	// nothing about its internals. cmd/bridge sets it when
	// BRIDGE_PUBLIC_URL is not https.
	ShowInternals bool

	// DocsURL is where the landing page links for the README's walkthrough.
	// Empty means the page names the README section ("A two-minute
	// walk-through") without a link.
	DocsURL string
}

// ReadyCheck is one dependency checked by /readyz, such as the database or
// Redis. Check must return promptly once ctx is done; it is given
// [ReadyCheckTimeout].
type ReadyCheck struct {
	// Name labels the check in the /readyz answer ("database", "redis").
	Name string
	// Check returns nil when the dependency is usable.
	Check func(ctx context.Context) error
}

// Routes is implemented by the packages that serve requests on the bridge
// (the platforms). Register adds their routes; it is called once, by
// [Server.Mount].
type Routes interface {
	Register(r gin.IRouter)
}

// Server is the bridge's HTTP server: a Gin engine with paybridge's
// middleware, health, metrics and pages already mounted. Create one with
// [New].
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *gin.Engine
}

// New returns a Server for cfg with its middleware and built-in routes
// (/, /healthz, /readyz, /metrics, the JSON and HTML 404/405 answers).
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Production {
		gin.SetMode(gin.ReleaseMode)
	}

	e := gin.New()
	// Let handlers pass c itself as a context.Context: Deadline, Done, Err
	// and Value then come from the request context, which carries the
	// timeout and the request id.
	e.ContextWithFallback = true
	// Answer 405 (with Allow) when only the method is wrong.
	e.HandleMethodNotAllowed = true
	// Gin answers trailing-slash redirects before any middleware runs, so
	// they would escape the request id, log and metrics; and a redirected
	// POST is a surprise to webhook senders. Unknown paths simply get 404.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		cfg.Logger.Error("server: invalid trusted proxies; trusting none", "err", err)
		_ = e.SetTrustedProxies(nil)
	}

	s := &Server{cfg: cfg, log: cfg.Logger, engine: e}
	e.Use(
		s.requestID,
		securityHeaders,
		s.observe,
		s.recovery,
		s.bodyLimit,
		s.timeout,
	)
	e.NoRoute(s.notFound)
	e.NoMethod(s.methodNotAllowed)

	e.GET(routes.Landing, s.landing)
	e.GET(routes.Healthz, s.healthz)
	e.HEAD(routes.Healthz, s.healthz)
	e.GET(routes.Readyz, s.readyz)
	e.HEAD(routes.Readyz, s.readyz)
	if cfg.MetricsAccess != MetricsOff {
		e.GET(routes.Metrics, s.metricsGuard, s.metrics())
	}
	return s
}

// Engine returns the Gin engine, for adding routes directly.
func (s *Server) Engine() *gin.Engine { return s.engine }

// Handler returns the server as an http.Handler (for tests and for
// embedding in another http.Server).
func (s *Server) Handler() http.Handler { return s.engine }

// Mount lets r register its routes on the engine's root. The middleware
// applies to them.
func (s *Server) Mount(r Routes) { r.Register(s.engine) }

// Run listens on addr (host:port) and serves until ctx ends, then shuts down
// gracefully: it stops accepting connections, waits up to
// Config.ShutdownTimeout for requests in flight, then closes the rest.
// It returns nil after a shutdown caused by ctx.
func (s *Server) Run(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is [Server.Run] on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("server: listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("server: shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

// httpServer returns the http.Server that Run uses. Its timeouts protect
// against slow clients: the headers must arrive within 10 s and the body
// within 30 s, and writing the answer may take the request timeout plus
// 10 s, so that a handler stopped by its deadline can still answer.
func (s *Server) httpServer() *http.Server {
	write := s.cfg.RequestTimeout + 10*time.Second
	if s.cfg.RequestTimeout < 0 {
		write = 0 // no deadline on handlers: none on writing either
	}
	return &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      write,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
