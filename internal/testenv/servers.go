package testenv

import (
	"os/exec"
	"testing"
)

// Servers marks a test as needing a server or program from outside the Go
// toolchain (a database, a queue server, a browser, an interpreter). In
// -short mode (go test -short) it skips the test; otherwise it does
// nothing, so that a missing server fails the test with the constructor's
// message, never skips it.
//
// RedisAddr, PostgresURL, Chromium (and through it DumpDOM and Screenshot)
// and PHP call it themselves; tests call it directly only to skip before
// expensive setup that comes ahead of those calls.
func Servers(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: needs an external server or program; -short runs only self-contained tests")
	}
}

// PHP returns the path of the php command-line interpreter, failing the
// test, naming the Debian package php-cli, when there is none. In -short
// mode it skips the test (see Servers).
func PHP(t testing.TB) string {
	t.Helper()
	Servers(t)
	path, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("testenv: php-cli is required (apt-get install php-cli; ./scripts/test installs it when run as root): %v", err)
	}
	return path
}
