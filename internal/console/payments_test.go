package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/jobs"
	"paybridge/internal/upay/upaytest"
)

// An operator finds payments by each field and pages through them.
func TestSearch(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		a, bShop := e.shop("shop_a"), e.shop("shop_b")
		e.user("ops@example.com", "")
		e.user("m@example.com", "shop_a")
		p1, _ := e.pay(a, "order-1", "1.000")
		p2 := e.paid(a, "order-2", "2.500")
		p3, _ := e.pay(bShop, "order-3", "3.000")
		ops := e.browser()
		ops.login("ops@example.com")
		has := func(r resp, in, out []string) {
			t.Helper()
			if r.status != http.StatusOK {
				t.Fatalf("status %d\n%s", r.status, r.body)
			}
			for _, id := range in {
				if !strings.Contains(r.body, link(id)) {
					t.Errorf("page lacks %s", id)
				}
			}
			for _, id := range out {
				if strings.Contains(r.body, link(id)) {
					t.Errorf("page shows %s", id)
				}
			}
		}
		has(ops.get("/admin/payments"), []string{p1.ID, p2.ID, p3.ID, "2.500 KWD", "Shop B"}, nil)
		has(ops.get("/admin/payments?q=order-2"), []string{p2.ID}, []string{p1.ID, p3.ID})
		has(ops.get("/admin/payments?q="+p3.ID), []string{p3.ID}, []string{p1.ID, p2.ID})
		has(ops.get("/admin/payments?q="+url.QueryEscape(p1.GatewayRef)), []string{p1.ID}, []string{p2.ID, p3.ID})
		has(ops.get("/admin/payments?status=paid"), []string{p2.ID}, []string{p1.ID, p3.ID})
		has(ops.get("/admin/payments?shop=shop_b"), []string{p3.ID}, []string{p1.ID, p2.ID})
		day := p1.CreatedAt.UTC().Format("2006-01-02")
		has(ops.get("/admin/payments?from="+day+"&to="+day), []string{p1.ID, p2.ID, p3.ID}, nil)
		has(ops.get("/admin/payments?from=2000-01-01&to=2000-01-02"), []string{"No payment matches"}, []string{p1.ID})
		if r := ops.get("/admin/payments?from=yesterday"); !strings.Contains(r.body, "Write dates as") {
			t.Errorf("a bad date is not explained")
		}
		// A merchant sees their shop only, whatever the query says.
		m := e.browser()
		m.login("m@example.com")
		has(m.get("/admin/payments"), []string{p1.ID, p2.ID}, []string{p3.ID, "Shop B"})
		has(m.get("/admin/payments?shop=shop_b"), []string{p1.ID}, []string{p3.ID})
		has(m.get("/admin/payments?q="+p3.ID), nil, []string{p3.ID})
	})
}

func TestPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, stacks[0], nil)
	a := e.shop("shop_a")
	e.user("ops@example.com", "")
	var ids []string
	for i := range PageSize + 3 {
		p, _ := e.pay(a, "o-"+string(rune('A'+i/26))+string(rune('a'+i%26)), "1.000")
		ids = append(ids, p.ID)
	}
	b := e.browser()
	b.login("ops@example.com")
	seen := map[string]bool{}
	path := "/admin/payments"
	for pages := 0; path != "" && pages < 5; pages++ {
		r := b.get(path)
		for _, id := range ids {
			if strings.Contains(r.body, link(id)) {
				if seen[id] {
					t.Fatalf("%s on two pages (page %d, %s)", id, pages, path)
				}
				seen[id] = true
			}
		}
		path = ""
		if i := strings.Index(r.body, `class="button" href="/admin/payments?after=`); i >= 0 {
			rest := r.body[i+len(`class="button" href="`):]
			path = strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("paging showed %d of %d payments", len(seen), len(ids))
	}
}

