package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"paybridge/internal/jobs"
	"paybridge/internal/upay/upaytest"
)

// TestPayments runs the core's end-to-end scenarios on each backend: the
// embedded default (SQLite + in-process queue) and the production parts
// (PostgreSQL + Redis).
//
// Each bridge owns its database, queue and simulators, so the backends run
// in parallel, and with the other tests of the package; the scenarios of
// one bridge run in turn.
func TestPayments(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			b := startBridge(t, be)
			t.Run("HappyPath", func(t *testing.T) { testHappyPath(t, b) })
			t.Run("DuplicateNotificationsAndReturnRace", func(t *testing.T) { testDuplicates(t, b) })
			t.Run("ForgedNotificationAndReturn", func(t *testing.T) { testForged(t, b) })
			t.Run("MissingNotification", func(t *testing.T) { testMissingNotification(t, b) })
			t.Run("MerchantDown", func(t *testing.T) { testMerchantDown(t, b) })
			t.Run("MerchantRefuses", func(t *testing.T) { testMerchantRefuses(t, b) })
			t.Run("Refunds", func(t *testing.T) { testRefunds(t, b) })
			t.Run("BadInput", func(t *testing.T) { testBadInput(t, b) })
			t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, b) })
			t.Run("Restart", func(t *testing.T) { testRestart(t, b) })
		})
	}
}

// The scenarios below are written once and run for every gateway (b.gw);
// amounts are written in KWD and adapted by the driver (Checkout.com: last
// digit 0; KuPay: USD).

func testHappyPath(t *testing.T, b *bridge) {
	amount, currency := b.gw.amount("12.345")
	p := b.create("happy", amount, currency)
	id := p["id"].(string)
	if p["status"] != "created" || p["amount"] != amount || p["currency"] != currency || p["refunded_amount"] != zeroOf(amount) {
		t.Fatalf("created payment: %v", p)
	}
	if p["pay_url"] != b.base+"/pay/"+id {
		t.Fatalf("pay_url = %v", p["pay_url"])
	}
	// The exact amount reached the gateway in its own format.
	last := b.gw.lastCreate(t)
	if !bytes.Contains(last, []byte(b.gw.charged(amount)+",")) && !bytes.Contains(last, []byte(b.gw.charged(amount)+"}")) ||
		!bytes.Contains(last, []byte(`"currency":"`+currency+`"`)) {
		t.Fatalf("create request sent to %s: %s, want %s", b.gw.name(), last, b.gw.charged(amount))
	}
	if bytes.Contains(last, []byte("?")) {
		t.Fatalf("a URL handed to %s has a query string: %s", b.gw.name(), last)
	}
	_, track := b.visit(p)
	if s := b.get(id)["status"]; s != "redirected" {
		t.Fatalf("after redirect: %v", s)
	}
	ret := b.gw.complete(t, track, outPaid)
	code, loc := follow(t, ret) // the shopper comes back
	if code != http.StatusFound || loc != b.merchant.url+"/thanks/happy" {
		t.Fatalf("return: %d → %q", code, loc)
	}
	got := b.waitStatus(id, "paid", 10*time.Second)
	if got["gateway_reference"] != track || got["amount"] != amount || got["gateway"] != b.gw.name() {
		t.Fatalf("paid payment: %v", got)
	}
	b.merchant.waitDelivered("happy", 1, 10*time.Second)
	b.settled(t, id) // a second callback would have come by now
	ds := b.merchant.deliveries("happy")
	if len(ds) != 1 || ds[0].Type != "payment.paid" || !ds[0].Verified || ds[0].Data["id"] != id || ds[0].Data["amount"] != amount {
		t.Fatalf("callbacks: %+v", ds)
	}
	if n := countEvents(b.get(id), "transition", "paid"); n != 1 {
		t.Fatalf("%d transitions to paid", n)
	}
}

