package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"paybridge/internal/metrics"
)

// healthz is the liveness probe: it depends on nothing but the process.
func (s *Server) healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz is the readiness probe: every ReadyCheck runs concurrently with
// ReadyCheckTimeout each. All ok gives 200 {"status":"ok","checks":{…}};
// any failure 503 {"status":"unavailable","checks":{name: error message}}.
func (s *Server) readyz(c *gin.Context) {
	results := runChecks(c.Request.Context(), s.cfg.Ready, ReadyCheckTimeout)
	status, body := http.StatusOK, "ok"
	checks := make(map[string]string, len(results))
	for _, r := range results {
		if r.err != nil {
			status, body = http.StatusServiceUnavailable, "unavailable"
			checks[r.name] = r.err.Error()
			Logger(c).Warn("server: readiness check failed", "check", r.name, "err", r.err, "duration", r.took)
			continue
		}
		checks[r.name] = "ok"
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(status, gin.H{"status": body, "checks": checks})
}

type checkResult struct {
	name string
	err  error
	took time.Duration
}

// runChecks runs every check concurrently, each with its own timeout. A
// check that ignores its context is abandoned at the timeout (its goroutine
// finishes on its own); a check that panics fails.
func runChecks(ctx context.Context, checks []ReadyCheck, timeout time.Duration) []checkResult {
	out := make([]checkResult, len(checks))
	var wg sync.WaitGroup
	for i, rc := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- fmt.Errorf("check panicked: %v", v)
					}
				}()
				if rc.Check == nil {
					done <- errors.New("no check function")
					return
				}
				done <- rc.Check(cctx)
			}()
			var err error
			select {
			case err = <-done:
			case <-cctx.Done():
				err = fmt.Errorf("timed out after %s: %w", timeout, cctx.Err())
			}
			name := rc.Name
			if name == "" {
				name = fmt.Sprintf("check%d", i)
			}
			out[i] = checkResult{name: name, err: err, took: time.Since(start)}
		}()
	}
	wg.Wait()
	return out
}

// MetricsAccess says who may read /metrics ([Config.MetricsAccess]).
type MetricsAccess int

const (
	// MetricsOpen serves /metrics to anyone (a listener of its own).
	MetricsOpen MetricsAccess = iota
	// MetricsLoopback serves /metrics only to clients on this machine that
	// connect directly: the remote address is loopback and the request
	// carries no X-Forwarded-For, X-Real-Ip or Forwarded header (a reverse
	// proxy on the same machine adds one, and its clients are refused).
	MetricsLoopback
	// MetricsOff serves no /metrics (it is served elsewhere).
	MetricsOff
)

// metricsGuard refuses /metrics to those Config.MetricsAccess and
// Config.MetricsToken leave out: 401 without the right token, 404 to a
// client that is not local (nothing says the endpoint exists).
func (s *Server) metricsGuard(c *gin.Context) {
	if tok := s.cfg.MetricsToken; tok != "" {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="metrics"`)
			WriteError(c, Error(http.StatusUnauthorized, "unauthorized", "metrics need Authorization: Bearer <BRIDGE_METRICS_TOKEN>"))
			return
		}
	}
	if s.cfg.MetricsAccess == MetricsLoopback && s.cfg.MetricsToken == "" && !directLoopback(c.Request) {
		s.notFound(c)
		c.Abort()
		return
	}
	c.Next()
}

// directLoopback reports whether r comes straight from this machine, not
// through a proxy.
func directLoopback(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// metrics serves metrics.Registry in the Prometheus exposition format.
func (s *Server) metrics() gin.HandlerFunc {
	h := promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{s},
	})
	return gin.WrapH(h)
}

// promLogger adapts the server's logger to promhttp.Logger.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Warn("server: metrics: " + fmt.Sprint(v...)) }
