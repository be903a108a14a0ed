package woocommerce_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/cko/ckotest"
	"paybridge/internal/jobs"
	"paybridge/internal/kupay"
	"paybridge/internal/kupay/kupaytest"
	"paybridge/internal/platforms/woocommerce"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/shopper"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
	"paybridge/internal/upay"
	"paybridge/internal/upay/upaytest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is the real wiring on a real listener: store, queue, worker, core,
// the UPayments, Checkout.com and KuPay adapters against their simulators,
// shopper routes and the WooCommerce platform against the store simulator.
type env struct {
	t     *testing.T
	db    *store.DB
	svc   *checkout.Service
	plat  *woocommerce.Platform
	upay  *upaytest.Server
	cko   *ckotest.Server
	kupay *kupaytest.Server
	wc    *woocommercetest.Server
	opt   asynq.RedisConnOpt // the job queue's server
	base  string
	// happyOrder is the order the happy path paid, which later subtests
	// refund and re-sync; 0 until then.
	happyOrder int64
	shop       *checkout.Shop
	jar        http.CookieJar
}

var noRedirect = &http.Client{Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func startEnv(t *testing.T, dsn, redisAddr string) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kr, err := secrets.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dsn, kr)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var opt asynq.RedisConnOpt
	if redisAddr == "" {
		e, err := jobs.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		opt = asynq.RedisClientOpt{Addr: e.Addr()}
	} else {
		opt = asynq.RedisClientOpt{Addr: redisAddr}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	jcfg := jobs.Config{ReconcileInterval: time.Second, SyncRetryDelays: []time.Duration{time.Second},
		RefundRetryDelays: []time.Duration{time.Second}, DelayedTaskCheckInterval: 200 * time.Millisecond, TaskCheckInterval: 100 * time.Millisecond, Logger: log}
	q := jobs.NewQueue(opt, jcfg)
	svc := checkout.NewService(db, q, checkout.Config{PublicURL: base, ReconcileAfter: 2 * time.Second, AllowInsecureURLs: true, Logger: log})
	up := upaytest.NewServer()
	svc.RegisterGateway(upay.New(upay.Config{SandboxURL: up.APIBase()}))
	ck := ckotest.NewServer()
	// The account's webhook workflow posts to the bridge's notify route.
	ck.SetWebhookURL(func(_, reference string) string { return base + "/notify/cko/" + reference })
	svc.RegisterGateway(cko.New(cko.Config{SandboxURL: ck.URL}))
	ku := kupaytest.NewServer()
	svc.RegisterGateway(kupay.New(kupay.Config{BaseURL: ku.URL}))
	plat := woocommerce.New(svc, db, woocommerce.Config{PublicURL: base, AllowInsecureURLs: true, RefundWait: 5 * time.Second, Logger: log})
	svc.RegisterSyncer(checkout.PlatformWooCommerce, plat)
	w := jobs.NewWorker(opt, svc, jcfg)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Logger: log, Production: true})
	srv.Mount(shopper.New(svc, shopper.Config{PublicURL: base}))
	srv.Mount(plat)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	wc := woocommercetest.NewServer()
	wc.AllowHTTPCallback = true
	jar, _ := cookiejar.New(nil)
	e := &env{t: t, db: db, svc: svc, plat: plat, upay: up, cko: ck, kupay: ku, wc: wc, opt: opt, base: base, jar: jar}
	t.Cleanup(func() {
		cancel()
		<-done
		plat.Wait()
		w.Shutdown()
		q.Close()
		wc.Close()
		up.Close()
		ck.Close()
		ku.Close()
		db.Close()
	})
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) browser() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Jar: e.jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	testenv.EventuallyTrue(t, within, what, ok)
}

// settled waits until nothing is left that could still change an order:
// no gateway notification in flight, no background work of the platform
// (notes), no job waiting, running or due within 3s (longer than the 1s
// sync and refund retry delays, shorter than the 5s confirm one: a confirm
// waiting out that delay already ran and would only ask the gateway
// again), and a reconciler pass that started afterwards has finished, with
// whatever it enqueued. What the store was told is then all it will be
// told, so a test can assert that a duplicate did not land, with no sleep.
func (e *env) settled() {
	e.t.Helper()
	e.upay.Wait()
	e.cko.Wait()
	e.kupay.Wait()
	e.plat.Wait()
	work := func(ti *asynq.TaskInfo) bool {
		return ti.Type != jobs.TypeReconcile && testenv.DueWithin(ti, 3*time.Second)
	}
	testenv.QueueIdle(e.t, e.opt, jobs.Queues, 30*time.Second, work)
	testenv.PeriodRanAfter(e.t, e.opt, jobs.QueueLow, "reconcile:", time.Now(), 15*time.Second)
	testenv.QueueIdle(e.t, e.opt, jobs.Queues, 30*time.Second, work)
	e.plat.Wait()
}

