package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/jobs"
	"paybridge/internal/kupay"
	"paybridge/internal/platforms/api"
	"paybridge/internal/platforms/shopify"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/secrets"
	"paybridge/internal/store"
	"paybridge/internal/upay"
)

// app is the wired bridge: configuration, database, queue and core.
type app struct {
	cfg      *Config
	log      *slog.Logger
	db       *store.DB
	redis    asynq.RedisConnOpt
	embedded *jobs.Embedded
	queue    *jobs.Queue
	svc      *checkout.Service
	jobsCfg  jobs.Config
	// Platforms with their own routes and syncers; sp is nil unless the
	// Shopify app is configured.
	wc *woocommerce.Platform
	sp *shopify.Platform
}

// openApp loads the configuration, opens and migrates the database, and
// connects the queue. With embedded set and no BRIDGE_REDIS_URL it starts
// the in-process queue server; otherwise it finds the one a running bridge
// advertised beside its SQLite file.
func openApp(ctx context.Context, stderr io.Writer, embedded bool) (*app, error) {
	a, err := newApp(stderr)
	if err != nil {
		return nil, err
	}
	cfg := a.cfg
	if err := a.openDB(ctx); err != nil {
		return nil, err
	}
	if err := a.openQueue(embedded); err != nil {
		a.close()
		return nil, err
	}
	a.jobsCfg = jobs.Config{ReconcileInterval: cfg.ReconcileInterval, SyncRetryDelays: cfg.syncDelays, Logger: a.log}
	a.queue = jobs.NewQueue(a.redis, a.jobsCfg)
	a.svc = checkout.NewService(a.db, a.queue, checkout.Config{
		PublicURL: cfg.PublicURL, ReconcileAfter: cfg.ReconcileAfter,
		AllowInsecureURLs: cfg.AllowInsecureURLs, Logger: a.log,
	})
	a.svc.RegisterGateway(upay.New(upay.Config{SandboxURL: cfg.UpaySandboxURL, LiveURL: cfg.UpayLiveURL}))
	a.svc.RegisterGateway(cko.New(cko.Config{SandboxURL: cfg.CkoSandboxURL, LiveURL: cfg.CkoLiveURL}))
	a.svc.RegisterGateway(kupay.New(kupay.Config{BaseURL: cfg.KupayURL}))
	a.svc.RegisterSyncer(checkout.PlatformAPI, api.NewSyncer(a.db, a.svc.PayURL, api.SyncerConfig{AllowPrivate: cfg.AllowInsecureURLs}))
	a.wc = woocommerce.New(a.svc, a.db, woocommerce.Config{PublicURL: cfg.PublicURL, AllowInsecureURLs: cfg.AllowInsecureURLs, Logger: a.log})
	a.svc.RegisterSyncer(checkout.PlatformWooCommerce, a.wc)
	if cfg.ShopifyAPIKey != "" {
		sp, err := shopify.New(a.svc, a.db, shopify.Config{
			APIKey: cfg.ShopifyAPIKey, APISecret: cfg.ShopifyAPISecret, Scopes: cfg.ShopifyScopes,
			APIVersion: cfg.ShopifyAPIVersion, AdminOrigin: cfg.ShopifyAdminOrigin, PublicURL: cfg.PublicURL,
			ExpiringTokens: cfg.ShopifyExpiringTokens, SessionAddr: cfg.ShopifyMTLSAddr,
			SessionCAFile: cfg.ShopifyMTLSCAFile, SessionCertFile: cfg.ShopifyMTLSCertFile, SessionKeyFile: cfg.ShopifyMTLSKeyFile,
			Logger: a.log,
		})
		if err != nil {
			a.close()
			return nil, fmt.Errorf("shopify: %w", err)
		}
		a.sp = sp
		a.svc.RegisterSyncer(checkout.PlatformShopify, sp)
	}
	return a, nil
}

