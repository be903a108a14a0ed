package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/jobs"
	"paybridge/internal/testenv"
	"paybridge/internal/upay/upaytest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend is one way to run the bridge: the embedded default, or the
// production parts.
type backend struct {
	name  string
	db    func(t testing.TB) string
	redis func(t testing.TB) string // "" runs the embedded queue
}

var backends = []backend{
	{"sqlite+embedded", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "bridge.db") }, nil},
	{"postgres+redis", func(t testing.TB) string { return testenv.PostgresURL(t) },
		func(t testing.TB) string { return "redis://" + testenv.RedisAddr(t) + "/0" }},
}

// bridge is a running bridge process (in this test binary), with a
// gateway simulator and a merchant server around it. Its shop takes
// payments through gw; sim is set when that gateway is UPayments.
type bridge struct {
	t        testing.TB
	gw       gatewayDriver
	sim      *upaytest.Server
	merchant *merchant
	base     string
	addr     string
	shopID   string
	apiKey   string
	whsec    string
	logs     *syncBuffer
	// env is the bridge's configuration, as an operator's environment:
	// the process environment holds it only while withEnv runs.
	env    map[string]string
	app    *app
	cancel context.CancelFunc
	done   chan error
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

// envMu serialises the bridges' use of the process environment, which
// the bridge reads its configuration from. Each bridge keeps its own in
// bridge.env and puts it in the environment only while withEnv runs (to
// boot, or to run a CLI command), so that bridges, each on its own
// database, queue and simulators, run in parallel tests; t.Setenv would
// forbid t.Parallel.
var envMu sync.Mutex

// withEnv runs f with the bridge's configuration in the process
// environment, and restores the environment afterwards.
func (b *bridge) withEnv(f func()) {
	envMu.Lock()
	defer envMu.Unlock()
	for k, v := range b.env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}
	f()
}

// run runs a bridge CLI command with the bridge's configuration.
func (b *bridge) run(ctx context.Context, args []string, stdout io.Writer) error {
	var err error
	b.withEnv(func() { err = run(ctx, args, stdout, b.logs) })
	return err
}

// openApp opens an app on the bridge's configuration, as a second process
// on the same database and queue would.
func (b *bridge) openApp(ctx context.Context, embedded bool) (*app, error) {
	var a *app
	var err error
	b.withEnv(func() { a, err = openApp(ctx, b.logs, embedded) })
	return a, err
}

// startBridge boots a bridge whose shop takes payments through UPayments.
func startBridge(t testing.TB, be backend) *bridge {
	t.Helper()
	return startBridgeEnv(t, be, &upayDriver{}, nil)
}

// startBridgeWith boots a bridge whose shop takes payments through gw.
func startBridgeWith(t testing.TB, be backend, gw gatewayDriver) *bridge {
	t.Helper()
	return startBridgeEnv(t, be, gw, nil)
}

