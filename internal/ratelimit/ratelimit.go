// Package ratelimit throttles the bridge's public routes that an attacker
// can hammer: gateway notifications, the WooCommerce connect form, the
// Shopify install route and failed API-key authentication. Counters live in
// the queue's Redis, shared by every replica, through
// github.com/ulule/limiter's Redis store, so a limit holds across
// replicas; a single process (the embedded queue) keeps them in memory
// with the same library's memory store instead (Config.Local). A request over a limit is answered 429 with
// Retry-After and nothing behind it runs.
//
// The limiter fails open: when Redis cannot be reached the request goes
// through (and a warning is logged, at most once a minute), because
// refusing a genuine gateway notification loses more than a flood costs;
// the reconciler and the compare-and-set writes keep a flood harmless.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	memorystore "github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"

	"paybridge/internal/server"
)

// Rule is one limit: requests that Match, counted per Key, at most Rate.
type Rule struct {
	// Name labels the rule in logs and keys ("notify_payment").
	Name string
	// Rate is the limit, in ulule/limiter's notation: "60-M" is 60 a
	// minute, "20-S" 20 a second, "1000-H" 1000 an hour.
	Rate string
	// Routes are the route patterns (gin's FullPath, from package routes)
	// the rule applies to; Methods, when set, narrows them.
	Routes  []string
	Methods []string
	// Key names what is counted for a request ("" skips the request): the
	// client address, a payment id, a shop domain.
	Key func(c *gin.Context) string
	// Failures, when set, counts only requests answered with one of these
	// statuses (401, 403: wrong API keys), while every request of a key
	// that is over the limit is refused.
	Failures []int
}

// ClientIP keys a rule by the client's address (X-Forwarded-For only from
// the server's trusted proxies).
func ClientIP(c *gin.Context) string { return c.ClientIP() }

// Param keys a rule by a path parameter ("id": the payment of a
// notification).
func Param(name string) func(c *gin.Context) string {
	return func(c *gin.Context) string { return c.Param(name) }
}

// Query keys a rule by a query parameter ("shop": a Shopify install).
func Query(name string) func(c *gin.Context) string {
	return func(c *gin.Context) string { return c.Query(name) }
}

// Config configures a [Limiter]. Rules is required; the rest has defaults.
type Config struct {
	// Rules are checked in order; every rule a request matches must allow
	// it.
	Rules []Rule
	// Prefix starts every Redis key. Default "paybridge:rate:".
	Prefix string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Local keeps the counters in this process's memory instead of Redis:
	// for a bridge that is the only process (the embedded queue), where
	// nothing needs sharing and a Redis script per request would cost a
	// tenth of a payment's CPU. Default false: Redis.
	Local bool
}

type rule struct {
	Rule
	rate limiter.Rate
}

// Limiter is the middleware. It is safe for concurrent use.
type Limiter struct {
	cfg   Config
	rdb   redis.UniversalClient
	log   *slog.Logger
	rules []*rule

	mu       sync.Mutex
	store    limiter.Store
	failedAt time.Time // the last failed attempt to make the store
	lastWarn time.Time
	// suspects are the keys of Failures rules with a failure seen here,
	// until when (see suspect); a bounded LRU (hashicorp/golang-lru).
	suspects *lru.Cache[string, time.Time]
}

// retryStoreAfter is how long after a failed attempt to reach Redis
// requests go through unchecked before it is tried again.
const retryStoreAfter = 5 * time.Second

// CheckRate returns an error saying what is wrong with rate, or nil when
// it is a limit ("60-M").
func CheckRate(rate string) error {
	r, err := limiter.NewRateFromFormatted(rate)
	if err != nil || r.Limit <= 0 {
		return fmt.Errorf("%q: want a count and a period, like 60-M (a minute), 20-S, 1000-H", rate)
	}
	return nil
}

