package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Viewport is a browser window size the page tests use.
type Viewport struct {
	// Name names the viewport in screenshot file names ("phone").
	Name string
	// W and H are the width and height in CSS pixels.
	W, H int
}

// The viewports the page tests shoot at: a desktop window and a phone
// (the CSS size of an iPhone 12 to 15).
var (
	Desktop = Viewport{Name: "desktop", W: 1280, H: 800}
	Phone   = Viewport{Name: "phone", W: 390, H: 844}

	// Viewports lists both, desktop first.
	Viewports = []Viewport{Desktop, Phone}
)

// browserActionTimeout bounds one Shoot or Axe call (and the browser's
// start in Browser).
const browserActionTimeout = 60 * time.Second

// Browser starts a headless Chromium (the one Chromium finds, with the
// same flags DumpDOM uses and a fresh profile) driven through
// github.com/chromedp/chromedp, and returns its chromedp context: pass it
// to chromedp.Run / chromedp.Do to navigate and read pages, and to Shoot
// and Axe. Each call starts its own browser; it is closed, and waited for,
// in t.Cleanup. The context has no deadline of its own: bound long
// actions with context.WithTimeout on it.
func Browser(t testing.TB) context.Context {
	t.Helper()
	bin := Chromium(t)
	profile := t.TempDir()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profile),
		chromedp.Env("HOME=" + profile),
	}
	for _, f := range chromiumFlags {
		name, value, hasValue := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)

	// chromedp logs protocol events it cannot decode (a newer Chromium
	// than its cdproto); keep them in the test log while the test runs,
	// and drop them once it has ended.
	var logMu sync.Mutex
	ended := false
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if !ended {
			t.Logf("chromedp: "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf), chromedp.WithLogf(logf))
	stop := func() {
		cancel()
		cancelAlloc()
		logMu.Lock()
		ended = true
		logMu.Unlock()
	}

	// The first Run starts the browser; it is bound to ctx for its life, so
	// a start that hangs is stopped by cancelling rather than by a deadline.
	start := time.Now()
	timer := time.AfterFunc(browserActionTimeout, cancel)
	err := chromedp.Do(ctx)
	timer.Stop()
	if err != nil {
		stop()
		t.Fatalf("testenv: starting Chromium %s with chromedp: %v", bin, err)
	}
	t.Logf("testenv: chromedp browser started in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(stop)
	return ctx
}

// viewportNamed returns the name of the viewport width x height: that of
// Desktop or Phone, else "WxH".
func viewportNamed(width, height int) string {
	for _, v := range Viewports {
		if v.W == width && v.H == height {
			return v.Name
		}
	}
	return strconv.Itoa(width) + "x" + strconv.Itoa(height)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// sanitizeName makes a test or page name a safe file name: runs of other
// characters than letters, digits, '.', '_' and '-' become one '_'.
func sanitizeName(name string) string {
	s := strings.Trim(unsafeFileChars.ReplaceAllString(name, "_"), "_.")
	if s == "" {
		return "page"
	}
	return s
}

// ArtifactsDir returns the directory screenshots are written to:
// $BRIDGE_ARTIFACTS if set, else testdata/artifacts/screenshots/ at the
// module root (gitignored). It is created if missing.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BRIDGE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(t), "testdata", "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testenv: artifacts directory: %v", err)
	}
	return dir
}