// The payment page tells the whole story, secrets redacted, and its
// buttons act through the core, each leaving an event that names the user.
func TestPaymentPageAndActions(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		a := e.shop("shop_a")
		e.user("ops@example.com", "")
		p, track := e.pay(a, "order-7", "7.250")
		if err := e.svc.RecordEvents(e.ctx(), checkout.Event{PaymentID: p.ID, Kind: "note", Source: "test",
			Detail: json.RawMessage(`{"gateway_answer":"{\"api_key\":\"sk_live_123456\",\"result\":\"ok\"}","error":"Authorization: Bearer abcdefghijkl"}`)}); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.login("ops@example.com")
		page := "/admin/payments/" + p.ID
		r := b.get(page)
		for _, want := range []string{"7.250 KWD", "order-7", "At the gateway", "charge_created", "created → redirected", p.GatewayRef, "[redacted]", "Only a paid payment can be refunded"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("payment page lacks %q", want)
			}
		}
		for _, secret := range []string{"sk_live_123456", "abcdefghijkl"} {
			if strings.Contains(r.body, secret) {
				t.Errorf("payment page shows the secret %s", secret)
			}
		}
		// The shopper paid; the notification was lost. Re-check finds it.
		if _, err := e.sim.Complete(track, upaytest.Captured); err != nil {
			t.Fatal(err)
		}
		r = b.post(page, page+"/recheck", nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != page+"?notice=n_rechecked" {
			t.Fatalf("recheck: %d %q", r.status, r.header.Get("Location"))
		}
		if got, _ := e.db.Payment(e.ctx(), p.ID); got.Status != checkout.StatusPaid {
			t.Fatalf("after recheck: %s", got.Status)
		}
		if r = b.get(r.header.Get("Location")); !strings.Contains(r.body, "The gateway was asked again") || !strings.Contains(r.body, "Paid") {
			t.Errorf("after recheck the page says:\n%s", r.body)
		}
		// Send to the store: the callback answers 500, then 200.
		e.callbackMu.Lock()
		e.callbackStatus = http.StatusInternalServerError
		e.callbackMu.Unlock()
		r = b.post(page, page+"/resync", nil)
		if r.header.Get("Location") != page+"?problem=e_sync" {
			t.Fatalf("resync to a failing store: %q", r.header.Get("Location"))
		}
		if r = b.get(page); !strings.Contains(r.body, "answered HTTP 500") {
			t.Errorf("the failed store answer is not shown")
		}
		if !strings.Contains(r.body, "Store update attempt failed") || !strings.Contains(r.body, checkout.EventSyncAttemptFailed) {
			t.Errorf("the failed attempt is not among the store updates")
		}
		e.callbackMu.Lock()
		e.callbackStatus = http.StatusOK
		e.callbackMu.Unlock()
		r = b.post(page, page+"/resync", nil)
		if r.header.Get("Location") != page+"?notice=n_resynced" {
			t.Fatalf("resync: %q\n%s", r.header.Get("Location"), e.consoleActions(p.ID))
		}
		if got, _ := e.db.Payment(e.ctx(), p.ID); got.SyncState != checkout.SyncDone {
			t.Fatalf("after resync: %s", got.SyncState)
		}
		if r = b.get(page); !strings.Contains(r.body, "sync_succeeded") || !strings.Contains(r.body, "The store already has this result") {
			t.Errorf("synced payment page:\n%s", r.body)
		}
		// Refunds: too much, not a number, then a partial one; a second
		// submission of the same form asks for nothing more.
		for amount, want := range map[string]string{"9.000": "e_refund_exceeds", "abc": "e_refund_amount", "0": "e_refund_amount"} {
			if r := b.post(page, page+"/refund", url.Values{"amount": {amount}}); r.header.Get("Location") != page+"?problem="+want {
				t.Errorf("refund %s: %q, want %s", amount, r.header.Get("Location"), want)
			}
		}
		form := b.get(page)
		once := regexpOnce.FindStringSubmatch(form.body)
		if once == nil {
			t.Fatalf("no refund form:\n%s", form.body)
		}
		for range 2 {
			r = b.post(page, page+"/refund", url.Values{"amount": {"2.000"}, "reason": {"damaged"}, "once": {once[1]}})
			if r.header.Get("Location") != page+"?notice=n_refunded" {
				t.Fatalf("refund: %q", r.header.Get("Location"))
			}
		}
		rs, _ := e.db.Refunds(e.ctx(), p.ID)
		if len(rs) != 1 || rs[0].Amount.String() != "2.000" || rs[0].Source != "console" || rs[0].Reason != "damaged" {
			t.Fatalf("refunds: %+v", rs)
		}
		acts := strings.Join(e.consoleActions(p.ID), "\n")
		for _, want := range []string{`"action":"recheck"`, `"action":"resync"`, `"action":"refund"`, `"user":"ops@example.com"`, `"outcome":"error"`} {
			if !strings.Contains(acts, want) {
				t.Errorf("console actions lack %s:\n%s", want, acts)
			}
		}
		if r = b.get(page); !strings.Contains(r.body, "damaged") || !strings.Contains(r.body, "5.250 KWD") {
			t.Errorf("refund not shown, or the amount left is wrong")
		}
		// The support file.
		r = b.get(page + "/export")
		var x Export
		if r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") || json.Unmarshal([]byte(r.body), &x) != nil {
			t.Fatalf("export: %d %v\n%s", r.status, r.header, r.body)
		}
		if x.Payment.ID != p.ID || x.Shop.Name != "Shop A" || len(x.Refunds) != 1 || x.ExportedBy != "ops@example.com" || len(x.Payment.Events) < 5 {
			t.Errorf("export: %+v", x)
		}
		if strings.Contains(r.body, "sk_live_123456") || strings.Contains(r.body, upaytest.DefaultKey) || strings.Contains(r.body, "whsec_") {
			t.Errorf("export shows a secret:\n%s", r.body)
		}
	})
}

