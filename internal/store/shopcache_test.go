package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

// fakeClock is a settable clock for the shop cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestShopCache checks that the shops kept in memory never hide a change:
// one made through the same handle is seen at once; one made by another
// process (a second handle on the same database) once the count read is no
// longer trusted.
func TestShopCache(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, mode := range []struct {
				name      string
				elsewhere bool          // the changes come through another handle
				refresh   time.Duration // SetShopRefresh; -1 leaves the default
			}{{"here", false, -1}, {"elsewhere", true, -1}, {"elsewhere, refresh 0", true, 0}} {
				t.Run(mode.name, func(t *testing.T) {
					t.Parallel()
					dsn := sqliteDSN(t)
					if kind == "postgres" {
						dsn = testenv.PostgresURL(t)
					}
					a := openMigrated(t, dsn)
					writer := a
					if mode.elsewhere {
						writer = openWith(t, dsn, a)
					}
					if mode.refresh >= 0 {
						a.SetShopRefresh(mode.refresh)
					}
					// Only a change from elsewhere with a trusted count needs
					// the clock moved on to be seen.
					testShopCache(t, mode.elsewhere && mode.refresh != 0, a, writer)
				})
			}
		})
	}
}

// openWith opens a second handle on dsn with the same keyring as db.
func openWith(t *testing.T, dsn string, db *DB) *DB {
	t.Helper()
	b, err := Open(context.Background(), dsn, db.kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// testShopCache makes changes through writer and looks them up through a;
// late says a sees them only once its count read is no longer trusted.
func testShopCache(t *testing.T, late bool, a, writer *DB) {
	ctx := ctxT(t)
	clock := &fakeClock{t: time.Now()}
	a.shops.now = clock.Now
	s := &checkout.Shop{
		ID: "shop_c", Name: "Cached", Platform: checkout.PlatformShopify, Domain: "c.myshopify.com",
		Gateway:    checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "k1"}},
		APIKeyHash: "hash-c", WebhookSecret: "whsec_c",
		Secrets:  map[string]string{"access_token": "t1"},
		Settings: map[string]string{"locale": "en"},
	}
	if err := writer.CreateShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	lookups := map[string]func() (*checkout.Shop, error){
		"id":  func() (*checkout.Shop, error) { return a.Shop(ctx, "shop_c") },
		"key": func() (*checkout.Shop, error) { return a.ShopByAPIKeyHash(ctx, "hash-c") },
		"domain": func() (*checkout.Shop, error) {
			return a.ShopByDomain(ctx, checkout.PlatformShopify, "c.myshopify.com")
		},
	}
	// see checks every lookup finds what want says, after letting the
	// change reach a.
	see := func(step string, want func(*checkout.Shop, error) error) {
		t.Helper()
		if late {
			clock.Add(versionTrust)
		}
		for name, get := range lookups {
			if err := want(get()); err != nil {
				t.Fatalf("%s: lookup by %s: %v", step, name, err)
			}
		}
	}
	found := func(check func(*checkout.Shop) error) func(*checkout.Shop, error) error {
		return func(got *checkout.Shop, err error) error {
			if err != nil {
				return err
			}
			return check(got)
		}
	}

	// Kept: a second lookup is answered from memory, as its own copy.
	see("created", found(func(*checkout.Shop) error { return nil }))
	hits := a.shops.hits.Load()
	got, err := a.Shop(ctx, "shop_c")
	if err != nil || a.shops.hits.Load() != hits+1 {
		t.Fatalf("second lookup: %v, %d hits (was %d)", err, a.shops.hits.Load(), hits)
	}
	got.Settings["locale"], got.Gateway.Credentials["api_key"], got.Secrets["access_token"] = "x", "x", "x"
	see("a caller changed its copy", found(func(g *checkout.Shop) error {
		if g.Settings["locale"] != "en" || g.Gateway.Credentials["api_key"] != "k1" || g.Secrets["access_token"] != "t1" {
			return errors.New("a caller's change to its copy reached the cache")
		}
		return nil
	}))
	// An unknown key is never kept: once the shop has it, it is found.
	if _, err := a.ShopByAPIKeyHash(ctx, "hash-new"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}

	// Another process: within the trusted time, memory answers (the
	// reason for the cache); afterwards the change shows.
	upd := *s
	upd.Settings = map[string]string{"locale": "ar"}
	if err := writer.UpdateShop(ctx, &upd); err != nil {
		t.Fatal(err)
	}
	if late {
		if g, err := a.Shop(ctx, "shop_c"); err != nil || g.Settings["locale"] != "en" {
			t.Fatalf("within the trusted time: %v %v", g, err)
		}
	}
	see("settings updated", found(func(g *checkout.Shop) error {
		if g.Settings["locale"] != "ar" {
			return errors.New("old settings " + g.Settings["locale"])
		}
		return nil
	}))
	if _, err := writer.SetShopCredentials(ctx, "shop_c", map[string]string{"api_key": "k2"}, cli); err != nil {
		t.Fatal(err)
	}
	see("credentials changed", found(func(g *checkout.Shop) error {
		if g.Gateway.Credentials["api_key"] != "k2" {
			return errors.New("old credentials")
		}
		return nil
	}))
	if _, err := writer.DisableShop(ctx, "shop_c", cli); err != nil {
		t.Fatal(err)
	}
	see("disabled", found(func(g *checkout.Shop) error {
		if g.Status != checkout.ShopDisabled {
			return errors.New("status " + string(g.Status))
		}
		return nil
	}))
	if _, err := writer.EnableShop(ctx, "shop_c", cli); err != nil {
		t.Fatal(err)
	}
	see("enabled", found(func(g *checkout.Shop) error {
		if g.Status == checkout.ShopDisabled {
			return errors.New("still disabled")
		}
		return nil
	}))

	// A rotated key: the old one finds nothing, the new one the shop.
	if err := writer.RotateShopKey(ctx, "shop_c", "hash-new", "whsec_new", cli); err != nil {
		t.Fatal(err)
	}
	if late {
		clock.Add(versionTrust)
	}
	if _, err := a.ShopByAPIKeyHash(ctx, "hash-c"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("the old key after rotation: %v", err)
	}
	if g, err := a.ShopByAPIKeyHash(ctx, "hash-new"); err != nil || g.WebhookSecret != "whsec_new" {
		t.Fatalf("the new key: %v %v", g, err)
	}
	if _, err := writer.RemoveShop(ctx, "shop_c", true, cli); err != nil {
		t.Fatal(err)
	}
	if late {
		clock.Add(versionTrust)
	}
	if _, err := a.ShopByAPIKeyHash(ctx, "hash-new"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("the key of a removed shop: %v", err)
	}
	// It had no payments, so it went altogether.
	if g, err := a.Shop(ctx, "shop_c"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("removed shop by id: %+v %v", g, err)
	}
}