// Shoot sets the browser's viewport to width x height CSS pixels (a
// phone-sized one, narrower than 600, emulates a mobile device, so the
// page's meta viewport applies), takes a PNG of the whole page (beyond
// the viewport's height) and writes it to ArtifactsDir as
// <name>-<viewport>.png, where name is sanitized for a file name (the
// test's name when empty) and viewport is "desktop", "phone" or "WxH". The
// viewport stays set, so Axe after Shoot checks the page at that size.
// The page must have been loaded already (chromedp.Navigate waits for its
// load event).
func Shoot(t testing.TB, ctx context.Context, name string, width, height int) {
	t.Helper()
	if width <= 0 || height <= 0 {
		t.Fatalf("testenv: Shoot: bad viewport %dx%d", width, height)
	}
	if name == "" {
		name = t.Name()
	}
	actx, cancel := context.WithTimeout(ctx, browserActionTimeout)
	defer cancel()
	var vopts []chromedp.EmulateViewportOption
	if width < 600 {
		vopts = append(vopts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(actx, chromedp.EmulateViewport(int64(width), int64(height), vopts...)); err != nil {
		t.Fatalf("testenv: Shoot %s: setting the viewport %dx%d: %v", name, width, height, err)
	}
	// Let the relayout at the new size and any web fonts settle before
	// the picture: wait until fonts are loaded and two frames were drawn.
	const settled = `document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`
	if _, err := chromedp.Run(actx, chromedp.Evaluate[bool](settled, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("testenv: Shoot %s: waiting for the layout: %v", name, err)
	}
	png, err := chromedp.Run(actx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("testenv: Shoot %s: screenshot: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("testenv: Shoot %s: the screenshot is not a PNG", name)
	}
	path := filepath.Join(ArtifactsDir(t), sanitizeName(name)+"-"+viewportNamed(width, height)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("testenv: Shoot %s: %v", name, err)
	}
	t.Logf("testenv: screenshot %s", path)
}

// AxeVersion is the axe-core release Axe runs, and AxeIntegrity the npm
// registry's integrity hash of its tarball (npm view axe-core@VERSION
// dist.integrity), checked before the script is used. scripts/test's deps
// step fetches the same version (a test checks the two agree).
const (
	AxeVersion   = "4.14.1"
	AxeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

// AxeCacheDir returns the directory that holds axe.min.js of AxeVersion:
// $XDG_CACHE_HOME/paybridge/axe-core-VERSION when XDG_CACHE_HOME is set,
// else testdata/.cache/axe-core-VERSION at the module root (gitignored).
func AxeCacheDir(t testing.TB) string {
	t.Helper()
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "paybridge", "axe-core-"+AxeVersion)
	}
	return filepath.Join(ModuleRoot(t), "testdata", ".cache", "axe-core-"+AxeVersion)
}

var axeSource struct {
	sync.Mutex
	js []byte
}

// AxeScript returns the source of axe-core's axe.min.js, fetching it once
// into AxeCacheDir with `npm pack axe-core@AxeVersion` (the tarball is
// checked against AxeIntegrity) when it is not cached yet. It fails the
// test, naming the Debian package npm, when npm is needed and missing.
func AxeScript(t testing.TB) []byte {
	t.Helper()
	axeSource.Lock()
	defer axeSource.Unlock()
	if axeSource.js != nil {
		return axeSource.js
	}
	dir := AxeCacheDir(t)
	path := filepath.Join(dir, "axe.min.js")
	js, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		js, err = fetchAxe(dir)
	}
	if err != nil {
		t.Fatalf("testenv: axe-core %s: %v", AxeVersion, err)
	}
	axeSource.js = js
	return js
}

// fetchAxe runs npm pack into a temporary directory beside dir, checks the
// tarball, and moves its axe.min.js into dir (a rename, so that parallel
// test processes never see half a file).
func fetchAxe(dir string) ([]byte, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("npm is needed to fetch it (apt-get install npm; ./scripts/test fetches it in its deps step): %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".axe-fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", tmp, "axe-core@"+AxeVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("npm pack axe-core@%s: %w\n%s", AxeVersion, err, out)
	}
	tgz, err := os.ReadFile(filepath.Join(tmp, "axe-core-"+AxeVersion+".tgz"))
	if err != nil {
		return nil, fmt.Errorf("npm pack wrote no tarball: %w", err)
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != AxeIntegrity {
		return nil, fmt.Errorf("tarball integrity %s, want %s", got, AxeIntegrity)
	}
	js, err := untarFile(tgz, "package/axe.min.js")
	if err != nil {
		return nil, err
	}
	staged := filepath.Join(tmp, "out")
	if err := os.Mkdir(staged, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(staged, "axe.min.js"), js, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(staged, dir); err != nil {
		// Another process got there first: use its copy.
		if b, rerr := os.ReadFile(filepath.Join(dir, "axe.min.js")); rerr == nil {
			return b, nil
		}
		return nil, err
	}
	return js, nil
}

// untarFile returns the file named name from the gzipped tarball tgz.
func untarFile(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no %s in the tarball", name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(io.LimitReader(tr, 64<<20))
		}
	}
}

// axeViolation is one rule axe-core found broken on the page.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun runs axe.run() on the document and returns the violations as
// JSON (axe's results hold cyclic-free plain data, but only the fields
// axeViolation reads are kept, to keep the transfer small).
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
	id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary}))
}))))`

// Axe injects axe-core (AxeScript) into the page loaded in ctx and runs
// axe.run() on the whole document. It fails the test (t.Errorf, so the
// test goes on) listing every violation whose impact is serious or
// critical, with the rule's id, its help text and the offending nodes;
// moderate and minor ones are logged.
// Injection goes through the DevTools protocol, so the page's Content
// Security Policy does not block it.
func Axe(t testing.TB, ctx context.Context) {
	t.Helper()
	js := AxeScript(t)
	actx, cancel := context.WithTimeout(ctx, browserActionTimeout)
	defer cancel()
	if _, err := chromedp.Run(actx, chromedp.Evaluate[bool](string(js)+"\n;true")); err != nil {
		t.Fatalf("testenv: Axe: injecting axe-core: %v", err)
	}
	out, err := chromedp.Run(actx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("testenv: Axe: axe.run: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("testenv: Axe: reading axe's results: %v", err)
	}
	location, _ := chromedp.Run(actx, chromedp.Location())
	var serious []string
	for _, v := range vs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s (%s): %s [%s]", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n      %v %s", n.Target, n.HTML)
			if n.Summary != "" {
				fmt.Fprintf(&b, "\n        %s", strings.ReplaceAll(n.Summary, "\n", "\n        "))
			}
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			serious = append(serious, b.String())
		} else {
			t.Logf("testenv: Axe %s: %s", location, b.String())
		}
	}
	if len(serious) > 0 {
		t.Errorf("testenv: Axe: %d serious or critical accessibility violations on %s:\n  %s",
			len(serious), location, strings.Join(serious, "\n  "))
	}
}
