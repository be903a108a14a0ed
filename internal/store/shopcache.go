package store

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"paybridge/internal/checkout"
)

// shopCache keeps the shops the hot paths look up (by API key on every API
// request, by id on every notification, by domain on every store webhook),
// as read with their secrets opened, so that a request costs no read and
// no unsealing of them. A miss, an unknown key and a shop whose secrets do
// not open read through; only found shops are kept.
//
// It is right because the database says when shops changed: a trigger on
// shops counts every change in shop_version (migration 11). A lookup reads
// that count, and when it moved, forgets every shop it keeps. Reading it
// is a query (a round trip on PostgreSQL; on SQLite through database/sql
// it costs about what the shop's own row did), so a read less than
// SetShopRefresh ago (default [versionTrust]) is trusted: a change made by
// another process (the CLI, another replica) is seen within that time, one
// made by this process at once (its writes forget the shops themselves,
// [DB.shopsChanged]).
//
// The bounded LRU is hashicorp/golang-lru's; its expirable variant starts
// a goroutine per cache that never stops, so an entry's age is checked
// here instead ([maxShopAge]: a bound should the count ever be missed).
type shopCache struct {
	// trust is how long a read of shop_version is trusted; 0 reads it on
	// every lookup.
	trust time.Duration
	lru   *lru.Cache[string, cachedShop]
	now   func() time.Time
	hits  atomic.Int64 // lookups answered from memory (tests)

	mu      sync.Mutex
	gen     uint64    // bumped by every forget; an entry read across one is not kept
	version int64     // shop_version.n when the kept shops were read; -1 unknown
	checked time.Time // when version was last read
}

type cachedShop struct {
	shop *checkout.Shop
	at   time.Time
}

const (
	// shopCacheSize bounds the shops kept (each up to three times: by id,
	// by API key or domain).
	shopCacheSize = 4096
	// versionTrust is how long a read of shop_version is trusted by
	// default.
	versionTrust = 100 * time.Millisecond
	// maxShopAge is the longest a shop is kept whatever the count says.
	maxShopAge = time.Minute
)

func newShopCache(trust time.Duration, now func() time.Time) *shopCache {
	c, _ := lru.New[string, cachedShop](shopCacheSize) // only a size below 1 fails
	return &shopCache{trust: trust, lru: c, now: now, version: -1}
}

// currentShops returns the generation a lookup starts in, after forgetting the
// kept shops if shop_version moved; ok is false when the count cannot be
// read (the lookup then reads through and keeps nothing).
func (db *DB) currentShops(ctx context.Context) (gen uint64, ok bool) {
	c := db.shops
	c.mu.Lock()
	if c.trust > 0 && c.version >= 0 && c.now().Sub(c.checked) < c.trust {
		gen = c.gen
		c.mu.Unlock()
		return gen, true
	}
	c.mu.Unlock()
	var n int64
	if err := db.queryRow(ctx, `SELECT n FROM shop_version WHERE id = 1`).Scan(&n); err != nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != c.version {
		c.forgetLocked()
		c.version = n
	}
	c.checked = c.now()
	return c.gen, true
}

// cachedShop returns the shop kept under key, or loads it and keeps it.
// The caller gets its own copy.
func (db *DB) cachedShop(ctx context.Context, key string, load func() (*checkout.Shop, error)) (*checkout.Shop, error) {
	gen, ok := db.currentShops(ctx)
	if ok {
		if e, hit := db.shops.lru.Get(key); hit && db.shops.now().Sub(e.at) < maxShopAge {
			db.shops.hits.Add(1)
			return cloneShop(e.shop), nil
		}
	}
	s, err := load()
	if err != nil || !ok {
		return s, err
	}
	c := db.shops
	c.mu.Lock()
	if c.gen == gen {
		c.lru.Add(key, cachedShop{shop: cloneShop(s), at: c.now()})
	}
	c.mu.Unlock()
	return s, nil
}

// SetShopRefresh sets how long a read of the shops' change count is
// trusted: a shop changed by another process (the CLI, another replica)
// is seen by this one within d; 0 reads the count on every lookup.
// Default 100 ms.
func (db *DB) SetShopRefresh(d time.Duration) {
	c := db.shops
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trust = max(d, 0)
}

// shopsChanged forgets every kept shop: this process changed one. The
// next lookup reads shop_version again.
func (db *DB) shopsChanged() {
	c := db.shops
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked()
	c.version = -1
}

func (c *shopCache) forgetLocked() {
	c.gen++
	c.lru.Purge()
}

func cloneShop(s *checkout.Shop) *checkout.Shop {
	out := *s
	out.Gateway.Credentials = maps.Clone(s.Gateway.Credentials)
	out.Secrets = maps.Clone(s.Secrets)
	out.Settings = maps.Clone(s.Settings)
	return &out
}
