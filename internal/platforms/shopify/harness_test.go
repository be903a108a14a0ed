package shopify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/jobs"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/platforms/shopify/shopifytest"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	testenv.Main(m)
}

const (
	testKey    = "app-key-123"
	testSecret = "app-secret-456"
)

// backend is one way to run the real pieces.
type backend struct {
	name  string
	db    func(t testing.TB) string
	redis func(t testing.TB) string // nil: the embedded queue
}

var sqliteBackend = backend{"sqlite+embedded", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "bridge.db") }, nil}

var postgresBackend = backend{"postgres+redis", func(t testing.TB) string { return testenv.PostgresURL(t) },
	func(t testing.TB) string { return testenv.RedisAddr(t) }}

// harness is the bridge wired as cmd/bridge wires it: store, queue,
// worker, core, the three gateway adapters (UPayments against upaytest,
// Checkout.com KNET against ckotest, KuPay against kupaytest), the public
// server with the shopper routes and this platform, and the mTLS session
// listener; Shopify is shopifytest. restart stops the bridge process and
// starts a new one on the same database and addresses.
type harness struct {
	t          testing.TB
	log        *slog.Logger
	db         *store.DB
	svc        *checkout.Service
	p          *Platform
	sim        *shopifytest.Server
	upay       *upaytest.Server
	cko        *ckotest.Server
	kupay      *kupaytest.Server
	base       string
	sessionURL string
	logs       *syncBuffer
	redisAddr  string             // "": an embedded queue per process
	opt        asynq.RedisConnOpt // the running process's queue server
	stop       func()             // stops the running process; nil once stopped
	configure  func(*Config)      // changes the platform's Config; nil: none
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, be backend) *harness {
	t.Helper()
	return newHarnessWith(t, be, nil)
}

// newHarnessWith is newHarness with the platform's Config changed by
// configure.
func newHarnessWith(t testing.TB, be backend, configure func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncBuffer{}, configure: configure}
	h.log = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	kr, err := secrets.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, be.db(t), kr)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.db = db
	if be.redis != nil {
		h.redisAddr = be.redis(t)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.base = "http://" + pub.Addr().String()
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.sessionURL = "https://" + sl.Addr().String()
	h.upay = upaytest.NewServer()
	h.cko = ckotest.NewServer()
	base := h.base
	// The account's webhook workflow posts to the bridge's notify route.
	h.cko.SetWebhookURL(func(_, reference string) string { return base + "/notify/cko/" + reference })
	h.kupay = kupaytest.NewServer()
	h.sim = shopifytest.New(testKey, testSecret)
	t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
		}
		h.upay.Close()
		h.cko.Close()
		h.kupay.Close()
		h.sim.Close()
		db.Close()
		if t.Failed() {
			t.Logf("bridge logs:\n%s", h.logs)
		}
	})
	h.start(pub, sl)
	return h
}

