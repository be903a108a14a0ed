// Package testenv gives tests real backing services: a Redis server, a
// PostgreSQL database and a headless Chromium. Tests that use it run against
// the real thing. When a prerequisite is missing the test fails with a
// message naming the Debian package to install (./scripts/test installs all
// of them when run as root); nothing here skips a test, except in -short
// mode, where every constructor skips (see Servers) so that
// `go test -short ./...` runs the self-contained tests alone, quickly.
//
// wait.go has the waits tests use instead of fixed sleeps: Eventually polls
// a condition until it holds, QueueIdle and Completed give the
// positive signal that the job queues have nothing left to do.
//
// # Fallback chain
//
// Every service is looked up in the same order:
//
//  1. An environment variable naming an existing service:
//     TEST_REDIS_ADDR (host:port) for RedisAddr, TEST_DATABASE_URL
//     (a postgres:// URL of a role allowed to CREATE DATABASE) for
//     PostgresURL, CHROMIUM_PATH for Chromium.
//  2. A container started with github.com/ory/dockertest/v3 (redis:7,
//     postgres:15), but only when a Docker engine answers a ping. The probe
//     runs once per test process and its answer is cached; on machines with
//     only the docker CLI and no engine it fails in well under a second.
//     Set TESTENV_NO_DOCKER=1 to skip the probe altogether.
//  3. Local Debian binaries: redis-server from PATH, and PostgreSQL from
//     PG_BINDIR or /usr/lib/postgresql/*/bin (the newest version found).
//     Servers listen on free loopback ports and keep their data in
//     temporary directories. When the test process runs as root, PostgreSQL
//     runs as the "postgres" user, because initdb refuses to run as root.
//
// Child processes are started with SysProcAttr.Pdeathsig = SIGKILL, so they
// die with the test binary even when it is killed or crashes.
//
// # Lifetimes
//
// RedisAddr starts one server per call and stops it in t.Cleanup.
//
// PostgresURL shares one PostgreSQL server per test process (started lazily
// on first use) and creates a fresh database per call, dropped in t.Cleanup.
// Packages that use PostgresURL should stop the shared server when their
// tests finish:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without Main the server is still killed by Pdeathsig when the test binary
// exits, but its temporary directory stays until the next test process that
// starts a local server removes it.
//
// DumpDOM and Screenshot run a fresh headless Chromium per call with its own
// empty profile directory.
//
// # Browser tests
//
// Browser (browser.go) starts one headless Chromium per call, driven with
// github.com/chromedp/chromedp, and closes it in t.Cleanup. Shoot writes a
// full-page PNG at a viewport (Desktop, Phone) to ArtifactsDir
// ($BRIDGE_ARTIFACTS, else testdata/artifacts/screenshots/); Axe runs
// axe-core (npm, pinned, fetched once into testdata/.cache/) on the page and
// fails the test on every serious or critical violation:
//
//	ctx := testenv.Browser(t)
//	for _, v := range testenv.Viewports {
//		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
//			t.Fatal(err)
//		}
//		testenv.Shoot(t, ctx, "pay-ar", v.W, v.H)
//		testenv.Axe(t, ctx)
//	}
package testenv
