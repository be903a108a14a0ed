package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"paybridge/internal/cko"
	"paybridge/internal/kupay"
	"paybridge/internal/upay"
)

// setEnv sets the environment for one CLI run on a fresh SQLite file.
func setEnv(t *testing.T, kv ...string) string {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "b.db")
	for _, k := range []string{"BRIDGE_ADDR", "BRIDGE_PUBLIC_URL", "BRIDGE_REDIS_URL", "BRIDGE_MASTER_KEY",
		"UPAY_SANDBOX_URL", "UPAY_LIVE_URL", "CKO_SANDBOX_URL", "CKO_LIVE_URL", "KUPAY_URL", "BRIDGE_RECONCILE_INTERVAL", "BRIDGE_RECONCILE_AFTER",
		"BRIDGE_SYNC_RETRY_DELAYS", "BRIDGE_WEBHOOK_CHECK_INTERVAL", "BRIDGE_ALLOW_INSECURE_URLS", "BRIDGE_SIMULATORS", "BRIDGE_LOG_FORMAT", "BRIDGE_LOG_LEVEL", "BRIDGE_MEMORY_LIMIT"} {
		t.Setenv(k, "")
	}
	t.Setenv("BRIDGE_DATABASE_URL", db)
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
	return db
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"BRIDGE_ADDR", "8080"}, "BRIDGE_ADDR"},
		{[]string{"BRIDGE_PUBLIC_URL", "pay.example.com"}, "BRIDGE_PUBLIC_URL"},
		{[]string{"BRIDGE_PUBLIC_URL", "https://pay.example.com/bridge?x=1"}, "BRIDGE_PUBLIC_URL"},
		{[]string{"BRIDGE_DATABASE_URL", "mysql://x"}, "BRIDGE_DATABASE_URL"},
		{[]string{"BRIDGE_DATABASE_URL", "postgres://u@h/db"}, "BRIDGE_MASTER_KEY: required with PostgreSQL"},
		{[]string{"BRIDGE_REDIS_URL", "localhost:6379"}, "BRIDGE_REDIS_URL"},
		{[]string{"UPAY_LIVE_URL", "not a url"}, "UPAY_LIVE_URL"},
		{[]string{"CKO_SANDBOX_URL", "api.sandbox.checkout.com"}, "CKO_SANDBOX_URL"},
		{[]string{"CKO_LIVE_URL", "not a url"}, "CKO_LIVE_URL"},
		{[]string{"KUPAY_URL", "ftp://api.kupay.finance"}, "KUPAY_URL"},
		{[]string{"BRIDGE_RECONCILE_INTERVAL", "soon"}, "BRIDGE_RECONCILE_INTERVAL"},
		{[]string{"BRIDGE_RECONCILE_INTERVAL", "10ms"}, "BRIDGE_RECONCILE_INTERVAL"},
		{[]string{"BRIDGE_RECONCILE_AFTER", "-1m"}, "BRIDGE_RECONCILE_AFTER"},
		{[]string{"BRIDGE_SYNC_RETRY_DELAYS", "5s,x"}, "BRIDGE_SYNC_RETRY_DELAYS"},
		{[]string{"BRIDGE_ALLOW_INSECURE_URLS", "maybe"}, "BRIDGE_ALLOW_INSECURE_URLS"},
		{[]string{"BRIDGE_LOG_FORMAT", "xml"}, "BRIDGE_LOG_FORMAT"},
		{[]string{"BRIDGE_WEBHOOK_CHECK_INTERVAL", "0s"}, "BRIDGE_WEBHOOK_CHECK_INTERVAL"},
		{[]string{"SHOPIFY_API_KEY", "k"}, "SHOPIFY_API_SECRET"},
		{[]string{"SHOPIFY_MTLS_CA_FILE", "/tmp/ca.pem"}, "SHOPIFY_MTLS_CA_FILE"},
		{[]string{"BRIDGE_LOG_LEVEL", "loud"}, "BRIDGE_LOG_LEVEL"},
		{[]string{"BRIDGE_MASTER_KEY", "c2hvcnQ="}, "BRIDGE_MASTER_KEY"},
		{[]string{"BRIDGE_MEMORY_LIMIT", "lots"}, "BRIDGE_MEMORY_LIMIT"},
		{[]string{"BRIDGE_MEMORY_LIMIT", "1MiB"}, "BRIDGE_MEMORY_LIMIT"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.env, "="), func(t *testing.T) {
			setEnv(t, tt.env...)
			var out, errb bytes.Buffer
			err := run(t.Context(), []string{"migrate"}, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to name %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "c2hvcnQ=") {
				t.Fatalf("error prints the master key: %v", err)
			}
		})
	}
}