// startBridgeEnv configures the environment the way an operator would,
// with extra on top, and boots the real wiring (store, queue, core,
// gateway adapters, web, worker), with one API shop on gw's gateway.
func startBridgeEnv(t testing.TB, be backend, gw gatewayDriver, extra map[string]string) *bridge {
	t.Helper()
	b := &bridge{t: t, gw: gw, merchant: newMerchant(t), logs: &syncBuffer{}, env: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.base = "http://" + b.addr
	b.env["BRIDGE_ADDR"] = b.addr
	b.env["BRIDGE_PUBLIC_URL"] = b.base
	b.env["BRIDGE_DATABASE_URL"] = be.db(t)
	redis := ""
	if be.redis != nil {
		redis = be.redis(t)
	}
	b.env["BRIDGE_REDIS_URL"] = redis
	b.env["BRIDGE_MASTER_KEY"] = ""
	if !strings.HasPrefix(be.name, "sqlite") {
		b.env["BRIDGE_MASTER_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	}
	for _, k := range []string{"UPAY_SANDBOX_URL", "UPAY_LIVE_URL", "CKO_SANDBOX_URL", "CKO_LIVE_URL", "KUPAY_URL"} {
		b.env[k] = "" // defaults, unless the gateway's driver points it at its simulator
	}
	gw.start(t, b)
	b.env["BRIDGE_ALLOW_INSECURE_URLS"] = "true"
	// The tests check that a change made by the CLI (another store handle)
	// takes effect at once; its bounded delay with the default is the store
	// tests' (TestShopCache).
	b.env["BRIDGE_SHOP_REFRESH"] = "0"
	b.env["BRIDGE_RECONCILE_INTERVAL"] = "1s"
	b.env["BRIDGE_RECONCILE_AFTER"] = "2s"
	// Retries come at the worker's next due-task check: asynq keeps due
	// times in whole seconds, so 1ms is due at once.
	b.env["BRIDGE_SYNC_RETRY_DELAYS"] = "1ms"
	b.env["BRIDGE_LOG_LEVEL"] = "info"
	maps.Copy(b.env, extra)

	var out bytes.Buffer
	args := append([]string{"shops", "add", "--platform", "api", "--name", "Test shop", "--gateway", gw.name()}, gw.shopFlags()...)
	if err := b.run(context.Background(), append(args, "--sandbox", "--json"), &out); err != nil {
		t.Fatalf("shops add: %v\n%s", err, b.logs)
	}
	var creds struct{ ID, APIKey, WebhookSecret string }
	var raw map[string]string
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("shops add --json printed %q: %v", out.String(), err)
	}
	creds.ID, creds.APIKey, creds.WebhookSecret = raw["id"], raw["api_key"], raw["webhook_secret"]
	if !strings.HasPrefix(creds.WebhookSecret, "whsec_") || creds.APIKey == "" || creds.ID == "" {
		t.Fatalf("shops add --json: %q", out.String())
	}
	b.shopID, b.apiKey, b.whsec = creds.ID, creds.APIKey, creds.WebhookSecret
	b.merchant.secret = b.whsec
	b.boot(ln)
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("bridge logs:\n%s", b.logs)
		}
		// Secrets never reach the logs, whatever happened in the run.
		logs := b.logs.String()
		secrets := map[string]string{"API key": b.apiKey, "webhook secret": b.whsec,
			"webhook key": strings.TrimPrefix(b.whsec, "whsec_")}
		for i, f := range gw.shopFlags() { // the gateway credentials
			if i%2 == 1 {
				secrets[gw.shopFlags()[i-1]] = f
			}
		}
		for name, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("the bridge logged the %s", name)
			}
		}
	})
	return b
}

func (b *bridge) boot(ln net.Listener) {
	t := b.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := b.openApp(ctx, true)
	if err != nil {
		cancel()
		t.Fatalf("openApp: %v\n%s", err, b.logs)
	}
	a.jobsCfg.DelayedTaskCheckInterval = 200 * time.Millisecond
	a.jobsCfg.TaskCheckInterval = 100 * time.Millisecond
	// Refunds that settle later are polled on their ladder: poll at the
	// next due-task check instead of after 5s, 10s ….
	a.jobsCfg.RefundRetryDelays = []time.Duration{time.Millisecond}
	// A confirm the gateway answers "not yet" asks again after 1s, not 5s,
	// 10s …: a claim the gateway later contradicts is settled quickly.
	a.jobsCfg.ConfirmRetryDelays = []time.Duration{time.Second}
	b.app, b.cancel, b.done = a, cancel, make(chan error, 1)
	go func() { b.done <- a.serve(ctx, "all", ln) }()
	waitHealthy(t, b.base)
}

// waitHealthy waits until the bridge at base answers /healthz with 200.
func waitHealthy(t testing.TB, base string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "the bridge at "+base+" to come up", func() error {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/healthz: %d", resp.StatusCode)
		}
		return nil
	})
}

// stop ends the process as SIGTERM would.
func (b *bridge) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Logf("serve returned: %v", err)
		}
	case <-time.After(20 * time.Second):
		b.t.Errorf("bridge did not stop within 20s")
	}
	b.app.close()
	b.cancel = nil
}

