package testenv

import (
	"bytes"
	"context"
	"errors"

	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"paybridge/internal/localsvc"
)

// chromiumTimeout bounds one headless Chromium run.
const chromiumTimeout = 30 * time.Second

// chromiumVirtualTimeBudget lets scripts, timers and meta refreshes of the
// page run (in virtual time, so usually faster than real time) before the
// DOM is dumped or the screenshot is taken.
const chromiumVirtualTimeBudget = 5000 // milliseconds

// chromiumFlags are the flags that make Chromium run headless here: as
// root (no sandbox), without a GPU, and without background connections to
// Google's hosts, which this machine's closed network refuses.
var chromiumFlags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
	"--hide-scrollbars",
	"--mute-audio",
}

// Chromium returns the path of a headless-capable Chromium: CHROMIUM_PATH
// if set, else chromium or chromium-browser from PATH, else
// /usr/bin/chromium. It fails the test, naming the Debian package chromium,
// when none is found.
func Chromium(t testing.TB) string {
	t.Helper()
	Servers(t)
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("testenv: CHROMIUM_PATH=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: Chromium not found (chromium, chromium-browser): install the Debian package chromium " +
		"(./scripts/test installs it when run as root), or set CHROMIUM_PATH")
	return ""
}

// DumpDOM loads url in a fresh headless Chromium, lets its scripts run
// (up to a virtual-time budget of 5 s) and returns the serialized DOM
// (--dump-dom). It fails the test if Chromium fails or takes longer than
// 30 s.
func DumpDOM(t testing.TB, url string) string {
	t.Helper()
	out := runChromium(t, "--dump-dom", url)
	if len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("testenv: chromium --dump-dom %s printed nothing", url)
	}
	return string(out)
}

// Screenshot loads url in a fresh headless Chromium with a window of
// width x height pixels, lets its scripts run (up to a virtual-time budget
// of 5 s) and writes a PNG of the viewport to pngPath. It fails the test if
// no PNG is written.
func Screenshot(t testing.TB, url, pngPath string, width, height int) {
	t.Helper()
	if width <= 0 || height <= 0 {
		t.Fatalf("testenv: Screenshot: bad size %dx%d", width, height)
	}
	_ = os.Remove(pngPath)
	runChromium(t,
		"--screenshot="+pngPath,
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height),
		url)
	b, err := os.ReadFile(pngPath)
	if err != nil {
		t.Fatalf("testenv: chromium wrote no screenshot of %s: %v", url, err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("testenv: screenshot %s of %s is not a PNG", pngPath, url)
	}
}

// runChromium runs Chromium headless with a fresh profile and the extra
// arguments, returning its standard output.
func runChromium(t testing.TB, args ...string) []byte {
	t.Helper()
	bin := Chromium(t)
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()

	argv := append([]string{}, chromiumFlags...)
	argv = append(argv,
		"--user-data-dir="+profile,
		"--virtual-time-budget="+strconv.Itoa(chromiumVirtualTimeBudget),
	)
	argv = append(argv, args...)
	cmd := exec.Command(bin, argv...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout // stderr is kept by the Proc, for errors
	cmd.Dir = profile
	cmd.Env = append(os.Environ(), "HOME="+profile)
	// Own process group, so the browser's helper processes are killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	c, err := localsvc.Start(cmd)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	select {
	case <-c.Done():
	case <-ctx.Done():
		killGroup()
		<-c.Done()
	}
	killGroup() // helpers left behind after a normal exit
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("testenv: chromium %v timed out after %v\n%s", args, chromiumTimeout, c.Output(30))
	}
	if c.Err() != nil {
		t.Fatalf("testenv: chromium %v: %v\n%s", args, c.Err(), c.Output(30))
	}
	t.Logf("testenv: chromium %s took %v", args[0], time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}