func testDuplicates(t *testing.T, b *bridge) {
	b.gw.setNotify(false, 3)
	defer b.gw.setNotify(false, 1)
	p := b.createFor("dup", "5.000")
	id := p["id"].(string)
	_, track := b.visit(p)
	ret := b.gw.complete(t, track, outPaid)
	var wg sync.WaitGroup
	for range 3 { // the browser's return races the notifications (and a reload)
		wg.Add(1)
		go func() { defer wg.Done(); follow(t, ret) }()
	}
	wg.Wait()
	b.gw.wait()
	b.waitStatus(id, "paid", 10*time.Second)
	b.merchant.waitDelivered("dup", 1, 10*time.Second)
	b.settled(t, id)
	if ds := b.merchant.deliveries("dup"); len(ds) != 1 {
		t.Fatalf("%d callbacks, want 1: %+v", len(ds), ds)
	}
	got := b.get(id)
	if n := countEvents(got, "transition", "paid"); n != 1 {
		t.Fatalf("%d transitions to paid: %s", n, eventsOf(got))
	}
	if n := countEvents(got, "notification", ""); n != 3 {
		t.Fatalf("%d notifications recorded, want 3", n)
	}
}

func testForged(t *testing.T, b *bridge) {
	// A: the shopper is still on the gateway page; someone notifies "paid".
	a := b.createFor("forge-a", "20.000")
	aid := a["id"].(string)
	_, atrack := b.visit(a)
	code, claim := b.gw.forgePaid(t, b, aid, atrack)
	// An unsigned claim is recorded (200); a bad signature is refused (401).
	if want := map[bool]int{true: 200, false: 401}[claim]; code != want {
		t.Fatalf("forged notification answered %d, want %d", code, want)
	}
	if !claim && countEvents(b.get(aid), "signature_invalid", "") != 1 {
		t.Fatalf("no signature_invalid event: %s", eventsOf(b.get(aid)))
	}
	code, loc := follow(t, b.base+"/return/"+aid+"?"+b.gw.forgedReturnQuery(atrack)) // and a forged return
	if code != 200 || loc != "" {
		t.Fatalf("forged return: %d → %q (want the waiting page)", code, loc)
	}
	b.settled(t, aid)
	// Still open: "redirected", or "pending" when the gateway says so.
	if s := b.get(aid)["status"]; s != "redirected" && s != "pending" {
		t.Fatalf("after a forged paid claim with the gateway saying nothing: %v", s)
	}
	// The gateway then says it failed: the payment fails, never pays, and
	// the false claims are recorded.
	b.gw.setTruth(t, atrack, outFailed)
	b.gw.forgePaid(t, b, aid, atrack)
	got := b.waitStatus(aid, "failed", 10*time.Second)
	want := 1 // the forged return
	if claim {
		want++ // and the notification
	}
	if n := countEvents(got, "claim_rejected", ""); n < want {
		t.Fatalf("claim_rejected events: %d, want %d; %s", n, want, eventsOf(got))
	}
	if n := countEvents(got, "transition", "paid"); n != 0 {
		t.Fatal("forged payment was paid")
	}

	// C: a notification naming another, really paid transaction of a
	// different amount and order → C unchanged, mismatch recorded.
	other := b.createFor("forge-other", "1.000")
	_, otrack := b.visit(other)
	b.gw.complete(t, otrack, outPaid)
	b.waitStatus(other["id"].(string), "paid", 10*time.Second)
	c := b.createFor("forge-c", "99.000")
	cid := c["id"].(string)
	b.visit(c)
	b.gw.notifyOther(t, b, cid, otrack)
	b.waitEvents(cid, "binding_mismatch", "", 1, 10*time.Second)
	b.settled(t, cid)
	if s := b.get(cid)["status"]; s != "redirected" && s != "pending" {
		t.Fatalf("payment C is %v after a notification about another transaction", s)
	}
	if ds := b.merchant.deliveries("forge-c"); len(ds) != 0 {
		t.Fatalf("callbacks for C: %+v", ds)
	}
}

func testMissingNotification(t *testing.T, b *bridge) {
	b.gw.setNotify(true, 1)
	defer b.gw.setNotify(false, 1)
	p := b.createFor("missing", "7.250")
	id := p["id"].(string)
	_, track := b.visit(p)
	start := time.Now()
	b.gw.complete(t, track, outPaid)
	// Neither the notification nor the shopper comes back. The reconciler
	// must find it within RECONCILE_INTERVAL (1s) + RECONCILE_AFTER (2s),
	// plus asynq's one-second scheduling granularity and the confirm.
	b.waitStatus(id, "paid", 8*time.Second)
	t.Logf("confirmed by the reconciler %s after payment", time.Since(start).Round(100*time.Millisecond))
	b.merchant.waitDelivered("missing", 1, 10*time.Second)
}