// start starts a bridge process on the harness's database: queue (the
// shared Redis, or a fresh embedded one, as `go run ./cmd/bridge` without
// Redis), core, platform, worker, and the public and session servers on
// pub and sl.
func (h *harness) start(pub, sl net.Listener) {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	redisAddr := h.redisAddr
	var embedded *jobs.Embedded
	if redisAddr == "" {
		e, err := jobs.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		embedded, redisAddr = e, e.Addr()
	}
	log := h.log
	opt := asynq.RedisClientOpt{Addr: redisAddr}
	h.opt = opt
	jcfg := jobs.Config{SyncRetryDelays: []time.Duration{time.Second}, RefundRetryDelays: []time.Duration{time.Second},
		ConfirmRetryDelays: []time.Duration{time.Second}, ReconcileInterval: time.Second,
		DelayedTaskCheckInterval: 200 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond, Logger: log}
	queue := jobs.NewQueue(opt, jcfg)

	h.svc = checkout.NewService(h.db, queue, checkout.Config{PublicURL: h.base, AllowInsecureURLs: true,
		ReconcileAfter: 2 * time.Second, Logger: log})
	h.svc.RegisterGateway(upay.New(upay.Config{SandboxURL: h.upay.APIBase(), LiveURL: h.upay.APIBase()}))
	h.svc.RegisterGateway(cko.New(cko.Config{SandboxURL: h.cko.URL}))
	h.svc.RegisterGateway(kupay.New(kupay.Config{BaseURL: h.kupay.URL}))
	// UPayments as a gateway with fewer refunds, for the refusals.
	h.svc.RegisterGateway(restricted{upay.New(upay.Config{SandboxURL: h.upay.APIBase()}), "upay-fullonly", false, false})
	h.svc.RegisterGateway(restricted{upay.New(upay.Config{SandboxURL: h.upay.APIBase()}), "upay-onerefund", true, false})
	var err error
	pcfg := Config{APIKey: testKey, APISecret: testSecret, PublicURL: h.base,
		AdminOrigin: h.sim.AdminOrigin(), SessionClientCAs: h.sim.ClientCAs(), SessionCertificate: h.sim.ServerCertificate(),
		ExpiringTokens: true, Logger: log}
	if h.configure != nil {
		h.configure(&pcfg)
	}
	h.p, err = New(h.svc, h.db, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	h.svc.RegisterSyncer(checkout.PlatformShopify, h.p)
	worker := jobs.NewWorker(opt, h.svc, jcfg)
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}

	web := server.New(server.Config{Logger: log})
	web.Mount(shopper.New(h.svc, shopper.Config{PublicURL: h.base, RefreshSeconds: 1,
		Destinations: map[string]shopper.Destination{checkout.PlatformShopify: h.p},
		Gates:        map[string]shopper.Gate{checkout.PlatformShopify: h.p}}))
	web.Mount(h.p)
	webDone := make(chan error, 1)
	go func() { webDone <- web.Serve(ctx, pub) }()

	tlsCfg, err := h.p.SessionTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	sessions := server.New(server.Config{Logger: log})
	sessions.Mount(h.p.SessionRoutes())
	sessDone := make(chan error, 1)
	go func() { sessDone <- sessions.Serve(ctx, tls.NewListener(sl, tlsCfg)) }()

	p := h.p
	h.stop = func() {
		h.stop = nil
		cancel()
		<-webDone
		<-sessDone
		worker.Shutdown()
		p.Close()
		queue.Close()
		if embedded != nil {
			embedded.Close()
		}
	}
}

