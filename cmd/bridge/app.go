package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/console"
	"paybridge/internal/jobs"
	"paybridge/internal/platforms"
	"paybridge/internal/secrets"
	"paybridge/internal/store"
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
	// console is the console at /admin, on the web role.
	console *console.Console
	jobsCfg jobs.Config
	// platforms are the opened platforms (those that are on), in the
	// order of platformModules.
	platforms []platforms.Platform
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
		PublicURL: cfg.PublicURL, ReconcileAfter: cfg.ReconcileAfter, ReconcileInterval: cfg.ReconcileInterval,
		AllowInsecureURLs: cfg.AllowInsecureURLs, Logger: a.log,
		HotConfirms: checkout.DefaultHotConfirms,
	})
	for _, g := range cfg.gateways {
		a.svc.RegisterGateway(g.Gateway())
	}
	deps := platforms.Deps{Service: a.svc, Store: a.db, PublicURL: cfg.PublicURL,
		AllowInsecureURLs: cfg.AllowInsecureURLs, Logger: a.log, Version: version}
	for _, m := range cfg.platforms {
		if why := m.Off(); why != "" {
			a.log.Info(why)
			continue
		}
		p, err := m.Open(deps)
		if err != nil {
			a.close()
			return nil, err
		}
		a.platforms = append(a.platforms, p)
		if sy, ok := p.(checkout.Syncer); ok {
			a.svc.RegisterSyncer(p.Name(), sy)
		}
	}
	return a, nil
}

// workerCore is the core as the job worker sees it, with the platforms'
// periodic upkeep added to the reconcile passes.
type workerCore struct {
	*checkout.Service
	log     *slog.Logger
	upkeeps []*upkeep
}

// upkeep is one platform's periodic work and when it last ran.
type upkeep struct {
	name string
	platforms.Upkeeper
	mu   sync.Mutex
	last time.Time
}

// newWorkerCore returns the core with the upkeep of a's platforms.
func newWorkerCore(a *app) *workerCore {
	c := &workerCore{Service: a.svc, log: a.log}
	for _, p := range a.platforms {
		if u, ok := p.(platforms.Upkeeper); ok {
			c.upkeeps = append(c.upkeeps, &upkeep{name: p.Name(), Upkeeper: u})
		}
	}
	return c
}

