package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/dustin/go-humanize"

	"paybridge/internal/jobs"
	"paybridge/internal/platforms"
	"paybridge/internal/ratelimit"
)

// Config is what the bridge itself reads from its environment; each
// gateway and platform module reads its own variables (gatewayModules,
// platformModules). Every subcommand reads the same variables as serve.
type Config struct {
	// Addr is where the web role listens. BRIDGE_ADDR, default ":8080".
	Addr string `env:"BRIDGE_ADDR" envDefault:":8080"`
	// PublicURL is the bridge's external base URL, used in the pay, return
	// and notify URLs handed to gateways and merchants. BRIDGE_PUBLIC_URL,
	// default http://localhost<Addr>.
	PublicURL string `env:"BRIDGE_PUBLIC_URL"`
	// DatabaseURL is sqlite:PATH or postgres://…. BRIDGE_DATABASE_URL,
	// default sqlite:bridge.db.
	DatabaseURL string `env:"BRIDGE_DATABASE_URL" envDefault:"sqlite:bridge.db"`
	// RedisURL is the queue's Redis (redis://, rediss://,
	// redis-sentinel://). BRIDGE_REDIS_URL; empty runs an embedded
	// in-process Redis-compatible server.
	RedisURL string `env:"BRIDGE_REDIS_URL"`
	// MasterKey is base64 of 32 bytes encrypting secrets at rest.
	// BRIDGE_MASTER_KEY; with SQLite and no key, a key file is generated
	// beside the database. Required with PostgreSQL.
	MasterKey string `env:"BRIDGE_MASTER_KEY"`
	// ReconcileInterval is the reconciler's period. BRIDGE_RECONCILE_INTERVAL,
	// default 15s (a lost notification reaches the store within about
	// ReconcileAfter plus this).
	ReconcileInterval time.Duration `env:"BRIDGE_RECONCILE_INTERVAL" envDefault:"15s"`
	// ReconcileAfter is how long an open payment sits before it is
	// re-checked. BRIDGE_RECONCILE_AFTER, default 20s.
	ReconcileAfter time.Duration `env:"BRIDGE_RECONCILE_AFTER" envDefault:"20s"`
	// SyncRetryDelays overrides the store:sync ladder ("5s,10s,1m").
	// BRIDGE_SYNC_RETRY_DELAYS.
	SyncRetryDelays string `env:"BRIDGE_SYNC_RETRY_DELAYS"`
	// AllowInsecureURLs accepts http:// and loopback merchant URLs.
	// BRIDGE_ALLOW_INSECURE_URLS, default false.
	AllowInsecureURLs bool `env:"BRIDGE_ALLOW_INSECURE_URLS" envDefault:"false"`
	// Simulators mounts each gateway's simulator at /sim/<gateway>
	// (/sim/upay, /sim/cko, /sim/kupay) for demos.
	// BRIDGE_SIMULATORS, default false. Never enable it in production.
	Simulators bool `env:"BRIDGE_SIMULATORS" envDefault:"false"`
	// LogFormat is "text" or "json". BRIDGE_LOG_FORMAT, default text.
	LogFormat string `env:"BRIDGE_LOG_FORMAT" envDefault:"text"`
	// LogLevel is debug, info, warn or error. BRIDGE_LOG_LEVEL, default info.
	LogLevel string `env:"BRIDGE_LOG_LEVEL" envDefault:"info"`
	// MetricsAddr, when set, is where /metrics is served, on a listener of
	// its own, and the main address serves none. BRIDGE_METRICS_ADDR.
	MetricsAddr string `env:"BRIDGE_METRICS_ADDR"`
	// MetricsToken, when set, is required on /metrics as "Authorization:
	// Bearer <token>" (at least 16 characters). BRIDGE_METRICS_TOKEN.
	// With neither, /metrics answers only scrapes from this machine that
	// do not come through a proxy.
	MetricsToken string `env:"BRIDGE_METRICS_TOKEN"`
	// MemoryLimit is the Go runtime's soft memory limit for `serve`
	// (debug.SetMemoryLimit): past it the garbage collector runs sooner,
	// trading some CPU for a smaller footprint (1,000 checkouts in flight
	// fit in about 100 MiB instead of 150). "0" or "off" turns it off.
	// GOMEMLIMIT, when set, wins. BRIDGE_MEMORY_LIMIT, default 64MiB.
	MemoryLimit string `env:"BRIDGE_MEMORY_LIMIT" envDefault:"64MiB"`
	memoryLimit int64
	// ShopRefresh is how soon this process sees a shop changed by another
	// (a disable or key rotation from the CLI or another replica's
	// console): shops are kept in memory and the database's count of shop
	// changes is read at most this often. 0 reads it on every request.
	// Changes made by this process are seen at once. BRIDGE_SHOP_REFRESH,
	// default 100ms.
	ShopRefresh time.Duration `env:"BRIDGE_SHOP_REFRESH" envDefault:"100ms"`
	// RateLimits are the limits on notifications, the connect and install
	// routes and failed API keys (BRIDGE_RATE_*).
	RateLimits RateLimits

	syncDelays []time.Duration
	// publicURLDefaulted is set when BRIDGE_PUBLIC_URL was not set and
	// PublicURL is the localhost default.
	publicURLDefaulted bool
	// gateways and platforms are the modules, with their variables read
	// and checked.
	gateways  []gatewayModule
	platforms []platforms.Module
}

