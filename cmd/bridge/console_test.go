package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// The served bridge mounts the console at /admin, and /metrics moves to
// BRIDGE_METRICS_ADDR behind BRIDGE_METRICS_TOKEN.
func TestServeConsoleAndMetrics(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	const token = "metrics-token-0123456789"
	b := startBridgeEnv(t, backends[0], &upayDriver{}, map[string]string{"BRIDGE_METRICS_ADDR": metricsAddr, "BRIDGE_METRICS_TOKEN": token})
	p := b.create("console-1", "1.500", "KWD")

	stdin = strings.NewReader("a long enough password\n")
	if err := b.run(t.Context(), []string{"users", "add", "--email", "ops@example.com"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(b.base+"/admin/login", url.Values{"email": {"ops@example.com"}, "password": {"a long enough password"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), p["id"].(string)) || !strings.Contains(string(body), "1.500 KWD") {
		t.Fatalf("console after sign-in: %d\n%s", resp.StatusCode, body)
	}

	get := func(u, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(b.base+"/metrics", token); code != 404 {
		t.Errorf("main address /metrics: %d, want 404", code)
	}
	if code := get("http://"+metricsAddr+"/metrics", ""); code != 401 {
		t.Errorf("metrics address without the token: %d, want 401", code)
	}
	if code := get("http://"+metricsAddr+"/metrics", token); code != 200 {
		t.Errorf("metrics address with the token: %d", code)
	}
}

func TestMetricsConfigErrors(t *testing.T) {
	for _, tt := range [][]string{
		{"BRIDGE_METRICS_ADDR", "9090"},
		{"BRIDGE_METRICS_ADDR", ":8080"},
		{"BRIDGE_METRICS_TOKEN", "short"},
	} {
		t.Run(strings.Join(tt, "="), func(t *testing.T) {
			setEnv(t, tt...)
			if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), tt[0]) {
				t.Fatalf("loadConfig: %v, want an error naming %s", err, tt[0])
			}
		})
	}
}