// restart stops the bridge process, unless stopped already, and starts a
// new one on the same database, Redis (an embedded queue is lost, as in a
// real restart) and addresses.
func (h *harness) restart() {
	h.t.Helper()
	if h.stop != nil {
		h.stop()
	}
	pub, err := net.Listen("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	sl, err := net.Listen("tcp", strings.TrimPrefix(h.sessionURL, "https://"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.start(pub, sl)
}

// restricted is UPayments under another name, reporting fewer refunds:
// none partial, or none after the first.
type restricted struct {
	*upay.Gateway
	name            string
	partial, second bool
}

func (r restricted) Name() string { return r.name }

func (r restricted) Capabilities() checkout.Capabilities {
	c := r.Gateway.Capabilities()
	c.DisplayName = "UPayments (" + r.name + ")"
	c.PartialRefunds, c.MultipleRefunds = r.partial, r.second
	return c
}

// noRedirect shows redirects instead of following them.
var noRedirect = &http.Client{Timeout: 15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches u without following redirects.
func get(t testing.TB, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// browser is a shopper or merchant browser: cookies, no redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// install runs the OAuth install of shop through the bridge and the
// simulator, and returns the stored shop.
func (h *harness) install(shop string) *checkout.Shop {
	h.t.Helper()
	b := browser()
	code, loc, body := get(h.t, b, h.base+"/shopify/install?"+h.sim.InstallQuery(shop, time.Now()).Encode())
	if code != http.StatusFound || !strings.HasPrefix(loc, h.sim.URL+"/shops/"+shop+"/admin/oauth/authorize?") {
		h.t.Fatalf("install: %d %q %s", code, loc, body)
	}
	code, loc, body = get(h.t, b, loc) // the merchant approves
	if code != http.StatusFound || !strings.HasPrefix(loc, h.base+"/shopify/callback?") {
		h.t.Fatalf("authorize: %d %q %s", code, loc, body)
	}
	code, loc, body = get(h.t, b, loc)
	if code != http.StatusFound || loc != h.base+"/shopify/app?shop="+url.QueryEscape(shop) {
		h.t.Fatalf("callback: %d %q %s", code, loc, body)
	}
	s, err := h.db.ShopByDomain(context.Background(), checkout.PlatformShopify, shop)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// sessionToken mints an App Bridge session token for shop.
func sessionToken(t testing.TB, shop string, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": testKey, "sub": "42",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Add(-time.Second).Unix(), "iat": now.Unix(), "jti": "j1", "sid": "s1"}
	if mutate != nil {
		mutate(c)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// settings PUTs the settings API with a session token.
func (h *harness) settings(shop string, in SettingsJSON) (int, map[string]any) {
	h.t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPut, h.base+"/shopify/api/settings", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+sessionToken(h.t, shop, nil))
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// setup installs shop and configures it in mode with UPayments sandbox
// credentials, through the settings API.
func (h *harness) setup(shop, mode string) *checkout.Shop {
	h.t.Helper()
	h.install(shop)
	code, out := h.settings(shop, SettingsJSON{Mode: mode, Sandbox: true, APIKey: upaytest.DefaultKey, PaymentMethod: "knet"})
	if code != http.StatusOK || out["warning"] != nil {
		h.t.Fatalf("settings: %d %v", code, out)
	}
	s, err := h.db.ShopByDomain(context.Background(), checkout.PlatformShopify, shop)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// eventually waits until cond holds, failing the test after within.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.EventuallyTrue(t, within, what, cond)
}

// settled waits until nothing is left in the running process that could
// still tell Shopify something about the payment: no gateway notification
// in flight, no job about it waiting, running or due within 1.5s (longer
// than the 1s sync retry delay), and a reconciler pass that started
// afterwards has finished, with whatever it enqueued. A test can then
// assert that a second call did not come, with no sleep.
func (h *harness) settled(paymentID string) {
	h.t.Helper()
	h.upay.Wait()
	h.cko.Wait()
	h.kupay.Wait()
	ofPayment := func(ti *asynq.TaskInfo) bool {
		var p jobs.Payload
		return json.Unmarshal(ti.Payload, &p) == nil && p.PaymentID == paymentID && testenv.DueWithin(ti, 1500*time.Millisecond)
	}
	testenv.QueueIdle(h.t, h.opt, jobs.Queues, 30*time.Second, ofPayment)
	testenv.PeriodRanAfter(h.t, h.opt, jobs.QueueLow, "reconcile:", time.Now(), 15*time.Second)
	testenv.QueueIdle(h.t, h.opt, jobs.Queues, 30*time.Second, ofPayment)
}

// payment returns the payment for a Shopify order id (session id).
func (h *harness) payment(shop *checkout.Shop, orderID string) *checkout.Payment {
	h.t.Helper()
	p, err := h.db.PaymentByOrder(context.Background(), shop.ID, orderID)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// visit follows a pay URL to the UPayments page and returns the track id.
func (h *harness) visit(payURL string) string {
	h.t.Helper()
	code, loc, body := get(h.t, noRedirect, payURL)
	if code != http.StatusFound || !strings.HasPrefix(loc, h.upay.URL+"/pay/") {
		h.t.Fatalf("pay URL: %d %q %s", code, loc, body)
	}
	return strings.TrimPrefix(loc, h.upay.URL+"/pay/")
}

// gatewayCreds are sandbox credentials each simulator accepts, as the
// settings API takes them.
var gatewayCreds = map[string]map[string]string{
	"upay": {"api_key": upaytest.DefaultKey},
	"cko": {cko.CredSecretKey: ckotest.DefaultSecretKey, cko.CredProcessingChannel: ckotest.DefaultProcessingChannel,
		cko.CredWebhookKey: ckotest.DefaultWebhookKey},
	"kupay": {kupay.CredToken: kupaytest.DefaultToken},
}

// setupGateway installs shop and configures it in mode on gateway, with
// the simulator's sandbox credentials, through the settings API.
func (h *harness) setupGateway(shop, mode, gateway string) *checkout.Shop {
	h.t.Helper()
	h.install(shop)
	code, out := h.settings(shop, SettingsJSON{Mode: mode, Sandbox: true, Gateway: gateway, Credentials: gatewayCreds[gateway]})
	if code != http.StatusOK || out["warning"] != nil {
		h.t.Fatalf("settings: %d %v", code, out)
	}
	s, err := h.db.ShopByDomain(context.Background(), checkout.PlatformShopify, shop)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// pagePrefix is where the bridge's /pay redirect leads for gateway.
func (h *harness) pagePrefix(gateway string) string {
	switch gateway {
	case "cko":
		return h.cko.URL + "/knet/"
	case "kupay":
		return h.kupay.URL + "/pay/"
	}
	return h.upay.URL + "/pay/"
}

// visitGateway follows a pay URL to the shop's gateway page and returns
// the gateway's reference of the charge.
func (h *harness) visitGateway(shop *checkout.Shop, orderID, payURL string) string {
	h.t.Helper()
	code, loc, body := get(h.t, noRedirect, payURL)
	if code != http.StatusFound || !strings.HasPrefix(loc, h.pagePrefix(shop.Gateway.Gateway)) {
		h.t.Fatalf("pay URL: %d %q %s", code, loc, body)
	}
	ref := h.payment(shop, orderID).GatewayRef
	if ref == "" {
		h.t.Fatal("no gateway reference stored")
	}
	return ref
}

// payOnGateway is the shopper paying on the shop's gateway page; it
// returns where the gateway sends the browser.
func (h *harness) payOnGateway(shop *checkout.Shop, ref string) string {
	h.t.Helper()
	var (
		ret string
		err error
	)
	switch shop.Gateway.Gateway {
	case "cko":
		ret, err = h.cko.Complete(ref, ckotest.Captured)
	case "kupay":
		ret, err = h.kupay.Complete(ref, kupaytest.Paid)
	default:
		ret, err = h.upay.Complete(ref, upaytest.Captured)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return ret
}

// gatewayCreates counts the charges the shop's gateway was asked for.
func (h *harness) gatewayCreates() int {
	return len(h.upay.Charges()) + len(h.cko.Requests("POST /payments")) + len(h.kupay.Requests("create"))
}

// waitRedirect follows the shopper's return (or waiting page) until the
// bridge sends them somewhere, and returns where.
func (h *harness) waitRedirect(u string, within time.Duration) string {
	h.t.Helper()
	var out string
	testenv.Eventually(h.t, within, "the bridge to send the shopper on from "+u, func() error {
		code, loc, _ := get(h.t, noRedirect, u)
		if code == http.StatusFound {
			out = loc
			return nil
		}
		err := fmt.Errorf("%s: still %d", u, code)
		if i := strings.Index(u, "/return/"); i >= 0 {
			id := strings.SplitN(u[i+len("/return/"):], "?", 2)[0]
			u = h.base + "/wait/" + id
		}
		if i := strings.Index(u, "/cancel/"); i >= 0 {
			id := strings.SplitN(u[i+len("/cancel/"):], "?", 2)[0]
			u = h.base + "/wait/" + id
		}
		return err
	})
	return out
}