// connect runs wc-auth the way a merchant does with a UPayments account:
// the connect form, the store's grant screen, Approve, and back.
func (e *env) connect() {
	e.t.Helper()
	e.connectWith("upay", map[string]string{"api_key": upaytest.DefaultKey})
}

// connectForm is the connect form's fields for a sandbox account at
// gateway with creds.
func connectForm(storeURL, gateway string, creds map[string]string) url.Values {
	form := url.Values{"store_url": {storeURL}, "gateway": {gateway}, "sandbox": {"1"}}
	for k, v := range creds {
		form.Set("cred."+gateway+"."+k, v)
	}
	return form
}

// connectWith runs wc-auth for e.wc with an account at gateway.
func (e *env) connectWith(gateway string, creds map[string]string) {
	t := e.t
	t.Helper()
	br := e.browser()
	resp, err := br.PostForm(e.base+"/woocommerce/connect", connectForm(e.wc.Base(), gateway, creds))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	auth := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(auth, e.wc.Base()+"/wc-auth/v1/authorize?") {
		t.Fatalf("connect: %d → %q", resp.StatusCode, auth)
	}
	u, _ := url.Parse(auth)
	if q := u.Query(); q.Get("scope") != "read_write" || q.Get("callback_url") != e.base+"/woocommerce/auth/callback" || len(q.Get("user_id")) < 32 {
		t.Fatalf("authorize URL %s", auth)
	}
	if code, _, body := get(t, br, auth); code != 200 || !strings.Contains(body, "Approve") {
		t.Fatalf("grant screen: %d %s", code, body)
	}
	code, ret, body := get(t, br, woocommercetest.ApproveURL(auth))
	if code != http.StatusFound || !strings.Contains(ret, "success=1") {
		t.Fatalf("approve: %d → %q %s", code, ret, body)
	}
	// The same state cannot deliver keys twice.
	replay, _ := http.Post(e.base+"/woocommerce/auth/callback", "application/json",
		strings.NewReader(`{"key_id":9,"user_id":"`+u.Query().Get("user_id")+`","consumer_key":"ck_x","consumer_secret":"cs_x","key_permissions":"read_write"}`))
	replay.Body.Close()
	if replay.StatusCode == 200 {
		t.Fatal("a used state was accepted again")
	}
	// The merchant's page says connected once the store accepted the keys
	// and the webhook is registered (on a reconnect, once they went to the
	// store's shop).
	var page string
	waitFor(t, 10*time.Second, "the return page to say connected", func() bool {
		_, _, page = get(t, br, ret)
		return strings.Contains(page, "Your store is connected")
	})
	shop, err := e.db.ShopByDomain(context.Background(), checkout.PlatformWooCommerce, e.wc.Base())
	if err != nil || shop.Settings[woocommerce.SettingStatus] != "connected" {
		t.Fatalf("shop: %v %v", err, shop)
	}
	e.shop = shop
	if shop.Secrets[woocommerce.SecretConsumerKey] == "" || shop.Secrets[woocommerce.SecretPlugin] == "" {
		t.Fatal("keys or plugin secret missing")
	}
	if g := shop.Gateway; g.Gateway != gateway || !g.Sandbox || len(g.Credentials) != len(creds) {
		t.Fatalf("gateway account %s sandbox=%v with %d credentials, want %s with %d", g.Gateway, g.Sandbox, len(g.Credentials), gateway, len(creds))
	}
	for k, v := range creds {
		if shop.Gateway.Credentials[k] != v {
			t.Fatalf("credential %s not stored", k)
		}
	}
	// The merchant's browser sees the plugin settings; another does not.
	if !strings.Contains(page, shop.ID) || !strings.Contains(page, shop.Secrets[woocommerce.SecretPlugin]) {
		t.Fatalf("return page lacks the plugin settings: %s", page)
	}
	if _, _, other := get(t, noRedirect, ret); strings.Contains(other, shop.Secrets[woocommerce.SecretPlugin]) {
		t.Fatal("another browser sees the shared secret")
	}
	pings := e.wc.Pings()
	if len(pings) != 1 || !strings.HasSuffix(pings[0], "→ 200") {
		t.Fatalf("webhook pings: %v", pings)
	}
}

