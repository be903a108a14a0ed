package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the P6 seeding of the SQLite stack

	"paybridge/internal/jobs"
	"paybridge/internal/upay/upaytest"
)

// pair is a bridge figure beside its baseline's and, for P1's
// throughputs, the floor's (0 when not measured).
type pair struct{ bridge, base, floor float64 }

func (p pair) ratio() float64 {
	if p.base == 0 {
		return 0
	}
	return p.bridge / p.base
}

// floorRatio is the floor's figure ÷ the baseline's: what the durable
// write alone leaves of the baseline.
func (p pair) floorRatio() float64 {
	if p.base == 0 {
		return 0
	}
	return p.floor / p.base
}

// results are one stack's figures. A figure that could not be measured
// has its reason in notes.
type results struct {
	p1Fast     pair   // req/s
	p1Slow     []pair // req/s, per -slow-clients
	p1P99      pair   // ms
	p2         pair   // notifications/s; base: raw asynq enqueues/s
	p3p50      time.Duration
	p3p99      time.Duration
	p3Got      int
	p3Sent     int
	p4         time.Duration
	p4Done     bool
	p5Bridge   int64 // bytes
	p5Redis    int64 // bytes, PostgreSQL stack
	p5OK       int
	p6Before   time.Duration
	p6After    time.Duration
	p6BeforeN  int
	p6AfterN   int
	failures   []string
	measured   bool
	scaleTitle string
}

func (r *results) note(format string, a ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, a...))
}

// created is a payment the load made.
type created struct {
	ID      string `json:"id"`
	Ref     string `json:"gateway_reference"`
	OrderID string `json:"order_id"`
	PayURL  string `json:"pay_url"`
	base    string
}

// orderBody is a create request like a store's, its callbacks sent to the
// merchant under /cb/{tag}.
func orderBody(merchant, tag string) []byte {
	b, _ := json.Marshal(map[string]any{
		"order_id": tag, "amount": "1.000", "currency": "KWD", "description": "Order " + tag, "language": "en",
		"customer":       map[string]any{"name": "Fatima", "email": "f@example.com", "mobile": "+96550000000", "unique_id": "cust-1"},
		"products":       []any{map[string]any{"name": "Dates box", "price": "1.000", "quantity": 1}},
		"return_url":     merchant + "/thanks/" + tag,
		"cancel_url":     merchant + "/cart/" + tag,
		"callback_url":   merchant + "/cb/" + tag,
		"payment_method": "knet",
	})
	return b
}

var runSeq atomic.Int64

// createReq makes payments on the bridge, round robin over its web
// processes, each with a new order id; got, when set, receives them.
func createReq(d *deployment, s shop, got func(created)) request {
	prefix := fmt.Sprintf("r%d-", runSeq.Add(1))
	bases := d.bases()
	return func(ctx context.Context, c *http.Client, i int) (int, error) {
		tag := prefix + strconv.Itoa(i)
		base := bases[i%len(bases)]
		var p created
		var out any
		if got != nil {
			out = &p
		}
		code, err := do(ctx, c, "POST", base+"/api/v1/payments", s.apiKey, "application/json", orderBody(d.merchant.url, tag), out)
		if err == nil && code == http.StatusCreated && got != nil {
			p.base = base
			got(p)
		}
		if err == nil && code != http.StatusCreated {
			return code, fmt.Errorf("create: HTTP %d", code)
		}
		return code, err
	}
}

// createPayments makes n payments with 32 clients and returns them.
func (r *runner) createPayments(ctx context.Context, d *deployment, s shop, n int) ([]created, error) {
	var mu sync.Mutex
	var out []created
	st := closedLoop(ctx, newClient(32), 32, 10*time.Minute, n, createReq(d, s, func(p created) {
		mu.Lock()
		out = append(out, p)
		mu.Unlock()
	}))
	if len(out) < n {
		return out, fmt.Errorf("created %d of %d payments (first error: %s)", len(out), n, st.firstErr)
	}
	for _, p := range out {
		if p.Ref == "" {
			return out, fmt.Errorf("payment %s has no gateway_reference after create", p.ID)
		}
	}
	return out, nil
}

// baseline is the bare Gin handler: it reads the same order, makes the
// same single gateway call (the bytes the bridge sent for a charge) and
// answers with the gateway's link.
type baseline struct {
	srv *http.Server
	url string
}

// orderHandler is the bare Gin engine of the baseline and the floor: POST
// /api/v1/payments decodes the order, or answers 400, and hands it to fn.
func orderHandler(fn func(c *gin.Context, order map[string]any)) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST("/api/v1/payments", func(c *gin.Context) {
		var order map[string]any
		if err := c.ShouldBindJSON(&order); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		fn(c, order)
	})
	return e
}

