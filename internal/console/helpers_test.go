package console

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/platforms/api"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is one way to run the bridge: a database and a queue.
type stack struct {
	name string
	db   func(t *testing.T) string
	// queue returns the queue's Redis.
	queue func(t *testing.T) asynq.RedisConnOpt
}

var stacks = []stack{
	{"sqlite+embedded", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "b.db") },
		func(t *testing.T) asynq.RedisConnOpt {
			e, err := jobs.StartEmbedded()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			return asynq.RedisClientOpt{Addr: e.Addr()}
		}},
	{"postgres+redis", func(t *testing.T) string { return testenv.PostgresURL(t) }, func(t *testing.T) asynq.RedisConnOpt {
		opt := asynq.RedisClientOpt{Addr: testenv.RedisAddr(t)}
		if os.Getenv("TEST_REDIS_ADDR") != "" {
			// One shared server: a database of its own, emptied.
			opt.DB = int(sharedDB.Add(1)%15) + 1
			rc := redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB})
			defer rc.Close()
			if err := rc.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		return opt
	}},
}

// sharedDB hands out database indexes of a shared TEST_REDIS_ADDR.
var sharedDB atomic.Int32

func onStacks(t *testing.T, f func(t *testing.T, e *env)) {
	t.Parallel()
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, s, nil))
		})
	}
}

// clock is a settable clock for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// env is a bridge with the console mounted, a UPayments simulator and a
// callback receiver, on one stack.
type env struct {
	t        *testing.T
	db       *store.DB
	svc      *checkout.Service
	sim      *upaytest.Server
	queue    asynq.RedisConnOpt
	insp     *asynq.Inspector
	srv      *httptest.Server
	console  *Console
	clock    *clock
	callback *httptest.Server
	// callbackStatus is what the callback receiver answers.
	callbackMu     sync.Mutex
	callbackStatus int
}

func quietLogger() *slog.Logger {
	if os.Getenv("CONSOLE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t *testing.T, s stack, tweak func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, s.db(t), kr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, clock: &clock{}, callbackStatus: http.StatusOK}
	e.queue = s.queue(t)
	e.insp = asynq.NewInspector(e.queue)
	t.Cleanup(func() { e.insp.Close() })
	e.sim = upaytest.NewServer()
	t.Cleanup(e.sim.Close)
	e.sim.SetNotifyPolicy(upaytest.NotifyPolicy{Drop: true}) // the console's re-check is what confirms
	e.callback = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.callbackMu.Lock()
		st := e.callbackStatus
		e.callbackMu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(e.callback.Close)

	q := jobs.NewQueue(e.queue, jobs.Config{Logger: quietLogger()})
	t.Cleanup(func() { q.Close() })
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	e.svc = checkout.NewService(db, q, checkout.Config{PublicURL: base, AllowInsecureURLs: true, Logger: quietLogger()})
	t.Cleanup(e.svc.Wait)
	e.svc.RegisterGateway(upay.New(upay.Config{SandboxURL: e.sim.APIBase(), LiveURL: e.sim.APIBase()}))
	e.svc.RegisterSyncer(checkout.PlatformAPI, api.NewSyncer(db, e.svc.PayURL, api.SyncerConfig{AllowPrivate: true}))

	cfg := Config{Store: db, Core: e.svc, Queue: e.queue, PublicURL: base, Logger: quietLogger(), Now: e.clock.now}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.console = c
	srv := server.New(server.Config{Logger: quietLogger(), Production: true})
	srv.Mount(c)
	srv.Mount(api.New(e.svc, db)) // the merchant API, for keys rotated in the console
	e.srv.Config.Handler = srv.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) ctx() context.Context { return e.t.Context() }

// shop connects an API shop on the simulator's default key.
func (e *env) shop(id string) *checkout.Shop {
	e.t.Helper()
	s := &checkout.Shop{ID: id, Name: "Shop " + strings.ToUpper(id[len(id)-1:]), Platform: checkout.PlatformAPI,
		Gateway:       checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}},
		WebhookSecret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("webhook secret of "+id))}
	if err := e.db.CreateShop(e.ctx(), s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// apiShop is shop with an API key, which it returns.
func (e *env) apiShop(id string) (*checkout.Shop, string) {
	e.t.Helper()
	key, whsec := api.NewCredentials()
	s := &checkout.Shop{ID: id, Name: "Shop " + strings.ToUpper(id[len(id)-1:]), Platform: checkout.PlatformAPI, APIKeyHash: api.HashAPIKey(key),
		Gateway:       checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}},
		WebhookSecret: whsec}
	if err := e.db.CreateShop(e.ctx(), s); err != nil {
		e.t.Fatal(err)
	}
	return s, key
}