// Dead jobs: listed with their payment and error, replayed and discarded,
// each in the payment's audit trail.
func TestDeadJobs(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		a := e.shop("shop_a")
		e.user("ops@example.com", "")
		p := e.paid(a, "order-9", "1.000") // its sync task is waiting: no worker runs here
		q := e.paid(a, "order-10", "1.000")
		for _, id := range []string{p.ID, q.ID} {
			if err := e.insp.ArchiveTask(jobs.QueueDefault, "sync:"+id); err != nil {
				t.Fatalf("archive the sync of %s: %v", id, err)
			}
		}
		b := e.browser()
		b.login("ops@example.com")
		r := b.get("/admin/jobs")
		for _, want := range []string{"store:sync", p.ID, q.ID, "Shop A", "sync:" + p.ID} {
			if !strings.Contains(r.body, want) {
				t.Errorf("dead jobs page lacks %q", want)
			}
		}
		if r := b.get("/admin/payments/" + p.ID); !strings.Contains(r.body, "Dead jobs of this payment") {
			t.Errorf("the payment page does not show its dead job")
		}
		r = b.post("/admin/jobs", "/admin/jobs/default/sync:"+p.ID+"/replay", nil)
		if r.header.Get("Location") != "/admin/jobs?notice=n_replayed" {
			t.Fatalf("replay: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
		}
		if ti, err := e.insp.GetTaskInfo(jobs.QueueDefault, "sync:"+p.ID); err != nil || ti.State.String() != "pending" {
			t.Fatalf("replayed task: %v, %v", ti, err)
		}
		r = b.post("/admin/jobs", "/admin/jobs/default/sync:"+q.ID+"/discard", url.Values{"back": {"payment"}})
		if r.header.Get("Location") != "/admin/payments/"+q.ID+"?notice=n_discarded" {
			t.Fatalf("discard: %q", r.header.Get("Location"))
		}
		if _, err := e.insp.GetTaskInfo(jobs.QueueDefault, "sync:"+q.ID); err == nil {
			t.Fatal("discarded task still there")
		}
		if r := b.post("/admin/jobs", "/admin/jobs/default/sync:"+q.ID+"/discard", nil); r.status != http.StatusNotFound {
			t.Fatalf("discard again: %d", r.status)
		}
		if acts := strings.Join(e.consoleActions(p.ID), "\n"); !strings.Contains(acts, `"action":"replay_job"`) || !strings.Contains(acts, `"task":"sync:`+p.ID) {
			t.Errorf("replay not in the audit trail:\n%s", acts)
		}
		if acts := strings.Join(e.consoleActions(q.ID), "\n"); !strings.Contains(acts, `"action":"discard_job"`) {
			t.Errorf("discard not in the audit trail:\n%s", acts)
		}
		// The monitor is the operators'.
		if r := b.get("/admin/queues"); r.status != http.StatusOK || !strings.Contains(r.body, "Asynq") {
			t.Errorf("monitor: %d", r.status)
		}
		if r := b.get("/admin/queues/api/queues"); r.status != http.StatusOK || !strings.Contains(r.body, "default") {
			t.Errorf("monitor API: %d %s", r.status, r.body)
		}
	})
}