func testMerchantDown(t *testing.T, b *bridge) {
	b.merchant.answer("down", 500, 500, 500, 500, 500)
	p := b.createFor("down", "3.000")
	_, track := b.visit(p)
	ret := b.gw.complete(t, track, outPaid)
	follow(t, ret)
	b.merchant.waitDelivered("down", 1, 30*time.Second)
	b.settled(t, p["id"].(string)) // a seventh attempt would have come by now
	ds := b.merchant.deliveries("down")
	if len(ds) != 6 {
		t.Fatalf("%d attempts, want 5 failures then 1 success: %+v", len(ds), ds)
	}
	for _, d := range ds {
		if d.ID != ds[0].ID || !d.Verified {
			t.Fatalf("attempts must keep one webhook-id and verify: %+v", ds)
		}
	}
	got := b.get(p["id"].(string))
	if n := countEvents(got, "sync_succeeded", ""); n != 1 {
		t.Fatalf("sync_succeeded events: %d", n)
	}
}

func testMerchantRefuses(t *testing.T, b *bridge) {
	b.merchant.answer("refuses", 410) // forever
	p := b.createFor("refuses", "4.000")
	id := p["id"].(string)
	_, track := b.visit(p)
	ret := b.gw.complete(t, track, outPaid)
	follow(t, ret)
	// Archived at once with the reason, and the payment says so.
	b.waitEvents(id, "sync_failed", "", 1, 15*time.Second)
	var out bytes.Buffer
	if err := b.run(t.Context(), []string{"jobs", "archived", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var archived []jobs.ArchivedTask
	if err := json.Unmarshal(out.Bytes(), &archived); err != nil {
		t.Fatalf("jobs archived --json: %q", out.String())
	}
	var found *jobs.ArchivedTask
	for i := range archived {
		if archived[i].PaymentID == id {
			found = &archived[i]
		}
	}
	if found == nil || !strings.Contains(found.LastError, "HTTP 410") {
		t.Fatalf("archived tasks: %+v", archived)
	}
	if n := len(b.merchant.deliveries("refuses")); n != 1 {
		t.Fatalf("a 4xx must not be retried: %d attempts", n)
	}
	// The merchant fixes their endpoint; the operator replays.
	b.merchant.answer("refuses")
	out.Reset()
	if err := b.run(t.Context(), []string{"jobs", "replay", found.Queue, found.ID}, &out); err != nil {
		t.Fatal(err)
	}
	b.merchant.waitDelivered("refuses", 1, 15*time.Second)
	b.waitEvents(id, "sync_succeeded", "", 1, 5*time.Second)
	b.settled(t, id)
	if n := countEvents(b.get(id), "sync_succeeded", ""); n != 1 {
		t.Fatalf("%d sync_succeeded events after replay, want 1: %s", n, eventsOf(b.get(id)))
	}
}

func testRefunds(t *testing.T, b *bridge) {
	p := b.create("refund", "10.000", "KWD")
	id := p["id"].(string)
	// Not paid yet: refused.
	if code, e := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "1.000"}); code != 409 {
		t.Fatalf("refund of an unpaid payment: %d %v", code, e)
	}
	_, track := b.visit(p)
	ret, _ := b.sim.Complete(track, upaytest.Captured)
	follow(t, ret)
	b.waitStatus(id, "paid", 10*time.Second)
	b.merchant.waitDelivered("refund", 1, 10*time.Second)

	code, r := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "0.005", "reason": "one date was missing"})
	if code != 201 || r["amount"] != "0.005" || r["status"] != "pending" || r["payment_id"] != id {
		t.Fatalf("partial refund: %d %v", code, r)
	}
	code, r2 := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "2.000"})
	if code != 201 {
		t.Fatalf("second partial refund: %d %v", code, r2)
	}
	// 10.000 - 0.005 - 2.000 = 7.995 left; 7.996 is too much.
	if code, e := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "7.996"}); code != 422 ||
		e["error"].(map[string]any)["code"] != "refund_exceeds_captured" {
		t.Fatalf("over-refund: %d %v", code, e)
	}
	if code, e := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "0.0001"}); code != 422 {
		t.Fatalf("over-precise refund: %d %v", code, e)
	}
	b.merchant.waitDelivered("refund", 3, 20*time.Second)
	b.waitField(id, "refunded_amount", "2.005", 10*time.Second)
	types := map[string]int{}
	for _, d := range b.merchant.deliveries("refund") {
		types[d.Type]++
		if !d.Verified {
			t.Fatalf("unverified callback %+v", d)
		}
	}
	if types["payment.paid"] != 1 || types["refund.succeeded"] != 2 {
		t.Fatalf("callbacks by type: %v", types)
	}
	// The rest, exactly, is still refundable.
	if code, e := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "7.995"}); code != 201 {
		t.Fatalf("refund of the exact remainder: %d %v", code, e)
	}
}

