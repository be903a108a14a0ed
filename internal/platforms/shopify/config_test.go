package shopify

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"paybridge/internal/platforms/shopify/shopifytest"
)

func TestNewRequires(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{APISecret: "s", PublicURL: "https://p"}, "SHOPIFY_API_KEY"},
		{"no secret", Config{APIKey: "k", PublicURL: "https://p"}, "SHOPIFY_API_SECRET"},
		{"no public URL", Config{APIKey: "k", APISecret: "s"}, "public URL"},
	} {
		if _, err := New(nil, nil, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	p, err := New(nil, nil, Config{APIKey: "k", APISecret: "s", PublicURL: "https://p/"})
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.APIVersion != DefaultAPIVersion || p.cfg.Scopes != DefaultScopes || p.SessionAddr() != DefaultSessionAddr || p.cfg.PublicURL != "https://p" {
		t.Fatalf("defaults: %+v", p.cfg)
	}
	if p.origin("a.myshopify.com") != "https://a.myshopify.com" {
		t.Fatal(p.origin("a.myshopify.com"))
	}
}

func TestSessionTLSConfigFiles(t *testing.T) {
	sim := shopifytest.New("k", "s")
	defer sim.Close()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, keyPEM := sim.ServerCertPEM()
	ca, cert, key := write("ca.pem", sim.ClientCAPEM()), write("cert.pem", certPEM), write("key.pem", keyPEM)
	junk := write("junk.pem", []byte("not a certificate"))
	for _, c := range []struct {
		name          string
		ca, cert, key string
		want          string
	}{
		{"ok", ca, cert, key, ""},
		{"no CA", "", cert, key, "SHOPIFY_MTLS_CA_FILE is required"},
		{"missing CA file", filepath.Join(dir, "nope.pem"), cert, key, "SHOPIFY_MTLS_CA_FILE"},
		{"CA not PEM", junk, cert, key, "no PEM certificate"},
		{"no certificate", ca, "", "", "SHOPIFY_MTLS_CERT_FILE"},
		{"bad key", ca, cert, junk, "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := New(nil, nil, Config{APIKey: "k", APISecret: "s", PublicURL: "https://p",
				SessionCAFile: c.ca, SessionCertFile: c.cert, SessionKeyFile: c.key})
			cfg, err := p.SessionTLSConfig()
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil || cfg.MinVersion != tls.VersionTLS12 {
				t.Fatalf("tls config: %+v", cfg)
			}
		})
	}
}