func startBaseline(gatewayAPI string, charge []byte) (*baseline, error) {
	client := newClient(256)
	e := orderHandler(func(c *gin.Context, order map[string]any) {
		var res struct {
			Data struct {
				Link string `json:"link"`
			} `json:"data"`
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
		defer cancel()
		code, err := do(ctx, client, "POST", gatewayAPI+"/charge", upaytest.DefaultKey, "application/json", charge, &res)
		if err != nil || code >= 300 {
			c.JSON(http.StatusBadGateway, gin.H{"error": fmt.Sprint(code, err)})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"order_id": order["order_id"], "pay_url": res.Data.Link})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &baseline{srv: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String()}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *baseline) req(merchant string) request {
	prefix := fmt.Sprintf("b%d-", runSeq.Add(1))
	return func(ctx context.Context, c *http.Client, i int) (int, error) {
		return do(ctx, c, "POST", b.url+"/api/v1/payments", "", "application/json", orderBody(merchant, prefix+strconv.Itoa(i)), nil)
	}
}

// measureStack deploys one stack and measures every figure on it.
func (r *runner) measureStack(ctx context.Context, kind string) (*results, error) {
	cfg := r.cfg
	d, err := r.deploy(ctx, kind, 0, 0)
	if err != nil {
		return nil, err
	}
	defer d.close()
	res := &results{measured: true}

	// Warm up, and learn the bytes of the bridge's charge call.
	if _, err := r.createPayments(ctx, d, d.shop, 20); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	charges := d.gw.sim.Charges()
	base, err := startBaseline(d.gw.sim.APIBase(), charges[len(charges)-1])
	if err != nil {
		return nil, err
	}
	defer base.srv.Close()

	// P4 takes minutes on the default configuration: it runs in the
	// background from the start, on a deployment of its own (same stack,
	// idle), so that what it measures is the reconciler's timing and not
	// the other figures' queue backlog.
	p4 := make(chan struct{})
	if !cfg.figures["P4"] {
		close(p4)
	}
	go func() {
		if !cfg.figures["P4"] {
			return
		}
		defer close(p4)
		d4, err := r.deploy(ctx, kind, 0, 0)
		if err != nil {
			res.note("P4: %v", err)
			return
		}
		defer d4.close()
		r.p4(ctx, d4, res)
	}()

	for _, f := range []struct {
		name string
		run  func() error
	}{
		{"P5", func() error { r.p5(ctx, d, res); return nil }},
		{"P1", func() error {
			// The floor is open on this deployment's database for P1
			// only, and closed before the next figure.
			fl, err := startFloor(ctx, d.gw.sim.APIBase(), charges[len(charges)-1], d.dbURL, d.shop.id)
			if err != nil {
				res.note("P1 floor: %v", err)
				fl = nil
			} else {
				defer fl.close()
			}
			r.p1(ctx, d, base, fl, res, d.gw)
			return nil
		}},
		{"P2", func() error { return r.p2(ctx, d, res) }},
		{"P3", func() error { return r.p3(ctx, d, res) }},
		{"P6", func() error { return r.p6(ctx, d, res) }},
	} {
		if !cfg.figures[f.name] {
			continue
		}
		r.log("%s: %s", kind, f.name)
		if err := f.run(); err != nil {
			res.note("%s: %v", f.name, err)
		}
	}
	r.log("%s: waiting for P4 (up to %v from its start)", kind, cfg.p4Timeout)
	<-p4
	d.merchant.mu.Lock()
	if d.merchant.bad > 0 {
		res.note("the merchant refused %d callbacks whose signature did not verify", d.merchant.bad)
	}
	d.merchant.mu.Unlock()
	return res, nil
}

// p1 measures creates, bridge, baseline and floor (fl, unless nil)
// interleaved in each repetition.
func (r *runner) p1(ctx context.Context, d *deployment, base *baseline, fl *floor, res *results, gw *gateway) {
	cfg := r.cfg
	closed := func(clients int) pair {
		var br, bl, fr []float64
		c := newClient(clients)
		for rep := range cfg.reps {
			s := closedLoop(ctx, c, clients, cfg.duration, cfg.maxRequests, createReq(d, d.shop, nil))
			br = append(br, s.rate())
			r.noteFailures(res, "P1 bridge", s)
			s = closedLoop(ctx, c, clients, cfg.duration, cfg.maxRequests, base.req(d.merchant.url))
			bl = append(bl, s.rate())
			r.noteFailures(res, "P1 baseline", s)
			floorRate := "-"
			if fl != nil {
				s = closedLoop(ctx, c, clients, cfg.duration, cfg.maxRequests, fl.req(d.merchant.url))
				fr = append(fr, s.rate())
				r.noteFailures(res, "P1 floor", s)
				floorRate = f0(s.rate())
			}
			r.log("%s: P1 %d clients, gateway %v, repetition %d: bridge %s, baseline %s, floor %s req/s", d.kind, clients, gw.lat.Delay(),
				rep+1, f0(br[rep]), f0(bl[rep]), floorRate)
		}
		return pair{median(br), median(bl), median(fr)}
	}
	gw.lat.Set(0)
	res.p1Fast = closed(cfg.clients)
	gw.lat.Set(cfg.slowLatency)
	for _, n := range cfg.slowClients {
		res.p1Slow = append(res.p1Slow, closed(n))
	}
	gw.lat.Set(0)
	var br, bl, fr []float64
	c := newClient(512)
	for range cfg.reps {
		s := openLoop(ctx, c, cfg.steadyRate, cfg.duration, cfg.maxRequests, 2000, createReq(d, d.shop, nil))
		br = append(br, ms(s.quantile(0.99)))
		r.noteFailures(res, "P1 steady bridge", s)
		s = openLoop(ctx, c, cfg.steadyRate, cfg.duration, cfg.maxRequests, 2000, base.req(d.merchant.url))
		bl = append(bl, ms(s.quantile(0.99)))
		r.noteFailures(res, "P1 steady baseline", s)
		if fl != nil {
			s = openLoop(ctx, c, cfg.steadyRate, cfg.duration, cfg.maxRequests, 2000, fl.req(d.merchant.url))
			fr = append(fr, ms(s.quantile(0.99)))
			r.noteFailures(res, "P1 steady floor", s)
		}
	}
	res.p1P99 = pair{bridge: median(br), base: median(bl), floor: median(fr)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *runner) noteFailures(res *results, what string, s runStats) {
	if s.failed > 0 {
		res.note("%s: %d of %d requests failed (first: %s)", what, s.failed, s.ok+s.failed, s.firstErr)
	}
}

// notifyReq sends UPayments' notification (a form) for the payments,
// round robin, to the web process that created each.
func notifyReq(pays []created) request {
	return func(ctx context.Context, c *http.Client, i int) (int, error) {
		p := pays[i%len(pays)]
		body := url.Values{"payment_id": {strconv.Itoa(100000 + i%len(pays))}, "result": {upaytest.Captured},
			"track_id": {p.Ref}, "order_id": {p.ID}, "requested_order_id": {p.ID}}.Encode()
		code, err := do(ctx, c, "POST", p.base+"/notify/upay/"+p.ID, "", "application/x-www-form-urlencoded", []byte(body), nil)
		if err == nil && code >= 300 {
			return code, fmt.Errorf("notify: HTTP %d", code)
		}
		return code, err
	}
}

// p2 measures notification ingest beside raw asynq enqueues on the same
// Redis.
func (r *runner) p2(ctx context.Context, d *deployment, res *results) error {
	cfg := r.cfg
	pays, err := r.createPayments(ctx, d, d.shop, cfg.notifyPays)
	if err != nil {
		return err
	}
	aq := asynq.NewClient(asynq.RedisClientOpt{Addr: d.queue})
	defer aq.Close()
	const rawQueue = "loadtest_raw"
	defer func() {
		ins := asynq.NewInspector(asynq.RedisClientOpt{Addr: d.queue})
		_ = ins.DeleteQueue(rawQueue, true)
		ins.Close()
	}()
	payload := []byte(`{"payment_id":"pay_0123456789abcdef","gateway":"upay","fields":{"result":"CAPTURED","track_id":"T0123456789"}}`)
	raw := func(ctx context.Context, _ *http.Client, i int) (int, error) {
		_, err := aq.EnqueueContext(ctx, asynq.NewTask("loadtest:raw", payload), asynq.Queue(rawQueue))
		if err != nil {
			return 0, err
		}
		return 200, nil
	}
	var br, bl []float64
	c := newClient(cfg.notifyClients)
	for range cfg.reps {
		s := closedLoop(ctx, c, cfg.notifyClients, cfg.duration, cfg.maxRequests, notifyReq(pays))
		br = append(br, s.rate())
		r.noteFailures(res, "P2 notify", s)
		s = closedLoop(ctx, c, cfg.notifyClients, cfg.duration, cfg.maxRequests, raw)
		bl = append(bl, s.rate())
		r.noteFailures(res, "P2 raw enqueue", s)
	}
	res.p2 = pair{bridge: median(br), base: median(bl)}
	return nil
}

// settleMax bounds how long settle waits for the queue to drain.
const settleMax = 2 * time.Minute

// settle waits until the work earlier figures left behind has run: the
// core's fallback confirmations are due 15 s after their notifications
// (its FallbackDelay; -p3-settle) and P2 leaves thousands; then it waits
// for the bridge's queues to have nothing pending or running (scheduled
// tasks further off, like the reconciler's next pass, stay).
func (r *runner) settle(ctx context.Context, d *deployment) error {
	r.log("%s: waiting for the queue to drain (fallback confirmations of earlier figures)", d.kind)
	select {
	case <-time.After(r.cfg.p3Settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	ins := asynq.NewInspector(asynq.RedisClientOpt{Addr: d.queue})
	defer ins.Close()
	deadline := time.Now().Add(settleMax)
	for {
		busy := 0
		for _, q := range []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow} {
			info, err := ins.GetQueueInfo(q)
			if err != nil {
				continue // a queue nothing was ever put on
			}
			busy += info.Pending + info.Active
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the queue still had %d tasks pending or running after %v more; measured anyway", busy, settleMax)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// p3 completes payments on the gateway at a steady rate and measures each
// notification's way to the merchant's callback.
func (r *runner) p3(ctx context.Context, d *deployment, res *results) error {
	cfg := r.cfg
	if err := r.settle(ctx, d); err != nil {
		res.note("P3: %v", err)
	}
	n := max(1, int(cfg.p3Duration.Seconds()*float64(cfg.p3Rate)))
	n = min(n, cfg.maxRequests)
	pays, err := r.createPayments(ctx, d, d.shop, n)
	if err != nil {
		return err
	}
	sent := make([]time.Time, len(pays))
	interval := time.Second / time.Duration(cfg.p3Rate)
	start := time.Now()
	for i, p := range pays {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		sent[i] = time.Now()
		if _, err := d.gw.sim.Complete(p.Ref, upaytest.Captured); err != nil {
			return fmt.Errorf("complete %s: %w", p.Ref, err)
		}
	}
	deadline := time.NewTimer(cfg.p3Drain)
	defer deadline.Stop()
	var lat []time.Duration
	expired := false
	for i, p := range pays {
		if !expired {
			select {
			case <-d.merchant.wait(p.OrderID):
			case <-deadline.C:
				expired = true // the rest count only if already there
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if at, ok := d.merchant.arrived(p.OrderID); ok {
			lat = append(lat, at.Sub(sent[i]))
		}
	}
	res.p3Sent, res.p3Got = len(pays), len(lat)
	res.p3p50, res.p3p99 = quantile(lat, 0.5), quantile(lat, 0.99)
	if len(lat) < len(pays) {
		res.note("P3: %d of %d callbacks arrived within %v of the last notification", len(lat), len(pays), cfg.p3Drain)
	}
	return nil
}

// p4 pays one payment at the gateway without a notification
// and waits for the merchant to be told.
func (r *runner) p4(ctx context.Context, d *deployment, res *results) {
	pays, err := r.createPayments(ctx, d, d.shop, 1)
	if err != nil {
		res.note("P4: %v", err)
		return
	}
	// The shopper follows the pay link to the gateway's page, pays there,
	// and the gateway's notification is lost: its truth changes silently.
	code, err := do(ctx, newClient(1), "GET", pays[0].PayURL, "", "", nil, nil)
	if err != nil || code != http.StatusFound {
		res.note("P4: GET pay_url: %d %v, want a 302 to the gateway's page", code, err)
		return
	}
	if err := d.gw.sim.SetResult(pays[0].Ref, upaytest.Captured); err != nil {
		res.note("P4: %v", err)
		return
	}
	start := time.Now()
	t := time.NewTimer(r.cfg.p4Timeout)
	defer t.Stop()
	select {
	case <-d.merchant.wait(pays[0].OrderID):
		at, _ := d.merchant.arrived(pays[0].OrderID)
		res.p4, res.p4Done = at.Sub(start), true
	case <-t.C:
		res.p4 = r.cfg.p4Timeout
	case <-ctx.Done():
	}
}

// p5 starts the checkouts all at once with the gateway slow and samples
// the processes' RSS until they are answered.
func (r *runner) p5(ctx context.Context, d *deployment, res *results) {
	cfg := r.cfg
	d.gw.lat.Set(cfg.p5Latency)
	defer d.gw.lat.Set(0)
	c := newClient(cfg.p5Checkouts)
	req := createReq(d, d.shop, nil)
	var wg sync.WaitGroup
	var ok atomic.Int64
	done := make(chan struct{})
	for i := range cfg.p5Checkouts {
		wg.Go(func() {
			if code, err := req(ctx, c, i+1); err == nil && code == http.StatusCreated {
				ok.Add(1)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var sum int64
		for _, p := range d.allProcs() {
			sum += rss(p.proc.Pid())
		}
		res.p5Bridge = max(res.p5Bridge, sum)
		if d.redis != nil {
			res.p5Redis = max(res.p5Redis, rss(d.redis.Pid()))
		}
		select {
		case <-tick.C:
			continue
		case <-done:
		}
		break
	}
	res.p5OK = int(ok.Load())
	if res.p5OK < cfg.p5Checkouts {
		res.note("P5: %d of %d checkouts answered 201", res.p5OK, cfg.p5Checkouts)
	}
	c.CloseIdleConnections()
}

// rss is a process's resident set in bytes (0 if unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// p6 times /metrics before and after seeding final payments.
func (r *runner) p6(ctx context.Context, d *deployment, res *results) error {
	cfg := r.cfg
	db, err := openDB(ctx, d)
	if err != nil {
		return err
	}
	defer db.close()
	scrape := func() (time.Duration, error) {
		c := newClient(1)
		var ts []time.Duration
		for range cfg.p6Scrapes {
			t0 := time.Now()
			code, err := do(ctx, c, "GET", d.webs[0].base+"/metrics", "", "", nil, nil)
			if err != nil || code != 200 {
				return 0, fmt.Errorf("GET /metrics: %d %v", code, err)
			}
			ts = append(ts, time.Since(t0))
		}
		return quantile(ts, 0.5), nil
	}
	if res.p6BeforeN, err = db.count(ctx); err != nil {
		return err
	}
	if res.p6Before, err = scrape(); err != nil {
		return err
	}
	r.log("%s: seeding %d payments", d.kind, cfg.p6Payments)
	if err := db.seed(ctx, d.shop.id, cfg.p6Payments); err != nil {
		return err
	}
	if res.p6AfterN, err = db.count(ctx); err != nil {
		return err
	}
	res.p6After, err = scrape()
	return err
}

// store is the tool's own connection to the bridge's database, to seed
// payments fast (P6) without going through the API.
type store struct {
	sql *sql.DB
	pg  *pgx.Conn
}

func openDB(ctx context.Context, d *deployment) (*store, error) {
	if d.kind == "sqlite" {
		path := strings.TrimPrefix(d.dbURL, "sqlite:")
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		return &store{sql: db}, nil
	}
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return nil, err
	}
	return &store{pg: conn}, nil
}

func (s *store) close() {
	if s.sql != nil {
		s.sql.Close()
	}
	if s.pg != nil {
		s.pg.Close(context.Background())
	}
}

func (s *store) count(ctx context.Context) (int, error) {
	var n int
	var err error
	if s.sql != nil {
		err = s.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n)
	} else {
		err = s.pg.QueryRow(ctx, "SELECT COUNT(*) FROM payments").Scan(&n)
	}
	return n, err
}

// seedSQL inserts payments $1..$2 of shop $3, final and synced (so the
// reconciler has nothing to do with them), a quarter in each final status.
const seedSQL = `INSERT INTO payments (id, shop_id, platform, order_id, amount_minor, currency, status, sync_state,
	gateway, created_at, updated_at, version)
SELECT 'pay_seed' || g, $3, 'api', 'seed-' || g, 1000, 'KWD',
	CASE g % 4 WHEN 0 THEN 'paid' WHEN 1 THEN 'failed' WHEN 2 THEN 'canceled' ELSE 'expired' END,
	'synced', 'upay', $4, $4, 1 FROM `

// seed inserts n payments in batches of 100,000.
func (s *store) seed(ctx context.Context, shopID string, n int) error {
	now := time.Now().UnixMicro()
	for lo := 1; lo <= n; lo += 100000 {
		hi := min(n, lo+100000-1)
		var err error
		if s.sql != nil {
			_, err = s.sql.ExecContext(ctx, `WITH RECURSIVE s(g) AS (SELECT $1 UNION ALL SELECT g + 1 FROM s WHERE g < $2) `+seedSQL+`s`,
				lo, hi, shopID, now)
		} else {
			_, err = s.pg.Exec(ctx, seedSQL+`generate_series($1::bigint, $2::bigint) AS g`, lo, hi, shopID, now)
		}
		if err != nil {
			return fmt.Errorf("seed payments %d–%d: %w", lo, hi, err)
		}
	}
	return nil
}
