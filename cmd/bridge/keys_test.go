package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/api"
	"paybridge/internal/routes"
	"paybridge/internal/secrets"
	"paybridge/internal/server"
	"paybridge/internal/store"
	"paybridge/internal/testenv"
)

// exitCode is the status the process would exit with for err.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 2
}

// Every command and subcommand answers --help and -h with its own usage,
// on stdout, without error (and without opening anything).
func TestHelp(t *testing.T) {
	setEnv(t, "BRIDGE_DATABASE_URL", "mysql://never-opened")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"bridge keys check", "bridge healthcheck", "bridge shops list", "bridge jobs replay", "--help"}},
		{[]string{"help"}, []string{"bridge keys rotate"}},
		{[]string{"serve"}, []string{"usage: bridge serve", "-role"}},
		{[]string{"migrate"}, []string{"usage: bridge migrate"}},
		{[]string{"shops"}, []string{"bridge shops add", "bridge shops list"}},
		{[]string{"shops", "add"}, []string{"usage: bridge shops add", "-platform", "-upay-api-key", "-cko-secret-key", "-kupay-api-token", "-json"}},
		{[]string{"shops", "list"}, []string{"usage: bridge shops list", "-json"}},
		{[]string{"jobs"}, []string{"bridge jobs archived", "bridge jobs replay"}},
		{[]string{"jobs", "archived"}, []string{"usage: bridge jobs archived", "-json"}},
		{[]string{"jobs", "replay"}, []string{"usage: bridge jobs replay", "-all"}},
		{[]string{"keys"}, []string{"bridge keys check", "bridge keys rotate", "NEW,OLD"}},
		{[]string{"keys", "check"}, []string{"usage: bridge keys check", "-json"}},
		{[]string{"keys", "rotate"}, []string{"usage: bridge keys rotate", "-batch"}},
		{[]string{"payments"}, []string{"bridge payments list", "bridge payments show"}},
		{[]string{"payments", "list"}, []string{"usage: bridge payments list", "-status", "-shop"}},
		{[]string{"payments", "show"}, []string{"usage: bridge payments show", "-json"}},
		{[]string{"healthcheck"}, []string{"usage: bridge healthcheck", "-ready", "-timeout", "-url"}},
		{[]string{"version"}, []string{"usage: bridge version"}},
	} {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string{}, tc.args...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				if err := run(t.Context(), args, &out, &errb); err != nil {
					t.Fatalf("err = %v", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(out.String(), w) {
						t.Errorf("stdout lacks %q:\n%s", w, out.String())
					}
				}
			})
		}
	}
}

// withKey sets BRIDGE_MASTER_KEY for the next commands.
func withKey(t *testing.T, key string) { t.Setenv("BRIDGE_MASTER_KEY", key) }

func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	return out.String() + errb.String(), err
}

// A rotation K1 → K2 can be finished: with "K2,K1" `keys rotate`
// re-seals everything, `keys check` then finds nothing left under K1, and
// the bridge runs on K2 alone. Before the rotation, K2 alone is refused
// at start with a message, and `keys check` exits 1.
func TestKeysRotateAndCheck(t *testing.T) {
	setEnv(t)
	k1, _ := secrets.GenerateKey()
	k2, _ := secrets.GenerateKey()
	withKey(t, k1)
	for _, name := range []string{"One", "Two", "Three"} {
		if out, err := cli(t, "shops", "add", "--platform", "api", "--name", name, "--gateway", "upay", "--gateway-key", "k-"+name); err != nil {
			t.Fatalf("shops add: %v %s", err, out)
		}
	}
	if out, err := cli(t, "keys", "check"); err != nil || !strings.Contains(out, "primary") {
		t.Fatalf("check with K1: %v\n%s", err, out)
	}

	withKey(t, k2)
	out, err := cli(t, "shops", "list")
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "BRIDGE_MASTER_KEY holds other keys") {
		t.Fatalf("K2 alone before rotation: %v\n%s", err, out)
	}
	out, err = cli(t, "keys", "check")
	if exitCode(err) != 1 || !strings.Contains(out, "not configured") {
		t.Fatalf("check with K2 alone: exit %d %v\n%s", exitCode(err), err, out)
	}

	withKey(t, k2+","+k1)
	if out, err := cli(t, "keys", "check"); err != nil || !strings.Contains(out, "older") || !strings.Contains(out, "bridge keys rotate") {
		t.Fatalf("check while rotating: %v\n%s", err, out)
	}
	if out, err := cli(t, "keys", "rotate", "--batch", "2"); err != nil || !strings.Contains(out, "9 value(s) re-sealed") {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if out, err := cli(t, "keys", "rotate"); err != nil || !strings.Contains(out, "0 value(s) re-sealed") {
		t.Fatalf("rotate again: %v\n%s", err, out)
	}

	withKey(t, k2)
	out, err = cli(t, "keys", "check", "--json")
	var rows []keyRow
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Status != "primary" || rows[0].Values != 9 {
		t.Fatalf("check with K2 after rotation: %v\n%s", err, out)
	}
	if out, err := cli(t, "shops", "list"); err != nil || strings.Count(out, " ok") != 3 {
		t.Fatalf("shops list with K2 after rotation: %v\n%s", err, out)
	}
}