// link is the plugin's pay link (the PHP test shows the plugin builds the
// same signature).
func (e *env) link(orderID int64, key, sigKey string) string {
	id := strconv.FormatInt(orderID, 10)
	ret := e.wc.Base() + "/checkout/order-received/" + id + "/?key=" + key
	sig := woocommerce.PaySignature(e.shop.Secrets[woocommerce.SecretPlugin], e.shop.ID, id, sigKey, ret)
	return e.base + "/woocommerce/pay/" + e.shop.ID + "/" + id + "?" + url.Values{"key": {key}, "return": {ret}, "sig": {sig}}.Encode()
}

// pay follows the pay link and returns the gateway's track id.
func (e *env) pay(link string) string {
	e.t.Helper()
	code, loc, body := get(e.t, noRedirect, link)
	if code != http.StatusFound || !strings.HasPrefix(loc, e.upay.URL+"/pay/") {
		e.t.Fatalf("pay link: %d → %q %s", code, loc, body)
	}
	return strings.TrimPrefix(loc, e.upay.URL+"/pay/")
}

func (e *env) waitOrder(id int64, status string, within time.Duration) map[string]any {
	e.t.Helper()
	var o map[string]any
	waitFor(e.t, within, "order "+strconv.FormatInt(id, 10)+" to be "+status, func() bool {
		o = e.wc.Order(id)
		return o["status"] == status
	})
	return o
}

const ourNotes = "[paybridge pay_"

func TestWooCommerce(t *testing.T) {
	t.Parallel()
	e := startEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "bridge.db"), "")
	e.connect()
	t.Run("HappyPath", func(t *testing.T) { testHappyPath(t, e) })
	t.Run("Refusals", func(t *testing.T) { testRefusals(t, e) })
	t.Run("StoreDown", func(t *testing.T) { testStoreDown(t, e) })
	t.Run("PaidAfterCancel", func(t *testing.T) { testPaidAfterCancel(t, e) })
	t.Run("Refunds", func(t *testing.T) { testRefunds(t, e) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, e) })
	t.Run("FailedThenPaid", func(t *testing.T) { testFailedThenPaid(t, e) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, e) })
	t.Run("SyncIdempotent", func(t *testing.T) { testSyncIdempotent(t, e) })
	t.Run("AddShop", func(t *testing.T) { testAddShop(t, e) })
	t.Run("StoreSideChanges", func(t *testing.T) { testStoreSideChanges(t, e) })
	t.Run("Choices", func(t *testing.T) { testChoices(t, e) })
	t.Run("SendLink", func(t *testing.T) { testSendLink(t, e) })
	t.Run("Gateways", func(t *testing.T) { testGateways(t, e) })
	t.Run("Reconnect", func(t *testing.T) { testReconnect(t, e) })
	t.Run("ForgedCallback", func(t *testing.T) { testForgedCallback(t, e) })
	t.Run("ShowAgain", func(t *testing.T) { testShowAgain(t, e) })
	t.Run("ReturnPages", func(t *testing.T) { testReturnPages(t, e) })
}

// TestWooCommercePostgresRedis runs the happy path on the production parts.
func TestWooCommercePostgresRedis(t *testing.T) {
	t.Parallel()
	e := startEnv(t, testenv.PostgresURL(t), testenv.RedisAddr(t))
	e.connect()
	testHappyPath(t, e)
}