// Reconcile runs the core's reconciler, then each platform's upkeep that
// is due: at most once per its UpkeepInterval (the first pass runs all).
func (c *workerCore) Reconcile(ctx context.Context) error {
	err := c.Service.Reconcile(ctx)
	for _, u := range c.upkeeps {
		u.mu.Lock()
		due := time.Since(u.last) >= u.UpkeepInterval()
		if due {
			u.last = time.Now()
		}
		u.mu.Unlock()
		if due {
			if uerr := u.Upkeep(ctx); uerr != nil {
				c.log.WarnContext(ctx, u.name+": upkeep", "err", uerr)
			}
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

// keySource says where the keyring came from, for the messages of
// checkKeys.
type keySource struct {
	// file is the key file's path; empty when BRIDGE_MASTER_KEY is set.
	file string
	// created is set when the key file did not exist and was generated.
	created bool
}

func (a *app) keyring() (*secrets.Keyring, keySource, error) {
	if a.cfg.MasterKey != "" {
		kr, err := secrets.ParseKey(a.cfg.MasterKey)
		if err != nil {
			return nil, keySource{}, fmt.Errorf("BRIDGE_MASTER_KEY: %w", err)
		}
		return kr, keySource{}, nil
	}
	path := a.cfg.sqlitePath() + ".key"
	kr, created, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, keySource{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return kr, keySource{file: path, created: created}, nil
}

// openStore is what the commands that only read or write the database
// need: the configuration, logging and the migrated database. The caller
// closes the app.
func openStore(ctx context.Context, stderr io.Writer) (*app, error) {
	a, err := newApp(stderr)
	if err != nil {
		return nil, err
	}
	if err := a.openDB(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// openDB opens the database, applies migrations, and refuses to go on
// when the database holds sealed values that no configured key opens
// (checkKeys).
func (a *app) openDB(ctx context.Context) error {
	return a.openDBChecked(ctx, true)
}

// openDBChecked is openDB; with check unset it skips checkKeys, for the
// commands that inspect and repair keys.
func (a *app) openDBChecked(ctx context.Context, check bool) error {
	kr, src, err := a.keyring()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, a.cfg.DatabaseURL, kr)
	if err != nil {
		return err
	}
	db.SetShopRefresh(a.cfg.ShopRefresh)
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	if check {
		if err := a.checkKeys(ctx, db, kr, src); err != nil {
			db.Close()
			return err
		}
	} else if src.created {
		// Inspecting keys must not install one: a key made up now would
		// later pass for the missing one.
		if err := os.Remove(src.file); err != nil {
			db.Close()
			return fmt.Errorf("key file %s was missing; removing the one just generated: %w", src.file, err)
		}
		a.log.Warn("there is no key file beside the database (nothing was written): restore it from your backup, or set BRIDGE_MASTER_KEY", "path", src.file)
		src.created = false
	}
	if src.created {
		a.log.Warn("generated a master key file beside the database; back it up, or set BRIDGE_MASTER_KEY in production: without it the stored secrets cannot be read",
			"path", src.file)
	}
	a.db = db
	return nil
}

// checkKeys counts the database's sealed values by key. When there are
// some and none is sealed with a configured key, the bridge would start and
// fail every request that needs a secret: it refuses instead, saying what
// happened and what to do (a key file generated just now, because it was
// missing, is removed again so that restoring the right one is all it
// takes). Values under a key that is not configured beside others that are
// (one shop's secrets, an unfinished rotation) are a warning: those shops
// fail, the others work.
func (a *app) checkKeys(ctx context.Context, db *store.DB, kr *secrets.Keyring, src keySource) error {
	counts, err := db.KeyUsage(ctx)
	if err != nil {
		return err
	}
	configured := map[string]bool{}
	for _, id := range kr.IDs() {
		configured[id] = true
	}
	var total, opens, older int64
	unknown := map[string]int64{}
	for _, c := range counts {
		total += c.Count
		switch {
		case configured[c.KeyID]:
			opens += c.Count
			if c.KeyID != kr.PrimaryID() {
				older += c.Count
			}
		case c.KeyID == "":
			unknown["(malformed)"] += c.Count
		default:
			unknown[c.KeyID] += c.Count
		}
	}
	ids := slices.Sorted(maps.Keys(unknown))
	if total > 0 && opens == 0 {
		var what, todo string
		switch {
		case src.created:
			what = fmt.Sprintf("the key file %s was missing, so a new key was generated, and it cannot open them: the key that sealed them is gone from this machine", src.file)
			todo = fmt.Sprintf("restore %s from your backup (or set BRIDGE_MASTER_KEY to the original key) and start again; the key just generated has been removed", src.file)
			if err := os.Remove(src.file); err != nil {
				todo += fmt.Sprintf(" (removing it failed: %v; delete it by hand)", err)
			}
		case src.file != "":
			what = fmt.Sprintf("the key file %s holds another key (id %s)", src.file, strings.Join(kr.IDs(), ", "))
			todo = fmt.Sprintf("put the right key back in %s, or set BRIDGE_MASTER_KEY to it", src.file)
		default:
			what = fmt.Sprintf("BRIDGE_MASTER_KEY holds other keys (ids %s)", strings.Join(kr.IDs(), ", "))
			todo = `set BRIDGE_MASTER_KEY to the key they were sealed with (while rotating: "NEW,OLD", the new key first)`
		}
		return fmt.Errorf("refusing to start: the database holds %d sealed secret(s) (gateway credentials, webhook secrets, saved-card tokens) under key id(s) %s, and %s.\nWhat to do: %s. `bridge keys check` counts the values per key",
			total, strings.Join(ids, ", "), what, todo)
	}
	if len(unknown) > 0 {
		a.log.Error("some stored secrets are sealed with keys that are not configured: the shops they belong to fail until the key is restored (run `bridge keys check`)",
			"values", total-opens, "key_ids", strings.Join(ids, ","))
	}
	if older > 0 {
		a.log.Warn("some stored secrets are still sealed with an older key: run `bridge keys rotate` to finish the rotation",
			"values", older, "primary_key_id", kr.PrimaryID())
	}
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
	if a.svc != nil {
		a.svc.Wait() // hot confirmations finish before the queue and the store close
	}
	for _, p := range a.platforms {
		if c, ok := p.(platforms.Closer); ok {
			c.Close()
		}
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