// A deleted key file is not silently replaced: the bridge refuses to
// start, says the file was missing, and leaves no new key behind, so that
// restoring the backup brings everything back. A key file holding another
// key is refused too.
func TestMissingKeyFile(t *testing.T) {
	db := setEnv(t)
	keyFile := strings.TrimPrefix(db, "sqlite:") + ".key"
	if out, err := cli(t, "shops", "add", "--platform", "api", "--name", "One", "--gateway", "upay", "--gateway-key", "k1"); err != nil {
		t.Fatalf("shops add: %v %s", err, out)
	}
	backup, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(keyFile)
	if out, err := cli(t, "keys", "check"); exitCode(err) != 1 || !strings.Contains(out, "not configured") {
		t.Fatalf("keys check without its key file: exit %d %v\n%s", exitCode(err), err, out)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("keys check left a new key file behind: %v", err)
	}
	_, err = cli(t, "migrate") // what compose runs first; serve opens the database the same way
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "was missing") ||
		!strings.Contains(err.Error(), "restore "+keyFile) {
		t.Fatalf("migrate without its key file: %v", err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a new key file was left behind: %v", err)
	}
	other, _ := secrets.GenerateKey()
	if err := os.WriteFile(keyFile, []byte(other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "shops", "list"); err == nil || !strings.Contains(err.Error(), "holds another key") {
		t.Fatalf("wrong key file: %v", err)
	}
	if err := os.WriteFile(keyFile, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, "shops", "list"); err != nil || !strings.Contains(out, "One") {
		t.Fatalf("after restoring the key file: %v %s", err, out)
	}
}

// One shop whose secrets no configured key opens does not stop the
// bridge, the other shops or `shops list`: the list shows its status, and
// its own requests answer 500 with the reason in the log, not a panic.
func TestUnreadableShop(t *testing.T) {
	t.Parallel()
	b := startBridge(t, backends[0])
	ctx := t.Context()
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.ParseKey(k)
	other, err := store.Open(ctx, b.env["BRIDGE_DATABASE_URL"], kr)
	if err != nil {
		t.Fatal(err)
	}
	lostKey := "pk_lost_shop_key"
	err = other.CreateShop(ctx, &checkout.Shop{ID: "shop_lost", Name: "Lost", Platform: checkout.PlatformAPI,
		Gateway: checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "x"}}, APIKeyHash: api.HashAPIKey(lostKey)})
	other.Close()
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := b.run(ctx, []string{"shops", "list"}, &out); err != nil {
		t.Fatalf("shops list: %v", err)
	}
	if !strings.Contains(out.String(), "secrets unreadable") || !strings.Contains(out.String(), "shop_lost") || strings.Count(out.String(), " ok") != 1 {
		t.Fatalf("shops list:\n%s", out.String())
	}

	lost := *b
	lost.apiKey = lostKey
	if code, body := lost.do("GET", routes.APIGroup+"/payments/pay_nope", nil); code != 500 {
		t.Fatalf("the unreadable shop's request: %d %v", code, body)
	}
	testenv.EventuallyTrue(t, 5*time.Second, "the reason in the log", func() bool {
		return strings.Contains(b.logs.String(), "secrets cannot be opened")
	})
	if code, body := b.do("GET", routes.APIGroup+"/payments/pay_nope", nil); code != 404 {
		t.Fatalf("the other shop's request: %d %v", code, body)
	}

	// And the bridge still starts (a restart) with that shop in the database.
	b.restart()
	if code, _ := b.do("GET", routes.APIGroup+"/payments/pay_nope", nil); code != 404 {
		t.Fatalf("after a restart: %d", code)
	}
}

// healthcheck asks the local bridge's real operations server: 0 when it
// answers, 1 when it is not ready or not there.
func TestHealthcheck(t *testing.T) {
	setEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Production: true, Ready: []server.ReadyCheck{
		{Name: "database", Check: func(context.Context) error { return errors.New("down") }},
	}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	t.Setenv("BRIDGE_ADDR", ":"+port)

	if out, err := cli(t, "healthcheck"); err != nil || !strings.Contains(out, "/healthz: 200") {
		t.Fatalf("healthcheck: %v %s", err, out)
	}
	if _, err := cli(t, "healthcheck", "--ready"); exitCode(err) != 1 || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck --ready of a bridge not ready: exit %d %v", exitCode(err), err)
	}
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	t.Setenv("BRIDGE_ADDR", addr)
	if _, err := cli(t, "healthcheck", "--timeout", "2s"); exitCode(err) != 1 {
		t.Fatalf("healthcheck with nothing listening: exit %d %v", exitCode(err), err)
	}
	t.Setenv("BRIDGE_ADDR", "8080")
	if _, err := cli(t, "healthcheck"); exitCode(err) != 2 || !strings.Contains(err.Error(), "BRIDGE_ADDR") {
		t.Fatalf("bad BRIDGE_ADDR: %v", err)
	}
}

// A localhost BRIDGE_PUBLIC_URL that nobody chose is warned about, except
// in development (simulators or insecure URLs on) and when it was set.
func TestPublicURLWarning(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		warn bool
	}{
		{nil, true},
		{[]string{"BRIDGE_SIMULATORS", "true"}, false},
		{[]string{"BRIDGE_ALLOW_INSECURE_URLS", "true"}, false},
		{[]string{"BRIDGE_PUBLIC_URL", "https://pay.example.com"}, false},
		{[]string{"BRIDGE_PUBLIC_URL", "http://localhost:8080"}, false}, // chosen: the operator's call
	} {
		t.Run(strings.Join(tc.env, "="), func(t *testing.T) {
			setEnv(t, tc.env...)
			c, err := loadConfig()
			if err != nil {
				t.Fatal(err)
			}
			if w := c.publicURLWarning(); (w != "") != tc.warn || (tc.warn && !strings.Contains(w, "BRIDGE_PUBLIC_URL")) {
				t.Fatalf("warning = %q, want one: %v", w, tc.warn)
			}
		})
	}
}
