package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"paybridge/internal/localsvc"
	"paybridge/internal/upay/upaytest"
)

// runner holds what every stack shares: the bridge binary and the
// temporary directory.
type runner struct {
	cfg *config
	dir string
	bin string
	log func(format string, a ...any)
}

var stackTitle = map[string]string{"sqlite": "SQLite + embedded", "postgres": "PostgreSQL + Redis"}

// prepare builds the bridge binary unless one was given.
func (r *runner) prepare(ctx context.Context) error {
	if r.cfg.bridgeBin != "" {
		if _, err := os.Stat(r.cfg.bridgeBin); err != nil {
			return fmt.Errorf("-bridge: %w", err)
		}
		r.bin = r.cfg.bridgeBin
		return nil
	}
	r.bin = filepath.Join(r.dir, "bridge")
	r.log("building paybridge/cmd/bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", r.bin, "paybridge/cmd/bridge")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build paybridge/cmd/bridge (run from inside the module): %v\n%s", err, out.String())
	}
	return nil
}

// gateway is the fake UPayments: the simulator behind a latency knob, on
// its own loopback server.
type gateway struct {
	sim *upaytest.Sim
	lat *upaytest.Latency
	srv *http.Server
	url string
}

func startGateway() (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gateway{url: "http://" + ln.Addr().String()}
	g.sim = upaytest.New(g.url)
	g.lat = upaytest.NewLatency(g.sim)
	g.srv = &http.Server{Handler: g.lat, ReadHeaderTimeout: 10 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

func (g *gateway) close() {
	g.sim.Wait()
	_ = g.srv.Close()
}

// merchant receives the bridge's signed callbacks (Standard Webhooks) and
// records when the first verified one for each tag (/cb/{tag}) arrived.
type merchant struct {
	url string
	srv *http.Server

	mu      sync.Mutex
	secrets []string
	got     map[string]time.Time
	waiters map[string]chan struct{}
	bad     int // callbacks whose signature did not verify
}

func startMerchant() (*merchant, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &merchant{url: "http://" + ln.Addr().String(), got: map[string]time.Time{}, waiters: map[string]chan struct{}{}}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go m.srv.Serve(ln)
	return m, nil
}

func (m *merchant) addSecret(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = append(m.secrets, s)
}

func (m *merchant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	tag, ok := strings.CutPrefix(r.URL.Path, "/cb/")
	if !ok {
		fmt.Fprint(w, "merchant page")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	m.mu.Lock()
	defer m.mu.Unlock()
	verified := false
	for _, s := range m.secrets {
		if verifyWebhook(s, r.Header, body, now) {
			verified = true
			break
		}
	}
	if !verified {
		m.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if _, seen := m.got[tag]; !seen {
		m.got[tag] = now
		if ch, ok := m.waiters[tag]; ok {
			close(ch)
			delete(m.waiters, tag)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// arrived returns when tag's first callback arrived.
func (m *merchant) arrived(tag string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.got[tag]
	return t, ok
}

// wait returns a channel closed when tag's first callback has arrived.
func (m *merchant) wait(tag string) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan struct{})
	if _, ok := m.got[tag]; ok {
		close(ch)
		return ch
	}
	if old, ok := m.waiters[tag]; ok {
		return old
	}
	m.waiters[tag] = ch
	return ch
}

func (m *merchant) close() { _ = m.srv.Close() }

// verifyWebhook checks a Standard Webhooks signature as a merchant would:
// HMAC-SHA256 of "id.timestamp.body" keyed with the base64 secret after
// "whsec_", compared in constant time.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) bool {
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
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// shop is a connected API shop's credentials.
type shop struct{ id, apiKey, secret string }

// deployment is one stack running: its servers and bridge processes.
type deployment struct {
	kind     string // sqlite or postgres
	dir      string
	env      map[string]string
	gw       *gateway
	merchant *merchant
	pg       *localsvc.Postgres
	redis    *localsvc.Redis
	webs     []*bridgeProc
	workers  []*bridgeProc
	shop     shop // the load's shop
	dbURL    string
	queue    string // the queue's Redis host:port
}

// bridgeProc is one bridge process.
type bridgeProc struct {
	proc *localsvc.Proc
	base string
	log  *os.File
}

// bases are the web processes' URLs.
func (d *deployment) bases() []string {
	var out []string
	for _, w := range d.webs {
		out = append(out, w.base)
	}
	return out
}

// allProcs are the bridge processes, web first.
func (d *deployment) allProcs() []*bridgeProc {
	return append(append([]*bridgeProc(nil), d.webs...), d.workers...)
}

// deploy starts a stack's servers, connects the shops and starts the
// bridge: one process running everything when webs is 0, else webs web
// and workers worker processes (PostgreSQL + Redis only).
func (r *runner) deploy(ctx context.Context, kind string, webs, workers int) (_ *deployment, err error) {
	dir, err := os.MkdirTemp(r.dir, kind+"-")
	if err != nil {
		return nil, err
	}
	d := &deployment{kind: kind, dir: dir, env: map[string]string{}}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.gw, err = startGateway(); err != nil {
		return nil, err
	}
	if d.merchant, err = startMerchant(); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	d.env["BRIDGE_MASTER_KEY"] = base64.StdEncoding.EncodeToString(key)
	switch kind {
	case "sqlite":
		d.dbURL = "sqlite:" + filepath.Join(dir, "bridge.db")
	case "postgres":
		r.log("%s: starting PostgreSQL and Redis", kind)
		if d.pg, err = localsvc.StartPostgres(ctx, dir); err != nil {
			return nil, err
		}
		if d.dbURL, err = d.pg.CreateDatabase(ctx, "bridge"); err != nil {
			return nil, err
		}
		if d.redis, err = localsvc.StartRedis(ctx, dir); err != nil {
			return nil, err
		}
		d.queue = d.redis.Addr
		d.env["BRIDGE_REDIS_URL"] = "redis://" + d.redis.Addr + "/0"
	}
	d.env["BRIDGE_DATABASE_URL"] = d.dbURL
	d.env["UPAY_SANDBOX_URL"] = d.gw.sim.APIBase()
	// The merchant and the fake gateway are on loopback over http.
	d.env["BRIDGE_ALLOW_INSECURE_URLS"] = "true"
	d.env["BRIDGE_RATE_NOTIFY_PER_ADDRESS"] = r.cfg.notifyLimit
	if d.shop, err = r.addShop(ctx, d, "Load shop"); err != nil {
		return nil, err
	}
	d.merchant.addSecret(d.shop.secret)
	if webs == 0 {
		p, err := r.startBridge(ctx, d, "all", "bridge")
		if err != nil {
			return nil, err
		}
		d.webs = []*bridgeProc{p}
	} else {
		for i := range webs {
			p, err := r.startBridge(ctx, d, "web", fmt.Sprintf("web%d", i+1))
			if err != nil {
				return nil, err
			}
			d.webs = append(d.webs, p)
		}
		for i := range workers {
			p, err := r.startBridge(ctx, d, "worker", fmt.Sprintf("worker%d", i+1))
			if err != nil {
				return nil, err
			}
			d.workers = append(d.workers, p)
		}
	}
	if kind == "sqlite" {
		// The embedded queue writes its address beside the database.
		b, err := os.ReadFile(filepath.Join(dir, "bridge.db.queue"))
		if err != nil {
			return nil, fmt.Errorf("the embedded queue's address: %w", err)
		}
		d.queue = strings.TrimPrefix(strings.TrimSpace(string(b)), "redis://")
		if i := strings.IndexByte(d.queue, '/'); i >= 0 {
			d.queue = d.queue[:i]
		}
	}
	return d, nil
}

// environ is the bridge's environment: PATH and HOME, and d's variables.
func (d *deployment) environ(extra map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range d.env {
		env = append(env, k+"="+v)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

func (r *runner) addShop(ctx context.Context, d *deployment, name string) (shop, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, "shops", "add", "--platform", "api", "--name", name,
		"--gateway", "upay", "--gateway-key", upaytest.DefaultKey, "--sandbox", "--json")
	cmd.Env = d.environ(map[string]string{"BRIDGE_LOG_LEVEL": "warn"})
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return shop{}, fmt.Errorf("bridge shops add: %v\n%s", err, errb.String())
	}
	var raw map[string]string
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil || raw["api_key"] == "" || raw["id"] == "" {
		return shop{}, fmt.Errorf("bridge shops add --json printed %q", out.String())
	}
	return shop{id: raw["id"], apiKey: raw["api_key"], secret: raw["webhook_secret"]}, nil
}

// startBridge starts `bridge serve --role role` on a free loopback port
// and waits for /healthz. Its logs go to a file in d's directory.
func (r *runner) startBridge(ctx context.Context, d *deployment, role, name string) (*bridgeProc, error) {
	port, err := localsvc.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.bin, "serve", "--role", role)
	cmd.Env = d.environ(map[string]string{"BRIDGE_ADDR": addr, "BRIDGE_PUBLIC_URL": "http://" + addr})
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := localsvc.Start(cmd)
	if err != nil {
		logf.Close()
		return nil, err
	}
	b := &bridgeProc{proc: p, base: "http://" + addr, log: logf}
	err = p.WaitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/healthz: %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, tailFile(logf.Name(), 20))
	}
	r.log("%s: %s (%s) listening on %s, pid %d", d.kind, name, role, addr, p.Pid())
	return b, nil
}

func (b *bridgeProc) stop() {
	_ = b.proc.Stop(syscall.SIGTERM, 20*time.Second)
	b.log.Close()
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

func (d *deployment) close() {
	for _, p := range d.allProcs() {
		p.stop()
	}
	if d.gw != nil {
		d.gw.close()
	}
	if d.merchant != nil {
		d.merchant.close()
	}
	if d.redis != nil {
		d.redis.Stop()
	}
	if d.pg != nil {
		d.pg.Stop()
	}
}