func testHappyPath(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "12.345",
		Items: []woocommercetest.Item{{Name: "Dates box", Quantity: 3, Total: "12.345"}}})
	link := e.link(id, key, key)
	track := e.pay(link)
	charges := len(e.upay.Charges())
	if last := e.upay.Charges()[charges-1]; !bytes.Contains(last, []byte(`"amount":12.345`)) || !bytes.Contains(last, []byte(`"src":"woocommerce"`)) {
		t.Fatalf("charge: %s", last)
	}
	if again := e.pay(link); again != track || len(e.upay.Charges()) != charges {
		t.Fatalf("second click: track %s (first %s), charges %d → %d", again, track, charges, len(e.upay.Charges()))
	}
	ret, err := e.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	code, loc, _ := get(t, noRedirect, ret)
	want := e.wc.Base() + "/checkout/order-received/" + strconv.FormatInt(id, 10) + "/?key=" + key
	if code != http.StatusFound || loc != want {
		t.Fatalf("return: %d → %q, want %q", code, loc, want)
	}
	o := e.waitOrder(id, "processing", 15*time.Second)
	if o["transaction_id"] == "" || o["date_paid"] == nil {
		t.Fatalf("paid order: transaction_id %v date_paid %v", o["transaction_id"], o["date_paid"])
	}
	waitFor(t, 10*time.Second, "our note", func() bool { return e.wc.NotesContaining(id, ourNotes) == 1 })
	e.settled() // a duplicate would have landed by now
	if n := e.wc.NotesContaining(id, ourNotes); n != 1 {
		t.Fatalf("%d paybridge notes, want 1: %+v", n, e.wc.Notes(id))
	}
	e.happyOrder = id
}

func testRefusals(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "5.500"})
	good := e.link(id, key, key)
	tampered := strings.Replace(good, "sig=", "sig=0", 1)
	wrongKeyID, _ := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "5.500"})
	wrongKey := e.link(wrongKeyID, "wc_order_guess", "wc_order_guess") // validly signed, wrong key
	cases := []struct {
		name, link string
		status     int
		heading    string
	}{
		{"tampered sig", tampered, http.StatusForbidden, "This payment link is not valid"},
		{"tampered order id", strings.Replace(good, "/"+strconv.FormatInt(id, 10)+"?", "/"+strconv.FormatInt(wrongKeyID, 10)+"?", 1), http.StatusForbidden, "This payment link is not valid"},
		{"wrong order key", wrongKey, http.StatusForbidden, "This payment link is not valid"},
	}
	if e.happyOrder != 0 {
		o := e.wc.Order(e.happyOrder)
		cases = append(cases, struct {
			name, link string
			status     int
			heading    string
		}{"already paid", e.link(e.happyOrder, o["order_key"].(string), o["order_key"].(string)), http.StatusConflict, "This order is already paid"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.upay.Charges())
			code, _, body := get(t, noRedirect, c.link)
			if code != c.status || !strings.Contains(body, c.heading) {
				t.Fatalf("%d, want %d with %q: %s", code, c.status, c.heading, body)
			}
			if n := len(e.upay.Charges()); n != before {
				t.Fatalf("the gateway was called (%d → %d charges)", before, n)
			}
		})
	}
	t.Run("changed total", func(t *testing.T) {
		e.pay(good)
		before := len(e.upay.Charges())
		e.wc.SetTotal(id, "6.500")
		code, _, body := get(t, noRedirect, good)
		if code != http.StatusConflict || !strings.Contains(body, "The order total has changed") {
			t.Fatalf("%d %s", code, body)
		}
		if n := len(e.upay.Charges()); n != before {
			t.Fatalf("the gateway was called (%d → %d charges)", before, n)
		}
	})
	t.Run("arabic", func(t *testing.T) {
		code, _, body := get(t, noRedirect, tampered+"&lang=ar")
		if code != http.StatusForbidden || !strings.Contains(body, "رابط الدفع هذا غير صالح") || !strings.Contains(body, `dir="rtl"`) {
			t.Fatalf("%d %s", code, body)
		}
	})
}

func testStoreDown(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "3.000"})
	track := e.pay(e.link(id, key, key))
	e.wc.SetDown(4 * time.Second)
	ret, err := e.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	get(t, noRedirect, ret)
	waitFor(t, 3*time.Second, "a sync attempt to hit the 503", func() bool { return e.wc.Down503s() > 0 })
	if s := e.wc.Order(id)["status"]; s != "pending" {
		t.Fatalf("order is %v while the store is down", s)
	}
	e.waitOrder(id, "processing", 25*time.Second)
	waitFor(t, 10*time.Second, "our note", func() bool { return e.wc.NotesContaining(id, ourNotes) == 1 })
	e.settled()
	if n := e.wc.NotesContaining(id, ourNotes); n != 1 {
		t.Fatalf("%d paybridge notes, want 1", n)
	}
}