func testBadInput(t *testing.T, b *bridge) {
	counts := func() int64 {
		m, err := b.app.db.CountPaymentsByStatus(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range m {
			n += v
		}
		return n
	}
	before := counts()
	okAmount, currency := b.gw.amount("1.000")
	valid := func(mod func(m map[string]any)) map[string]any {
		m := b.order("bad", okAmount, currency)
		mod(m)
		return m
	}
	tests := []struct {
		name   string
		body   any
		key    string
		status int
		code   string
	}{
		{"malformed JSON", `{"order_id": "x",`, "", 400, "malformed_json"},
		{"not an object", `[1,2]`, "", 422, "invalid_field"},
		{"empty body", ``, "", 400, "malformed_json"},
		{"trailing data", `{"order_id":"x","amount":"` + okAmount + `","currency":"` + currency + `"} {}`, "", 400, "malformed_json"},
		{"missing order_id", valid(func(m map[string]any) { delete(m, "order_id") }), "", 422, "missing_field"},
		{"missing amount", valid(func(m map[string]any) { delete(m, "amount") }), "", 422, "missing_field"},
		{"missing currency", valid(func(m map[string]any) { delete(m, "currency") }), "", 422, "missing_field"},
		{"unknown currency", valid(func(m map[string]any) { m["currency"] = "KWX" }), "", 422, "unknown_currency"},
		{"negative amount", valid(func(m map[string]any) { m["amount"] = "-1.000" }), "", 422, "invalid_amount"},
		{"zero amount", valid(func(m map[string]any) { m["amount"] = zeroOf(okAmount) }), "", 422, "invalid_field"},
		{"over-precise amount", valid(func(m map[string]any) { m["amount"] = "1.0001" }), "", 422, "amount_too_precise"},
		{"amount as a number", valid(func(m map[string]any) { m["amount"] = 12.345 }), "", 422, "invalid_field"},
		{"exponent amount", valid(func(m map[string]any) { m["amount"] = "1e3" }), "", 422, "invalid_amount"},
		{"unknown field", valid(func(m map[string]any) { m["ammount"] = "1" }), "", 422, "unknown_field"},
		{"bad language", valid(func(m map[string]any) { m["language"] = "fr" }), "", 422, "invalid_field"},
		{"bad callback URL", valid(func(m map[string]any) { m["callback_url"] = "ftp://x" }), "", 422, "invalid_field"},
		{"bad payment method", valid(func(m map[string]any) { m["payment_method"] = "bitcoin" }), "", 422, "unsupported_by_gateway"},
		{"product price in other precision", valid(func(m map[string]any) {
			m["products"] = []any{map[string]any{"name": "x", "price": "1.0000", "quantity": 1}}
		}), "", 422, "amount_too_precise"},
		{"oversized body", `{"order_id":"` + strings.Repeat("x", 2<<20) + `"}`, "", 413, ""},
		{"wrong API key", valid(func(map[string]any) {}), "pbk_wrong", 401, "unauthorized"},
		{"no API key", valid(func(map[string]any) {}), "-", 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if s, ok := tt.body.(string); ok {
				body = []byte(s)
			} else {
				body, _ = json.Marshal(tt.body)
			}
			req, _ := http.NewRequest("POST", b.base+"/api/v1/payments", bytes.NewReader(body))
			switch tt.key {
			case "":
				req.Header.Set("Authorization", "Bearer "+b.apiKey)
			case "-":
			default:
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("%d with a non-JSON body: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tt.status || (tt.code != "" && e.Error.Code != tt.code) || e.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, e.Error, tt.status, tt.code)
			}
		})
	}
	if after := counts(); after != before {
		t.Fatalf("bad requests stored %d payments", after-before)
	}
	// Another shop's payment, or garbage ids, are not found.
	if code, _ := b.do("GET", "/api/v1/payments/pay_doesnotexistdoesnotexist1", nil); code != 404 {
		t.Fatalf("unknown payment: %d", code)
	}
	if code, _ := b.do("GET", "/api/v1/payments/../../etc", nil); code != 404 {
		t.Fatalf("garbage id: %d", code)
	}
}

func testIdempotency(t *testing.T, b *bridge) {
	amount, currency := b.gw.amount("2.500")
	order := b.order("idem", amount, currency)
	code, p1 := b.do("POST", "/api/v1/payments", order)
	if code != 201 {
		t.Fatalf("first: %d %v", code, p1)
	}
	code, p2 := b.do("POST", "/api/v1/payments", order)
	if code != 200 || p2["id"] != p1["id"] {
		t.Fatalf("repeat: %d %v", code, p2)
	}
	order["amount"], _ = b.gw.amount("2.600")
	code, e := b.do("POST", "/api/v1/payments", order)
	if code != 409 || e["error"].(map[string]any)["code"] != "order_conflict" {
		t.Fatalf("same order, other body: %d %v", code, e)
	}
	if b.gw.creates() == 0 {
		t.Fatal("no charges")
	}
}

func testRestart(t *testing.T, b *bridge) {
	p := b.createFor("restart", "8.125")
	id := p["id"].(string)
	_, track := b.visit(p)
	b.stop() // the process dies while the shopper is on the gateway page
	ret := b.gw.complete(t, track, outPaid)
	b.gw.wait() // the notification hit a closed port and is lost
	if st := b.gw.lastNotifyStatus(); st != 0 {
		t.Fatalf("notification reached a stopped bridge: %d", st)
	}
	b.restart()
	b.waitStatus(id, "paid", 10*time.Second)
	b.merchant.waitDelivered("restart", 1, 10*time.Second)
	// The shopper's late return still lands on the merchant's page.
	if code, loc := follow(t, ret); code != 302 || !strings.HasSuffix(loc, "/thanks/restart") {
		t.Fatalf("late return: %d %q", code, loc)
	}
}

// TestSplitRoles runs the production shape: a web process and a worker
// process sharing PostgreSQL and Redis, and a payment completes across them.
func TestSplitRoles(t *testing.T) {
	t.Parallel()
	be := backends[1]
	b := startBridge(t, be) // role all; stop it and run the roles apart
	b.stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	worker, err := b.openApp(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.close()
	worker.jobsCfg.DelayedTaskCheckInterval = 200 * time.Millisecond
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); worker.serve(ctx, "worker", wln) }()
	web, err := b.openApp(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer web.close()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); web.serve(ctx, "web", ln) }()
	waitHealthy(t, b.base)

	p := b.create("split", "6.500", "KWD")
	_, track := b.visit(p)
	ret, _ := b.sim.Complete(track, upaytest.Captured)
	follow(t, ret)
	b.waitStatus(p["id"].(string), "paid", 10*time.Second)
	b.merchant.waitDelivered("split", 1, 10*time.Second)

	// Operations endpoints on the web role.
	resp, err := http.Get(b.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"database":"ok"`) || !strings.Contains(string(body), `"redis":"ok"`) {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
	}
	for _, base := range []string{b.base, "http://" + wln.Addr().String()} {
		resp, err = http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`bridge_payments{status="paid"}`, `bridge_http_requests_total{method="POST",route="/api/v1/payments",status="201"}`,
			`bridge_gateway_request_duration_seconds_count{gateway="upay",op="charge",outcome="ok"}`, `bridge_job_outcomes_total{outcome="ok",task="store:sync"}`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s/metrics lacks %s", base, want)
			}
		}
	}
	// The worker process serves no API.
	resp, err = http.Post("http://"+wln.Addr().String()+"/api/v1/payments", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("worker answered the API: %d", resp.StatusCode)
	}
}