// loadConfig reads and validates the environment; the error lists every
// bad value with the variable's name.
func loadConfig() (*Config, error) {
	c := Config{gateways: gatewayModules(), platforms: platformModules()}
	bad := parseEnv(&c)
	for _, m := range c.gateways {
		bad = append(bad, parseEnv(m)...)
	}
	for _, m := range c.platforms {
		bad = append(bad, parseEnv(m)...)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("configuration:\n  %s", strings.Join(bad, "\n  "))
	}
	badf := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		badf("BRIDGE_ADDR=%q: want host:port or :port", c.Addr)
	}
	if c.PublicURL == "" {
		host, port, _ := net.SplitHostPort(c.Addr)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
		c.publicURLDefaulted = true
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		badf("BRIDGE_PUBLIC_URL=%q: want an absolute http(s) URL with no path or query, like https://pay.example.com", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		badf("BRIDGE_DATABASE_URL: want sqlite:PATH or postgres://…")
	}
	if c.RedisURL != "" && !strings.Contains(c.RedisURL, "://") {
		badf("BRIDGE_REDIS_URL: want redis://[user:password@]host:port[/db], rediss://… or redis-sentinel://…")
	}
	if c.ShopRefresh < 0 || c.ShopRefresh > time.Minute {
		badf("BRIDGE_SHOP_REFRESH=%v: want a duration from 0 to 1m", c.ShopRefresh)
	}
	switch strings.ToLower(strings.TrimSpace(c.MemoryLimit)) {
	case "0", "off", "":
	default:
		n, err := humanize.ParseBytes(c.MemoryLimit)
		switch {
		case err != nil:
			badf("BRIDGE_MEMORY_LIMIT=%q: want a size like 64MiB or 1GiB, or off", c.MemoryLimit)
		case n < 16<<20 || n > 1<<50:
			badf("BRIDGE_MEMORY_LIMIT=%q: must be at least 16MiB", c.MemoryLimit)
		default:
			c.memoryLimit = int64(n)
		}
	}
	if c.ReconcileInterval < time.Second {
		badf("BRIDGE_RECONCILE_INTERVAL=%s: must be at least 1s", c.ReconcileInterval)
	}
	if c.ReconcileAfter < 0 {
		badf("BRIDGE_RECONCILE_AFTER=%s: must not be negative", c.ReconcileAfter)
	}
	if c.SyncRetryDelays != "" {
		d, err := jobs.ParseDelays(c.SyncRetryDelays)
		if err != nil {
			badf("BRIDGE_SYNC_RETRY_DELAYS: %v", err)
		}
		c.syncDelays = d
	}
	for _, r := range []struct{ name, v string }{
		{"BRIDGE_RATE_NOTIFY_PER_PAYMENT", c.RateLimits.NotifyPerPayment}, {"BRIDGE_RATE_NOTIFY_PER_ADDRESS", c.RateLimits.NotifyPerAddress},
		{"BRIDGE_RATE_CONNECT_PER_ADDRESS", c.RateLimits.ConnectPerAddress}, {"BRIDGE_RATE_INSTALL_PER_ADDRESS", c.RateLimits.InstallPerAddress},
		{"BRIDGE_RATE_AUTH_FAILURES_PER_ADDRESS", c.RateLimits.AuthFailuresPerAddress},
	} {
		if err := ratelimit.CheckRate(r.v); err != nil {
			badf("%s=%v", r.name, err)
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			badf("BRIDGE_METRICS_ADDR=%q: want host:port or :port", c.MetricsAddr)
		} else if c.MetricsAddr == c.Addr {
			badf("BRIDGE_METRICS_ADDR=%q: must differ from BRIDGE_ADDR", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		badf("BRIDGE_METRICS_TOKEN: want at least 16 characters (`openssl rand -hex 24`)")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		badf("BRIDGE_LOG_FORMAT=%q: want text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		badf("BRIDGE_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.MasterKey == "" && !c.sqlite() {
		badf("BRIDGE_MASTER_KEY: required with PostgreSQL (base64 of 32 random bytes; `openssl rand -base64 32`)")
	}
	for _, m := range c.gateways {
		bad = append(bad, errorLines(m.Validate())...)
	}
	for _, m := range c.platforms {
		bad = append(bad, errorLines(m.Validate())...)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("configuration:\n  %s", strings.Join(bad, "\n  "))
	}
	return &c, nil
}

// parseEnv fills cfg, a pointer to a struct with env tags, from the
// environment, and returns one line per bad variable, naming it.
func parseEnv(cfg any) []string {
	err := env.Parse(cfg)
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []string{err.Error()}
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			msgs = append(msgs, fmt.Sprintf("%s: %v", envName(cfg, pe.Name), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return msgs
}

// errorLines splits an errors.Join into its errors' messages.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{err.Error()}
	}
	var lines []string
	for _, e := range joined.Unwrap() {
		lines = append(lines, errorLines(e)...)
	}
	return lines
}

// envName returns the variable a field of cfg (a pointer to a struct) is
// read from.
func envName(cfg any, field string) string {
	if f, ok := reflect.TypeOf(cfg).Elem().FieldByName(field); ok {
		if tag := f.Tag.Get("env"); tag != "" {
			return tag
		}
	}
	return field
}

// publicURLWarning is the warning serve logs when BRIDGE_PUBLIC_URL is
// the localhost default outside development, or "". The default stays (it
// makes the two-minute walk-through work with no configuration), but
// outside development it is almost certainly a mistake: every pay, return
// and notify URL given to gateways and merchants would point at localhost,
// so no notification would ever arrive. Development is when
// BRIDGE_SIMULATORS or BRIDGE_ALLOW_INSECURE_URLS is on, as in every local
// set-up the README shows. docker-compose.yml requires the variable.
func (c *Config) publicURLWarning() string {
	if !c.publicURLDefaulted || c.Simulators || c.AllowInsecureURLs {
		return ""
	}
	return "BRIDGE_PUBLIC_URL is not set: using " + c.PublicURL + ", which gateways and shoppers cannot reach; " +
		"payment notifications and returns will not arrive. Set BRIDGE_PUBLIC_URL to the bridge's public https:// address"
}

func (c *Config) sqlite() bool { return strings.HasPrefix(c.DatabaseURL, "sqlite:") }

// sqlitePath is the database file, for files kept beside it.
func (c *Config) sqlitePath() string {
	p := strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	p = strings.TrimPrefix(p, "//")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return filepath.Clean(p)
}

// queueAddrFile is where a bridge running the embedded queue writes its
// address, so `bridge jobs …` on the same machine can reach it.
func (c *Config) queueAddrFile() string { return c.sqlitePath() + ".queue" }