// New checks every rule's rate and returns the limiter over rdb (unused,
// and may be nil, with cfg.Local). It does not need Redis yet: the store
// is made on first use.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "paybridge:rate:"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	suspects, _ := lru.New[string, time.Time](maxSuspects) // only a size below 1 fails
	l := &Limiter{cfg: cfg, rdb: rdb, log: cfg.Logger, suspects: suspects}
	var errs []error
	for _, r := range cfg.Rules {
		if err := CheckRate(r.Rate); err != nil {
			errs = append(errs, fmt.Errorf("rate limit %s: %w", r.Name, err))
			continue
		}
		rate, _ := limiter.NewRateFromFormatted(r.Rate)
		if r.Key == nil {
			errs = append(errs, fmt.Errorf("rate limit %s: no key", r.Name))
			continue
		}
		l.rules = append(l.rules, &rule{Rule: r, rate: rate})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// storeFor returns the Redis store, making it (loading its scripts) on
// first use.
func (l *Limiter) storeFor(ctx context.Context) (limiter.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store, nil
	}
	if l.cfg.Local {
		l.store = memorystore.NewStoreWithOptions(limiter.StoreOptions{Prefix: l.cfg.Prefix, CleanUpInterval: limiter.DefaultCleanUpInterval})
		return l.store, nil
	}
	if time.Since(l.failedAt) < retryStoreAfter {
		return nil, errors.New("redis unreachable a moment ago")
	}
	s, err := redisstore.NewStoreWithOptions(l.rdb, limiter.StoreOptions{Prefix: l.cfg.Prefix, MaxRetry: limiter.DefaultMaxRetry})
	if err != nil {
		l.failedAt = time.Now()
		return nil, err
	}
	l.store = s
	return s, nil
}

func (l *Limiter) warn(ctx context.Context, err error) {
	l.mu.Lock()
	due := time.Since(l.lastWarn) >= time.Minute
	if due {
		l.lastWarn = time.Now()
	}
	l.mu.Unlock()
	if due {
		l.log.WarnContext(ctx, "rate limits not enforced: Redis unavailable", "err", err)
	}
}

func (r *rule) matches(c *gin.Context) bool {
	return slices.Contains(r.Routes, c.FullPath()) && (len(r.Methods) == 0 || slices.Contains(r.Methods, c.Request.Method))
}

// Handler is the gin middleware: mount it (Engine().Use) before the routes
// it guards.
func (l *Limiter) Handler(c *gin.Context) {
	ctx := c.Request.Context()
	var after []*rule
	var keys []string
	for _, r := range l.rules {
		if !r.matches(c) {
			continue
		}
		key := r.Key(c)
		if key == "" {
			continue
		}
		key = r.Name + ":" + key
		store, err := l.storeFor(ctx)
		if err != nil {
			l.warn(ctx, err)
			break
		}
		var lc limiter.Context
		if len(r.Failures) > 0 {
			if l.suspect(key) {
				lc, err = store.Peek(ctx, key, r.rate)
				if err == nil && lc.Remaining <= 0 {
					lc.Reached = true
				}
			}
			after, keys = append(after, r), append(keys, key)
		} else {
			lc, err = store.Get(ctx, key, r.rate)
		}
		if err != nil {
			l.warn(ctx, err)
			continue
		}
		if lc.Reached {
			l.refuse(c, r, lc)
			return
		}
	}
	c.Next()
	for i, r := range after {
		if slices.Contains(r.Failures, c.Writer.Status()) {
			l.markSuspect(keys[i], r.rate.Period)
			store, err := l.storeFor(ctx)
			if err == nil {
				_, err = store.Increment(context.WithoutCancel(ctx), keys[i], 1, r.rate)
			}
			if err != nil {
				l.warn(ctx, err)
			}
		}
	}
}

// maxSuspects bounds the keys a limiter remembers failures of (the least
// recently failed are forgotten first: such a key gets one unchecked
// attempt, which is counted, and is remembered again).
const maxSuspects = 100_000

// suspect says whether a request of a Failures rule's key must be checked
// against the shared counter: only when this process has seen one of the
// key's requests fail within the rule's period. A request whose address
// never failed here needs no Redis round trip, which is every request of
// a merchant with the right key. The cost: an address over the limit
// through failures at other replicas gets one more attempt at each
// replica where it has not failed yet, which is then counted, so at most
// one attempt per replica and period above the limit. With Config.Local
// the counters are in memory and always checked.
func (l *Limiter) suspect(key string) bool {
	if l.cfg.Local {
		return true
	}
	until, ok := l.suspects.Get(key)
	return ok && time.Now().Before(until)
}

// markSuspect remembers that a request of key failed, for period.
func (l *Limiter) markSuspect(key string, period time.Duration) {
	if !l.cfg.Local {
		l.suspects.Add(key, time.Now().Add(period))
	}
}

func (l *Limiter) refuse(c *gin.Context, r *rule, lc limiter.Context) {
	wait := max(time.Until(time.Unix(lc.Reset, 0)).Round(time.Second), time.Second)
	c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)))
	c.Header("X-RateLimit-Limit", strconv.FormatInt(lc.Limit, 10))
	l.log.WarnContext(c.Request.Context(), "rate limited", "rule", r.Name, "path", c.FullPath(), "client_ip", c.ClientIP(), "retry_after_s", int(wait/time.Second))
	server.WriteError(c, server.Error(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests; try again in %d s", int(wait/time.Second))))
	c.Abort()
}