func testPaidAfterCancel(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "7.250"})
	track := e.pay(e.link(id, key, key))
	// The hold-stock timer runs with the order past its limit.
	if n := e.wc.CancelUnpaid(0); n == 0 {
		t.Fatal("the unpaid-order timer cancelled nothing")
	}
	if s := e.wc.Order(id)["status"]; s != "cancelled" {
		t.Fatalf("order is %v", s)
	}
	ret, err := e.upay.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	get(t, noRedirect, ret)
	o := e.waitOrder(id, "processing", 15*time.Second)
	waitFor(t, 10*time.Second, "the late-payment note", func() bool { return e.wc.NotesContaining(id, "paid after cancellation") == 1 })
	flagged := false
	for _, m := range o["meta_data"].([]any) {
		mm := m.(map[string]any)
		if mm["key"] == woocommerce.MetaAttention && mm["value"] == "paid_after_cancel" {
			flagged = true
		}
	}
	if !flagged || o["transaction_id"] == "" {
		t.Fatalf("order not flagged: %v", o["meta_data"])
	}
	e.settled()
	if n := e.wc.NotesContaining(id, ourNotes); n != 1 {
		t.Fatalf("%d paybridge notes, want 1", n)
	}
}

func (e *env) refund(orderID int64, amount, refundID string, secret string) (int, string) {
	e.t.Helper()
	body := []byte(`{"order_id":"` + strconv.FormatInt(orderID, 10) + `","amount":"` + amount + `","reason":"damaged","refund_id":"` + refundID + `"}`)
	ts := time.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/woocommerce/refunds/"+e.shop.ID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Paybridge-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Paybridge-Signature", woocommerce.RefundSignature(secret, e.shop.ID, ts, body))
	resp, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func testRefunds(t *testing.T, e *env) {
	if e.happyOrder == 0 {
		t.Skip("needs the happy path's order")
	}
	secret := e.shop.Secrets[woocommerce.SecretPlugin]
	if code, body := e.refund(e.happyOrder, "2.000", "501", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("badly signed refund: %d %s", code, body)
	}
	// 200 succeeded when the gateway answers within RefundWait, else 202
	// pending (the plugin then tells the merchant the note will follow).
	code, body := e.refund(e.happyOrder, "2.000", "501", secret)
	if (code != http.StatusOK || !strings.Contains(body, `"status":"succeeded"`)) && (code != http.StatusAccepted || !strings.Contains(body, `"status":"pending"`)) {
		t.Fatalf("refund: %d %s", code, body)
	}
	refundID := body[strings.Index(body, `"refund_id":"`)+13:]
	refundID = refundID[:strings.Index(refundID, `"`)]
	// The plugin retrying the same WooCommerce refund gets the same refund.
	if code, again := e.refund(e.happyOrder, "2.000", "501", secret); code >= 300 || !strings.Contains(again, refundID) {
		t.Fatalf("repeat: %d %s (first %s)", code, again, body)
	}
	waitFor(t, 10*time.Second, "the refund note", func() bool { return e.wc.NotesContaining(e.happyOrder, "Refund of 2.000 KWD completed") == 1 })
	if code, body := e.refund(e.happyOrder, "10.346", "502", secret); code != http.StatusUnprocessableEntity || !strings.Contains(body, "refund_exceeds_captured") {
		t.Fatalf("over-refund: %d %s", code, body)
	}
	e.settled()
	if n := e.wc.NotesContaining(e.happyOrder, "[paybridge ref_"); n != 1 {
		t.Fatalf("%d refund notes, want 1", n)
	}
}

