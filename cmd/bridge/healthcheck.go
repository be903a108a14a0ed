package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// cmdHealthcheck asks the local bridge (web or worker: both answer
// /healthz and /readyz on BRIDGE_ADDR) whether it is up, for container
// health checks. It needs no shell, so it works in the distroless image,
// and reads only BRIDGE_ADDR: a health check must not fail because of an
// unrelated setting.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "[--ready] [--timeout 3s] [--url URL]",
		"GETs /healthz (or, with --ready, /readyz: database and Redis reachable) of the\nbridge listening on BRIDGE_ADDR on this machine; exits 0 when it answers 2xx, 1\notherwise. For Docker HEALTHCHECK and compose healthcheck.", stderr)
	ready := fs.Bool("ready", false, "check readiness (/readyz) instead of liveness (/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	target := fs.String("url", "", "the URL to check (default http://127.0.0.1:<port of BRIDGE_ADDR>/healthz)")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected arguments %q", fs.Args())
	}
	if *timeout <= 0 {
		return fmt.Errorf("healthcheck: --timeout %s: must be positive", *timeout)
	}
	u := *target
	if u == "" {
		var err error
		if u, err = localURL(os.Getenv("BRIDGE_ADDR")); err != nil {
			return err
		}
		if *ready {
			u += "/readyz"
		} else {
			u += "/healthz"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("healthcheck: %s: %v", u, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &exitError{code: 1, msg: fmt.Sprintf("healthcheck: %s: %s %s", u, resp.Status, strings.TrimSpace(string(body)))}
	}
	fmt.Fprintf(stdout, "%s: %s\n", u, resp.Status)
	return nil
}

// localURL is the base URL of the bridge listening on addr (BRIDGE_ADDR,
// default :8080) seen from this machine: a wildcard host is loopback.
func localURL(addr string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("healthcheck: BRIDGE_ADDR=%q: want host:port or :port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