// apiStatus is the status the merchant API answers key for a payment
// lookup: 401 for a key it does not know, 404 (no such payment) for one
// it does.
func (e *env) apiStatus(key string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx(), http.MethodGet, e.srv.URL+"/api/v1/payments/pay_none", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// user adds a console user with password "correct horse battery".
func (e *env) user(email, shopID string) *store.User {
	e.t.Helper()
	h, err := HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &store.User{ID: checkout.NewID("usr"), Email: email, PasswordHash: h, ShopID: shopID}
	if err := e.db.CreateUser(e.ctx(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

const testPassword = "correct horse battery"

// pay creates a payment for order on shop and sends the shopper to the
// simulator's page; it returns the payment and its track id.
func (e *env) pay(shop *checkout.Shop, order, amount string) (*checkout.Payment, string) {
	e.t.Helper()
	m, err := checkout.ParseMoney(amount, "KWD")
	if err != nil {
		e.t.Fatal(err)
	}
	p, _, err := e.svc.CreatePayment(e.ctx(), shop, checkout.PlatformAPI, checkout.PaymentRequest{OrderID: order, Amount: m,
		Description: "Order " + order, Language: "en", ReturnURL: "https://shop.example/ok", CancelURL: "https://shop.example/no",
		CallbackURL: e.callback.URL + "/hook"}, "api")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, p, err = e.svc.Redirect(e.ctx(), p.ID); err != nil {
		e.t.Fatal(err)
	}
	return p, p.GatewayRef
}

// paid makes a paid payment (the shopper pays; the core confirms).
func (e *env) paid(shop *checkout.Shop, order, amount string) *checkout.Payment {
	e.t.Helper()
	p, track := e.pay(shop, order, amount)
	if _, err := e.sim.Complete(track, upaytest.Captured); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.Confirm(e.ctx(), p.ID, "test")
	if err != nil || p.Status != checkout.StatusPaid {
		e.t.Fatalf("confirm: %v, %v", p, err)
	}
	return p
}

// browser is a signed-in (or not) client of the console.
type browser struct {
	e    *env
	c    *http.Client
	lang string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// resp is an answer, body read.
type resp struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) resp {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.e.ctx(), method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(raw)}
}

func (b *browser) get(path string) resp { b.e.t.Helper(); return b.do(http.MethodGet, path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post submits a form from the page at from (for its CSRF token).
func (b *browser) post(from, path string, form url.Values) resp {
	b.e.t.Helper()
	page := b.get(from)
	m := csrfRE.FindStringSubmatch(page.body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s (%d):\n%s", from, page.status, page.body)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	return b.do(http.MethodPost, path, form)
}

func (b *browser) login(email string) {
	b.e.t.Helper()
	r := b.do(http.MethodPost, "/admin/login", url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		b.e.t.Fatalf("sign-in of %s: %d\n%s", email, r.status, r.body)
	}
}

// events returns the kinds of p's audit events.
func (e *env) eventKinds(id string) []string {
	e.t.Helper()
	evs, err := e.db.Events(e.ctx(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var ks []string
	for _, ev := range evs {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// consoleActions returns the details of p's console actions.
func (e *env) consoleActions(id string) []string {
	e.t.Helper()
	evs, err := e.db.Events(e.ctx(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == EventConsoleAction {
			out = append(out, fmt.Sprintf("%s %s", ev.Source, ev.Detail))
		}
	}
	return out
}

// worker runs the job worker on the env's queue and core, quickly: a
// store sync that fails permanently is archived at once.
func (e *env) worker() {
	e.t.Helper()
	fast := []time.Duration{time.Millisecond}
	w := jobs.NewWorker(e.queue, e.svc, jobs.Config{ConfirmRetryDelays: fast, SyncRetryDelays: fast, RefundRetryDelays: fast,
		DelayedTaskCheckInterval: 200 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond,
		ShutdownTimeout: 3 * time.Second, NoScheduler: true, Logger: quietLogger()})
	if err := w.Start(e.ctx()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(w.Shutdown)
}

// setCallback sets the status the merchant's callback URL answers.
func (e *env) setCallback(status int) {
	e.callbackMu.Lock()
	e.callbackStatus = status
	e.callbackMu.Unlock()
}

// waitArchived waits until the task is archived.
func (e *env) waitArchived(queue, id string) {
	e.t.Helper()
	testenv.Eventually(e.t, 15*time.Second, "task "+id+" archived", func() error {
		ti, err := e.insp.GetTaskInfo(queue, id)
		if err != nil {
			return err
		}
		if ti.State != asynq.TaskStateArchived {
			return fmt.Errorf("task %s is %s", id, ti.State)
		}
		return nil
	})
}