func testWebhooks(t *testing.T, e *env) {
	hook := e.base + "/woocommerce/webhooks/" + e.shop.ID
	// Deliveries the store made so far were signed and accepted.
	ds := e.wc.Deliveries()
	if len(ds) == 0 {
		t.Fatal("no webhook deliveries")
	}
	for _, d := range ds {
		if d.Status != 200 {
			t.Fatalf("delivery answered %d", d.Status)
		}
	}
	body := ds[len(ds)-1].Body
	sig := ds[len(ds)-1].Header.Get("X-WC-Webhook-Signature")
	post := func(b []byte, h map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(b))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	altered := bytes.Clone(body)
	altered[len(altered)/2] ^= 1
	for name, c := range map[string]struct {
		body []byte
		h    map[string]string
		want int
	}{
		"ping":           {[]byte("webhook_id=42"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 200},
		"replayed":       {body, map[string]string{"X-WC-Webhook-Signature": sig, "X-WC-Webhook-Topic": "order.updated"}, 200},
		"altered 1 byte": {altered, map[string]string{"X-WC-Webhook-Signature": sig, "X-WC-Webhook-Topic": "order.updated"}, 401},
		"unsigned order": {body, map[string]string{"X-WC-Webhook-Topic": "order.updated"}, 401},
	} {
		if got := post(c.body, c.h); got != c.want {
			t.Errorf("%s: %d, want %d", name, got, c.want)
		}
	}
	// WooCommerce disabled our webhook after failures: the reconciler's
	// check re-activates it.
	var id int64
	for wid := range e.wc.WebhookStatuses() {
		id = wid
	}
	e.wc.SetWebhookStatus(id, "disabled")
	if err := e.plat.CheckWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := e.wc.WebhookStatuses(); st[id] != "active" || len(st) != 1 {
		t.Fatalf("webhooks after CheckWebhooks: %v", st)
	}
}

func testFailedThenPaid(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "4.000"})
	link := e.link(id, key, key)
	first := e.pay(link)
	ret, err := e.upay.Complete(first, upaytest.NotCaptured)
	if err != nil {
		t.Fatal(err)
	}
	code, loc, _ := get(t, noRedirect, ret)
	if code != http.StatusFound || !strings.Contains(loc, "/checkout/order-pay/"+strconv.FormatInt(id, 10)+"/") ||
		!strings.Contains(loc, "paybridge_result=failed") {
		t.Fatalf("failed return: %d → %q", code, loc)
	}
	// The plugin, on the pay page the shopper lands on, says the payment
	// was declined, in the store's language.
	if notice, _ := woocommerce.PluginNotice(t, loc, "ar-mo", "pay"); notice != "error: "+woocommerce.ResultNotices["failed"].Ar {
		t.Errorf("the plugin's notice after the decline: %q", notice)
	}
	e.waitOrder(id, "failed", 15*time.Second)
	waitFor(t, 10*time.Second, "the failure note", func() bool { return e.wc.NotesContaining(id, ourNotes) == 1 })
	// The shopper tries again from the pay page: a new attempt.
	second := e.pay(link)
	if second == first {
		t.Fatal("a failed attempt was reused")
	}
	ret, err = e.upay.Complete(second, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	get(t, noRedirect, ret)
	o := e.waitOrder(id, "processing", 15*time.Second)
	if o["date_paid"] == nil {
		t.Fatal("no date_paid")
	}
	waitFor(t, 10*time.Second, "the payment note", func() bool { return e.wc.NotesContaining(id, ourNotes) == 2 })
}

func testCanceled(t *testing.T, e *env) {
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "1.500"})
	track := e.pay(e.link(id, key, key))
	ret, err := e.upay.Complete(track, upaytest.Canceled)
	if err != nil {
		t.Fatal(err)
	}
	code, loc, _ := get(t, noRedirect, ret)
	if code != http.StatusFound || !strings.Contains(loc, "/checkout/order-pay/") || !strings.Contains(loc, "paybridge_result=canceled") {
		t.Fatalf("cancel return: %d → %q", code, loc)
	}
	if notice, _ := woocommerce.PluginNotice(t, loc, "en", "pay"); notice != "notice: "+woocommerce.ResultNotices["canceled"].En {
		t.Errorf("the plugin's notice after the cancel: %q", notice)
	}
	waitFor(t, 10*time.Second, "the cancel note", func() bool { return e.wc.NotesContaining(id, "cancelled the payment") == 1 })
	if s := e.wc.Order(id)["status"]; s != "pending" {
		t.Fatalf("order is %v after the shopper cancelled, want pending", s)
	}
}