// workerCore is the core as the job worker sees it, with the platforms'
// periodic upkeep added to each reconcile pass.
type workerCore struct {
	*checkout.Service
	a *app
	// lastWebhookCheck throttles the WooCommerce webhook check, which makes
	// one request per connected store, to once per
	// BRIDGE_WEBHOOK_CHECK_INTERVAL.
	mu               sync.Mutex
	lastWebhookCheck time.Time
}

// Reconcile runs the core's reconciler, then re-activates WooCommerce
// webhooks that the stores disabled (WooCommerce never retries and
// disables a webhook after 7 failed deliveries).
func (c *workerCore) Reconcile(ctx context.Context) error {
	err := c.Service.Reconcile(ctx)
	c.mu.Lock()
	due := time.Since(c.lastWebhookCheck) >= c.a.cfg.WebhookCheckInterval
	if due {
		c.lastWebhookCheck = time.Now()
	}
	c.mu.Unlock()
	if due {
		if werr := c.a.wc.CheckWebhooks(ctx); werr != nil {
			c.a.log.WarnContext(ctx, "woocommerce: webhook check", "err", werr)
		}
	}
	return err
}

// newApp reads the configuration and sets up logging; nothing is opened.
func newApp(stderr io.Writer) (*app, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: newLogger(cfg, stderr)}
	slog.SetDefault(a.log)
	return a, nil
}

func (a *app) keyring() (*secrets.Keyring, error) {
	if a.cfg.MasterKey != "" {
		kr, err := secrets.ParseKey(a.cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("BRIDGE_MASTER_KEY: %w", err)
		}
		return kr, nil
	}
	path := a.cfg.sqlitePath() + ".key"
	kr, created, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if created {
		a.log.Warn("generated a master key file beside the database; back it up, or set BRIDGE_MASTER_KEY in production: without it the stored secrets cannot be read",
			"path", path)
	}
	return kr, nil
}

// openDB opens the database and applies migrations.
func (a *app) openDB(ctx context.Context) error {
	kr, err := a.keyring()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, a.cfg.DatabaseURL, kr)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	a.db = db
	return nil
}

func (a *app) openQueue(embedded bool) error {
	if a.cfg.RedisURL != "" {
		opt, err := asynq.ParseRedisURI(a.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("BRIDGE_REDIS_URL: %w", err)
		}
		a.redis = opt
		return nil
	}
	if !a.cfg.sqlite() {
		return errors.New("BRIDGE_REDIS_URL is required with PostgreSQL: the embedded queue is for a single process")
	}
	if embedded {
		e, err := jobs.StartEmbedded()
		if err != nil {
			return fmt.Errorf("start embedded queue: %w", err)
		}
		a.embedded = e
		a.redis = asynq.RedisClientOpt{Addr: e.Addr()}
		if err := os.WriteFile(a.cfg.queueAddrFile(), []byte(e.Addr()+"\n"), 0o600); err != nil {
			a.log.Warn("could not advertise the embedded queue address; `bridge jobs` will not find it", "err", err)
		}
		a.log.Warn("no BRIDGE_REDIS_URL: running an embedded in-process queue; queued work is lost on exit and redone by the reconciler from the database",
			"addr", e.Addr())
		return nil
	}
	b, err := os.ReadFile(a.cfg.queueAddrFile())
	if err != nil {
		return fmt.Errorf("no BRIDGE_REDIS_URL, and no running bridge advertised its embedded queue in %s: start `bridge serve` first, or set BRIDGE_REDIS_URL", a.cfg.queueAddrFile())
	}
	a.redis = asynq.RedisClientOpt{Addr: strings.TrimSpace(string(b))}
	return nil
}

func (a *app) close() {
	if a.wc != nil {
		a.wc.Wait()
	}
	if a.sp != nil {
		a.sp.Close()
	}
	if a.queue != nil {
		a.queue.Close()
	}
	if a.embedded != nil {
		if b, err := os.ReadFile(a.cfg.queueAddrFile()); err == nil && strings.TrimSpace(string(b)) == a.embedded.Addr() {
			os.Remove(a.cfg.queueAddrFile())
		}
		a.embedded.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}