// restart stops the bridge and starts a new one on the same database,
// address and (if real) Redis.
func (b *bridge) restart() {
	b.stop()
	var ln net.Listener
	testenv.Eventually(b.t, 5*time.Second, "to listen again on "+b.addr, func() error {
		var err error
		ln, err = net.Listen("tcp", b.addr)
		return err
	})
	b.boot(ln)
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{Timeout: 15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request to the bridge's API with the shop's key.
func (b *bridge) do(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+b.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		b.t.Fatalf("%s %s: %d non-JSON %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// order is a typical create request; callbacks go to the merchant under
// /cb/{tag} so each test reads its own.
func (b *bridge) order(tag, amount, currency string) map[string]any {
	m := map[string]any{
		"order_id": tag, "amount": amount, "currency": currency, "description": "Order " + tag,
		"language":     "en",
		"customer":     map[string]any{"name": "Fatima", "email": "f@example.com", "mobile": "+96550000000", "unique_id": "cust-1"},
		"products":     []any{map[string]any{"name": "Dates box", "price": amount, "quantity": 1}},
		"return_url":   b.merchant.url + "/thanks/" + tag,
		"cancel_url":   b.merchant.url + "/cart/" + tag,
		"callback_url": b.merchant.url + "/cb/" + tag,
	}
	if method := b.gw.method(); method != "" {
		m["payment_method"] = method
	}
	return m
}

// create makes a payment and returns its JSON.
func (b *bridge) create(tag, amount, currency string) map[string]any {
	b.t.Helper()
	code, p := b.do("POST", "/api/v1/payments", b.order(tag, amount, currency))
	if code != http.StatusCreated {
		b.t.Fatalf("create %s: %d %v", tag, code, p)
	}
	return p
}

// createFor makes a payment of a scenario amount written in KWD, adapted
// to the shop's gateway (see gatewayDriver.amount).
func (b *bridge) createFor(tag, kwd string) map[string]any {
	b.t.Helper()
	amount, currency := b.gw.amount(kwd)
	return b.create(tag, amount, currency)
}

// visit follows the pay URL like a browser and returns the gateway page
// URL it was sent to and the gateway's reference of the transaction (the
// UPayments track id, the Checkout.com payment id, the KuPay payment id).
func (b *bridge) visit(p map[string]any) (string, string) {
	b.t.Helper()
	resp, err := noRedirect.Get(p["pay_url"].(string))
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, b.gw.pagePrefix()) {
		b.t.Fatalf("pay_url: %d Location %q, want a page under %s", resp.StatusCode, loc, b.gw.pagePrefix())
	}
	ref, _ := b.get(p["id"].(string))["gateway_reference"].(string)
	if ref == "" {
		b.t.Fatalf("no gateway_reference after the redirect")
	}
	return loc, ref
}

func (b *bridge) get(id string) map[string]any {
	b.t.Helper()
	code, p := b.do("GET", "/api/v1/payments/"+id, nil)
	if code != 200 {
		b.t.Fatalf("get %s: %d %v", id, code, p)
	}
	return p
}

// waitStatus polls until the payment has the status or the time is up.
func (b *bridge) waitStatus(id, status string, within time.Duration) map[string]any {
	b.t.Helper()
	var p map[string]any
	testenv.Eventually(b.t, within, "payment "+id+" to be "+status, func() error {
		p = b.get(id)
		if p["status"] != status {
			return fmt.Errorf("payment is %v; events: %s", p["status"], eventsOf(p))
		}
		return nil
	})
	return p
}

// waitEvents waits until the payment has at least n events of a kind
// (and, for transitions, to a status), and returns it.
func (b *bridge) waitEvents(id, kind, to string, n int, within time.Duration) map[string]any {
	b.t.Helper()
	var p map[string]any
	testenv.Eventually(b.t, within, fmt.Sprintf("%d %s events on payment %s", n, kind, id), func() error {
		p = b.get(id)
		if got := countEvents(p, kind, to); got < n {
			return fmt.Errorf("%d so far; events: %s", got, eventsOf(p))
		}
		return nil
	})
	return p
}

// waitField waits until the payment's field has the value.
func (b *bridge) waitField(id, field string, want any, within time.Duration) map[string]any {
	b.t.Helper()
	var p map[string]any
	testenv.Eventually(b.t, within, fmt.Sprintf("payment %s's %s to be %v", id, field, want), func() error {
		p = b.get(id)
		if p[field] != want {
			return fmt.Errorf("%s is %v; events: %s", field, p[field], eventsOf(p))
		}
		return nil
	})
	return p
}

// settled waits until nothing is left that could still act on the
// payment soon: no gateway notification in flight, no job about it
// waiting, running, or due to retry soon, and a reconciler
// pass that started afterwards has finished, with whatever it enqueued.
// What happened to the payment is then all that will happen, so a test can
// assert that something did not, with no sleep. "Soon" is half a second:
// longer than the worker's 200ms due-task check, which runs the 1ms sync
// retries, shorter than the 1s confirm retry delay. A confirm waiting out
// that delay after the gateway said "not yet" already ran and would only
// ask the gateway again; it is not waited for.
func (b *bridge) settled(t testing.TB, id string) {
	t.Helper()
	b.gw.wait()
	ofPayment := func(ti *asynq.TaskInfo) bool {
		var p jobs.Payload
		return json.Unmarshal(ti.Payload, &p) == nil && p.PaymentID == id && testenv.DueWithin(ti, 500*time.Millisecond)
	}
	testenv.QueueIdle(t, b.app.redis, jobs.Queues, 30*time.Second, ofPayment)
	testenv.PeriodRanAfter(t, b.app.redis, jobs.QueueLow, "reconcile:", time.Now(), 15*time.Second)
	testenv.QueueIdle(t, b.app.redis, jobs.Queues, 30*time.Second, ofPayment)
}

func eventsOf(p map[string]any) string {
	var sb strings.Builder
	evs, _ := p["events"].([]any)
	for _, e := range evs {
		m := e.(map[string]any)
		d, _ := json.Marshal(m["detail"])
		if len(d) > 200 {
			d = append(d[:200], "…"...)
		}
		fmt.Fprintf(&sb, "\n  %v %v %v→%v (%v) %s", m["at"], m["kind"], m["from"], m["to"], m["source"], d)
	}
	return sb.String()
}

// countEvents counts events of a kind (and, for transitions, to a status).
func countEvents(p map[string]any, kind, to string) int {
	n := 0
	evs, _ := p["events"].([]any)
	for _, e := range evs {
		m := e.(map[string]any)
		if m["kind"] == kind && (to == "" || m["to"] == to) {
			n++
		}
	}
	return n
}

// merchant is the merchant's server: it receives callbacks, verifies them
// with its own implementation of Standard Webhooks, and answers what each
// test scripts.
type merchant struct {
	t      testing.TB
	url    string
	secret string
	mu     sync.Mutex
	got    map[string][]delivery // by tag
	script map[string][]int      // statuses to answer, by tag; then 200
}

type delivery struct {
	ID, Timestamp string
	Type          string
	Data          map[string]any
	Refund        map[string]any
	Verified      bool
	Answered      int
}

func newMerchant(t testing.TB) *merchant {
	m := &merchant{t: t, got: map[string][]delivery{}, script: map[string][]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	m.url = "http://" + ln.Addr().String()
	return m
}

// verify checks a Standard Webhooks signature from its spec, independently
// of the bridge's code: HMAC-SHA256 over "id.timestamp.body" keyed with the
// base64-decoded secret, base64 in "v1,<sig>" (several may be listed).
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.Fields(h.Get("webhook-signature")) {
		v, sig, ok := strings.Cut(part, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (m *merchant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tag, ok := strings.CutPrefix(r.URL.Path, "/cb/")
	if !ok {
		fmt.Fprintf(w, "<html><body>merchant page %s</body></html>", r.URL.Path)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var cb struct {
		Type   string         `json:"type"`
		Data   map[string]any `json:"data"`
		Refund map[string]any `json:"refund"`
	}
	_ = json.Unmarshal(body, &cb)
	d := delivery{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"), Type: cb.Type,
		Data: cb.Data, Refund: cb.Refund, Verified: verifyStandardWebhook(m.secret, r.Header, body, time.Now())}
	m.mu.Lock()
	d.Answered = 200
	if s := m.script[tag]; len(s) > 0 {
		d.Answered = s[0]
		if len(s) > 1 || s[0] < 400 || s[0] >= 500 {
			m.script[tag] = s[1:]
		}
	}
	m.got[tag] = append(m.got[tag], d)
	m.mu.Unlock()
	w.WriteHeader(d.Answered)
}

// answer scripts the statuses the merchant answers for tag's callbacks; a
// single 4xx repeats forever.
func (m *merchant) answer(tag string, statuses ...int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.script[tag] = statuses
}

func (m *merchant) deliveries(tag string) []delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]delivery(nil), m.got[tag]...)
}

// waitDeliveries waits until tag has at least n deliveries answered 2xx.
func (m *merchant) waitDelivered(tag string, n int, within time.Duration) []delivery {
	m.t.Helper()
	var ds []delivery
	testenv.Eventually(m.t, within, fmt.Sprintf("%d callbacks delivered for %s", n, tag), func() error {
		ds = m.deliveries(tag)
		ok := 0
		for _, d := range ds {
			if d.Answered < 300 {
				ok++
			}
		}
		if ok < n {
			return fmt.Errorf("%d delivered (attempts: %+v)", ok, ds)
		}
		return nil
	})
	return ds
}

// follow makes the shopper's browser follow a URL the gateway sent it to
// and returns where the bridge sent it next.
func follow(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location")
}

func notifyURL(b *bridge, id string) string { return b.base + "/notify/" + b.gw.name() + "/" + id }

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