// TestMemoryLimit: the soft memory limit defaults to 64 MiB and can be
// set in any unit or turned off.
func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		v    string
		want int64
	}{{"", 64 << 20}, {"128MiB", 128 << 20}, {"1GiB", 1 << 30}, {"off", 0}, {"0", 0}} {
		setEnv(t)
		if c.v != "" {
			t.Setenv("BRIDGE_MEMORY_LIMIT", c.v)
		} else {
			os.Unsetenv("BRIDGE_MEMORY_LIMIT")
		}
		cfg, err := loadConfig()
		if err != nil || cfg.memoryLimit != c.want {
			t.Errorf("BRIDGE_MEMORY_LIMIT=%q: %d %v, want %d", c.v, cfg.memoryLimit, err, c.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	setEnv(t)
	t.Setenv("BRIDGE_DATABASE_URL", "")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	up, ck, ku := c.gateways[0].(*upay.Module), c.gateways[1].(*cko.Module), c.gateways[2].(*kupay.Module)
	if c.Addr != ":8080" || c.PublicURL != "http://localhost:8080" || c.DatabaseURL != "sqlite:bridge.db" ||
		up.SandboxURL != "https://sandboxapi.upayments.com/api/v1" || up.LiveURL != "https://apiv2api.upayments.com/api/v1" ||
		ck.SandboxURL != "https://api.sandbox.checkout.com" || ck.LiveURL != "https://api.checkout.com" || ku.URL != "https://api.kupay.finance" ||
		c.ReconcileInterval.String() != "15s" || c.ReconcileAfter.String() != "20s" || c.AllowInsecureURLs || c.Simulators {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestCLI(t *testing.T) {
	setEnv(t)
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"migrate"}, &out, &errb); err != nil || !strings.Contains(out.String(), "schema version") {
		t.Fatalf("migrate: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"shops", "add", "--platform", "api", "--name", "One", "--gateway", "upay", "--gateway-key", "k1"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "api key:") || !strings.Contains(out.String(), "whsec_") {
		t.Fatalf("shops add: %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"shops", "list", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 1 || rows[0]["Name"] != "One" {
		t.Fatalf("shops list: %q %v", out.String(), err)
	}
	if strings.Contains(out.String(), "k1") {
		t.Fatal("shops list prints the gateway key")
	}
	if strings.Contains(errb.String(), "k1") {
		t.Fatal("logs print the gateway key")
	}
	// The other gateways, with their own credential flags.
	out.Reset()
	if err := run(t.Context(), []string{"shops", "add", "--platform", "api", "--name", "Two", "--gateway", "cko",
		"--cko-secret-key", "sk_sbox_secret1", "--cko-processing-channel", "pc_1", "--cko-webhook-key", "whk_secret2"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"shops", "add", "--platform", "api", "--name", "Three", "--gateway", "kupay",
		"--kupay-token", "kp_secret3"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"shops", "list", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("shops list: %q %v", out.String(), err)
	}
	for _, secret := range []string{"sk_sbox_secret1", "whk_secret2", "kp_secret3"} {
		if strings.Contains(out.String(), secret) || strings.Contains(errb.String(), secret) {
			t.Fatalf("a gateway secret was printed: %s", secret)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--gateway", "cko", "--cko-secret-key", "sk", "--cko-processing-channel", "pc"}, "--cko-webhook-key is required with --gateway cko"},
		{[]string{"--gateway", "cko", "--cko-webhook-key", "wk"}, "--cko-secret-key is required with --gateway cko"},
		{[]string{"--gateway", "kupay"}, "--kupay-token is required with --gateway kupay"},
		{[]string{"--gateway", "kupay", "--kupay-token", "t", "--cko-secret-key", "sk"}, "--cko-secret-key is for --gateway cko, not kupay"},
		{[]string{"--gateway", "upay", "--gateway-key", "k", "--kupay-token", "t"}, "--kupay-token is for --gateway kupay, not upay"},
	} {
		err := run(t.Context(), append([]string{"shops", "add", "--platform", "api", "--name", "x"}, tt.args...), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	for _, bad := range [][]string{
		{"shops", "add", "--platform", "magento", "--name", "x", "--gateway-key", "k"},
		{"shops", "add", "--platform", "api", "--gateway-key", "k"},
		{"shops", "add", "--platform", "api", "--name", "x", "--gateway", "paypal", "--gateway-key", "k"},
		{"shops", "add", "--platform", "api", "--name", "x"},
		{"shops", "frobnicate"},
		{"jobs", "replay"},
		{"serve", "--role", "cashier"},
		{"nope"},
	} {
		if err := run(t.Context(), bad, &out, &errb); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"version"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "bridge ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	// jobs without a queue: a clear message, not a hang.
	err := run(t.Context(), []string{"jobs", "archived"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "BRIDGE_REDIS_URL") {
		t.Fatalf("jobs archived with no queue: %v", err)
	}
}