// testSyncIdempotent runs the syncer again on a synced payment: no second
// PUT, no second note. A revoked key is a permanent error.
func testSyncIdempotent(t *testing.T, e *env) {
	if e.happyOrder == 0 {
		t.Skip("needs the happy path's order")
	}
	ctx := context.Background()
	pay, err := e.db.PaymentByOrder(ctx, e.shop.ID, strconv.FormatInt(e.happyOrder, 10))
	if err != nil {
		t.Fatal(err)
	}
	puts, notes := e.wc.OrderUpdates(), len(e.wc.Notes(e.happyOrder))
	for range 2 {
		if err := e.plat.SyncPayment(ctx, e.shop, pay); err != nil {
			t.Fatal(err)
		}
	}
	if e.wc.OrderUpdates() != puts || len(e.wc.Notes(e.happyOrder)) != notes {
		t.Fatalf("re-sync wrote: PUTs %d → %d, notes %d → %d", puts, e.wc.OrderUpdates(), notes, len(e.wc.Notes(e.happyOrder)))
	}
	revoked := *e.shop
	revoked.Secrets = map[string]string{woocommerce.SecretConsumerKey: e.shop.Secrets[woocommerce.SecretConsumerKey], woocommerce.SecretConsumerSecret: "cs_revoked"}
	if err := e.plat.SyncPayment(ctx, &revoked, pay); !checkout.IsPermanent(err) {
		t.Fatalf("revoked key: %v, want a permanent error", err)
	}
}

func testAddShop(t *testing.T, e *env) {
	ctx := context.Background()
	other := woocommercetest.NewServer()
	defer other.Close()
	ck, cs := other.NewKeys()
	cfg := woocommerce.Config{PublicURL: e.base, AllowInsecureURLs: true}
	params := woocommerce.AddShopParams{StoreURL: other.Base() + "/", ConsumerKey: ck, ConsumerSecret: "cs_wrong",
		Account: checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": upaytest.DefaultKey}}}
	if _, err := woocommerce.AddShop(ctx, e.db, cfg, params); err == nil {
		t.Fatal("bad keys accepted")
	}
	params.ConsumerSecret = cs
	shop, err := woocommerce.AddShop(ctx, e.db, cfg, params)
	if err != nil {
		t.Fatal(err)
	}
	if shop.Domain != other.Base() || shop.Settings[woocommerce.SettingStatus] != "connected" {
		t.Fatalf("shop: %+v", shop.Settings)
	}
	if st := other.WebhookStatuses(); len(st) != 1 {
		t.Fatalf("webhooks: %v", st)
	}
	if ps := woocommerce.PluginSettingsFor(e.base, shop); ps.ShopID != shop.ID || len(ps.SharedSecret) != 48 {
		t.Fatalf("plugin settings: %+v", ps)
	}
	if _, err := woocommerce.AddShop(ctx, e.db, cfg, params); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("second add: %v", err)
	}
}

// testStoreSideChanges: order.updated webhooks tell the bridge about a
// cancellation or a refund made in the store, recorded on the payment.
func testStoreSideChanges(t *testing.T, e *env) {
	if e.happyOrder == 0 {
		t.Skip("needs the happy path's order")
	}
	ctx := context.Background()
	e.wc.AddRefund(e.happyOrder, "1.000", "goodwill")
	waitFor(t, 5*time.Second, "the store refund on the payment", func() bool {
		p, err := e.db.PaymentByOrder(ctx, e.shop.ID, strconv.FormatInt(e.happyOrder, 10))
		return err == nil && p.Metadata["wc_refunded"] == "1.000"
	})
	id, key := e.wc.AddOrder(woocommercetest.OrderSpec{Currency: "KWD", Total: "2.000"})
	e.pay(e.link(id, key, key))
	e.wc.SetStatus(id, "cancelled")
	waitFor(t, 5*time.Second, "the store cancellation on the payment", func() bool {
		p, err := e.db.PaymentByOrder(ctx, e.shop.ID, strconv.FormatInt(id, 10))
		return err == nil && p.Metadata["wc_status"] == "cancelled"
	})
}

// testReconnect: wc-auth again for a store that is connected keeps the
// shop (id, secrets, payments) and swaps in the new keys.
func testReconnect(t *testing.T, e *env) {
	before := e.shop
	e.jar, _ = cookiejar.New(nil)
	e.connect()
	if e.shop.ID != before.ID || e.shop.Secrets[woocommerce.SecretPlugin] != before.Secrets[woocommerce.SecretPlugin] {
		t.Fatalf("reconnect made another shop: %s → %s", before.ID, e.shop.ID)
	}
	if e.shop.Secrets[woocommerce.SecretConsumerKey] == before.Secrets[woocommerce.SecretConsumerKey] {
		t.Fatal("keys not replaced")
	}
	testHappyPath(t, e) // the new keys work
}