// A merchant of shop A gets 404 from every console route for shop B's
// payment and jobs, and changes nothing.
func TestMerchantIsolation(t *testing.T) {
	onStacks(t, func(t *testing.T, e *env) {
		a, bShop := e.shop("shop_a"), e.shop("shop_b")
		e.user("a@example.com", "shop_a")
		mine := e.paid(a, "order-a", "1.000")
		theirs := e.paid(bShop, "order-b", "4.000")
		if err := e.insp.ArchiveTask(jobs.QueueDefault, "sync:"+theirs.ID); err != nil {
			t.Fatal(err)
		}
		before := e.eventKinds(theirs.ID)
		m := e.browser()
		m.login("a@example.com")
		theirJob := "/admin/jobs/default/sync:" + theirs.ID
		tests := []struct {
			method, path string
			form         url.Values
		}{
			{"GET", "/admin/payments/" + theirs.ID, nil},
			{"GET", "/admin/payments/" + theirs.ID + "/export", nil},
			{"POST", "/admin/payments/" + theirs.ID + "/recheck", nil},
			{"POST", "/admin/payments/" + theirs.ID + "/resync", nil},
			{"POST", "/admin/payments/" + theirs.ID + "/refund", url.Values{"amount": {"1.000"}}},
			{"POST", theirJob + "/replay", nil},
			{"POST", theirJob + "/discard", nil},
			{"GET", "/admin/shops/shop_b", nil},
			{"POST", "/admin/shops/shop_b/check", nil},
			{"POST", "/admin/shops/shop_b/credentials", url.Values{"cred_api_key": {"stolen"}}},
			{"POST", "/admin/shops/shop_b/rotate-key", nil},
			{"POST", "/admin/shops/shop_b/disable", nil},
			{"POST", "/admin/shops/shop_b/enable", nil},
			{"POST", "/admin/shops/shop_b/remove", url.Values{"confirm": {"shop_b"}}},
			{"GET", "/admin/shops/no_such_shop", nil},
			{"GET", "/admin/queues", nil},
			{"GET", "/admin/queues/api/queues", nil},
			{"POST", "/admin/queues/api/queues/default/archived_tasks:run_all", nil},
		}
		// The table covers every route the console registers that takes a
		// shop's payment or job (or is for operators only); the others
		// are lists, checked below, and the session's own.
		covered := map[string]bool{}
		for _, tc := range tests {
			k := routePattern(tc.path, theirs.ID)
			if k != "monitor" {
				k = tc.method + " " + k
			}
			covered[k] = true
		}
		notShopBound := map[string]bool{"GET /admin": true, "GET /admin/login": true, "POST /admin/login": true, "POST /admin/logout": true,
			"GET /admin/payments": true, "GET /admin/shops": true, "GET /admin/jobs": true}
		eng := gin.New()
		e.console.Register(eng)
		for _, rt := range eng.Routes() {
			key := rt.Method + " " + rt.Path
			if strings.HasPrefix(rt.Path, "/admin/queues") {
				key = "monitor"
			}
			if !covered[key] && !notShopBound[key] && !(key == "monitor" && covered["monitor"]) {
				t.Errorf("route %s is not in the isolation table", key)
			}
		}
		for _, tc := range tests {
			var r resp
			if tc.method == "POST" {
				r = m.post("/admin/payments", tc.path, tc.form)
			} else {
				r = m.get(tc.path)
			}
			if r.status != http.StatusNotFound || strings.Contains(r.body, theirs.ID) || strings.Contains(r.body, "4.000") {
				t.Errorf("%s %s as shop A's merchant: %d\n%s", tc.method, tc.path, r.status, r.body)
			}
		}
		if after := e.eventKinds(theirs.ID); !slices.Equal(before, after) {
			t.Errorf("shop B's payment changed: %v → %v", before, after)
		}
		if rs, _ := e.db.Refunds(e.ctx(), theirs.ID); len(rs) != 0 {
			t.Errorf("shop B's payment refunded: %v", rs)
		}
		if ti, err := e.insp.GetTaskInfo(jobs.QueueDefault, "sync:"+theirs.ID); err != nil || ti.State.String() != "archived" {
			t.Errorf("shop B's dead job touched: %v %v", ti, err)
		}
		// Lists leave shop B out; the merchant's own payment works.
		for _, path := range []string{"/admin/payments", "/admin/jobs", "/admin/shops", "/admin/payments?shop=shop_b"} {
			if r := m.get(path); r.status != http.StatusOK || strings.Contains(r.body, theirs.ID) || strings.Contains(r.body, "Shop B") {
				t.Errorf("%s shows shop B (%d)", path, r.status)
			}
		}
		if r := m.get("/admin/payments/" + mine.ID); r.status != http.StatusOK || !strings.Contains(r.body, "order-a") || strings.Contains(r.body, "/admin/queues") {
			t.Errorf("own payment: %d", r.status)
		}
		if r := m.post("/admin/payments/"+mine.ID, "/admin/payments/"+mine.ID+"/recheck", nil); r.status != http.StatusSeeOther {
			t.Errorf("recheck own payment: %d", r.status)
		}
		// Shop B is untouched: no event, its key and credentials as they were.
		if evs, err := e.db.ShopEvents(e.ctx(), "shop_b"); err != nil || len(evs) != 0 {
			t.Errorf("shop B's audit trail: %v %v", evs, err)
		}
		if got, err := e.db.Shop(e.ctx(), "shop_b"); err != nil || got.Status != checkout.ShopConnected ||
			got.APIKeyHash != bShop.APIKeyHash || got.Gateway.Credentials["api_key"] != bShop.Gateway.Credentials["api_key"] {
			t.Errorf("shop B changed: %+v %v", got, err)
		}
		if r := m.get("/admin/shops/shop_a"); r.status != http.StatusOK {
			t.Errorf("own shop: %d", r.status)
		}
	})
}

var regexpOnce = regexp.MustCompile(`name="once" value="([^"]+)"`)

// link is how a list shows a payment (an id), or the text itself.
func link(s string) string {
	if strings.HasPrefix(s, "pay_") {
		return `href="/admin/payments/` + s + `"`
	}
	return s
}

// routePattern turns a tested path back into its route pattern.
func routePattern(path, paymentID string) string {
	if strings.HasPrefix(path, "/admin/queues") {
		return "monitor"
	}
	path = strings.Replace(path, "/admin/payments/"+paymentID, "/admin/payments/:id", 1)
	path = strings.Replace(path, "/admin/jobs/default/sync:"+paymentID, "/admin/jobs/:queue/:task", 1)
	for _, shop := range []string{"shop_b", "no_such_shop"} {
		path = strings.Replace(path, "/admin/shops/"+shop, "/admin/shops/:id", 1)
	}
	return path
}
