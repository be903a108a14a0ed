package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"paybridge/internal/metrics"
	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	testenv.Main(m)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// routesFunc adapts a function to Routes.
type routesFunc func(r gin.IRouter)

func (f routesFunc) Register(r gin.IRouter) { f(r) }

// newTest returns a server logging to the returned buffer, with the test
// routes of extra mounted.
func newTest(t *testing.T, cfg Config, extra func(r gin.IRouter)) (*Server, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(cfg)
	if extra != nil {
		s.Mount(routesFunc(extra))
	}
	return s, buf
}

func do(s *Server, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w
}

func checkJSONError(t *testing.T, w *httptest.ResponseRecorder, status int, code, message string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	want := fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, code, message)
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

// logLines decodes the JSON log lines.
func logLines(t *testing.T, buf *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func accessLine(t *testing.T, buf *syncBuffer) map[string]any {
	t.Helper()
	for _, m := range logLines(t, buf) {
		if m["msg"] == "http request" {
			return m
		}
	}
	t.Fatalf("no access log line in %s", buf)
	return nil
}

func TestRequestID(t *testing.T) {
	s, buf := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/id", func(c *gin.Context) {
			// Both the gin context and the request context carry it.
			c.String(200, RequestID(c)+"|"+RequestID(c.Request.Context()))
		})
	})
	long := strings.Repeat("a", 129)
	tests := []struct {
		name, in string
		adopt    bool
	}{
		{"none", "", false},
		{"uuid", "0b6f7f2e-4c1a-4d7e-9f5e-2a1b3c4d5e6f", true},
		{"trace", "req_01HZX.abc:9", true},
		{"space", "abc def", false},
		{"newline", "abc\nlevel=ERROR", false},
		{"quote", `abc"`, false},
		{"too long", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/id", nil)
			if tt.in != "" {
				req.Header.Set(RequestIDHeader, tt.in)
			}
			w := do(s, req)
			id := w.Header().Get(RequestIDHeader)
			if tt.adopt && id != tt.in {
				t.Errorf("id = %q, want the incoming %q", id, tt.in)
			}
			if !tt.adopt && (id == tt.in || !validRequestID(id) || len(id) < 20) {
				t.Errorf("id = %q, want a fresh one", id)
			}
			if got := w.Body.String(); got != id+"|"+id {
				t.Errorf("handler saw %q, want %q", got, id+"|"+id)
			}
		})
	}
	// Two requests without an id get different ones.
	a := do(s, httptest.NewRequest("GET", "/id", nil)).Header().Get(RequestIDHeader)
	b := do(s, httptest.NewRequest("GET", "/id", nil)).Header().Get(RequestIDHeader)
	if a == b {
		t.Errorf("two requests share id %q", a)
	}
	if !strings.Contains(buf.String(), `"request_id":"`+b+`"`) {
		t.Errorf("access log lacks request id %s", b)
	}
	if RequestID(context.Background()) != "" {
		t.Error("RequestID outside a request is not empty")
	}
}

func TestPanicRecovery(t *testing.T) {
	s, buf := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/boom", func(c *gin.Context) { panic("secret-panic-value key=K123") })
		r.GET("/boom-late", func(c *gin.Context) {
			c.String(200, "partial")
			panic(errors.New("late"))
		})
	})
	w := do(s, httptest.NewRequest("GET", "/boom", nil))
	checkJSONError(t, w, 500, "internal_error", "internal error")
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "K123") {
		t.Errorf("panic value leaked: %s", w.Body)
	}
	id := w.Header().Get(RequestIDHeader)
	if id == "" {
		t.Error("no request id on the 500")
	}
	var sawPanic bool
	for _, m := range logLines(t, buf) {
		if m["msg"] == "server: panic in handler" {
			sawPanic = true
			if m["request_id"] != id {
				t.Errorf("panic log request_id = %v, want %s", m["request_id"], id)
			}
			if !strings.Contains(fmt.Sprint(m["stack"]), "server_test.go") {
				t.Errorf("panic log has no stack: %v", m["stack"])
			}
			if !strings.Contains(fmt.Sprint(m["panic"]), "secret-panic-value") {
				t.Errorf("panic log lacks the value: %v", m["panic"])
			}
		}
	}
	if !sawPanic {
		t.Errorf("panic not logged: %s", buf)
	}
	if a := accessLine(t, buf); a["status"] != float64(500) {
		t.Errorf("access log status = %v, want 500 (recovery must run inside the logger)", a["status"])
	}

	// A panic after the answer started must not append an error body.
	w = do(s, httptest.NewRequest("GET", "/boom-late", nil))
	if w.Body.String() != "partial" {
		t.Errorf("late panic body = %q", w.Body)
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 16
	called := false
	s, _ := newTest(t, Config{MaxBodyBytes: limit}, func(r gin.IRouter) {
		r.POST("/read", func(c *gin.Context) {
			called = true
			b, err := ReadBody(c)
			if err != nil {
				WriteError(c, err)
				return
			}
			// The body can be read again after ReadBody.
			again, _ := io.ReadAll(c.Request.Body)
			c.String(200, "%s|%s", b, again)
		})
		r.POST("/bind", func(c *gin.Context) {
			called = true
			var v map[string]any
			if err := c.ShouldBindJSON(&v); err != nil {
				WriteError(c, err)
				return
			}
			c.JSON(200, v)
		})
	})
	big := `{"a":"` + strings.Repeat("x", 100) + `"}`
	tests := []struct {
		name, path, body string
		announce         bool // send Content-Length
		status           int
		handlerRuns      bool
	}{
		{"small read", "/read", "hello", true, 200, true},
		{"small bind", "/bind", `{"a":1}`, true, 200, true},
		{"announced read", "/read", big, true, 413, false},
		{"announced bind", "/bind", big, true, 413, false},
		{"streamed read", "/read", big, false, 413, true},
		{"streamed bind", "/bind", big, false, 413, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called = false
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if !tt.announce {
				req.ContentLength = -1
			}
			w := do(s, req)
			if tt.status == 413 {
				checkJSONError(t, w, 413, "request_too_large", "request body too large")
			} else if w.Code != tt.status {
				t.Errorf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if called != tt.handlerRuns {
				t.Errorf("handler ran = %v, want %v", called, tt.handlerRuns)
			}
			if w.Header().Get(RequestIDHeader) == "" {
				t.Error("no request id")
			}
		})
	}
	w := do(s, httptest.NewRequest("POST", "/read", strings.NewReader("hello")))
	if w.Body.String() != "hello|hello" {
		t.Errorf("re-read body = %q", w.Body)
	}

	// Through a real server: a chunked upload (no Content-Length) and an
	// announced one.
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, chunked := range []bool{true, false} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(strings.NewReader(big)) // hides the length
		}
		resp, err := http.Post(ts.URL+"/bind", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(b), `"request_too_large"`) {
			t.Errorf("chunked=%v: %d %s", chunked, resp.StatusCode, b)
		}
	}
}

func TestTimeout(t *testing.T) {
	const d = 80 * time.Millisecond
	s, _ := newTest(t, Config{RequestTimeout: d}, func(r gin.IRouter) {
		r.GET("/deadline", func(c *gin.Context) {
			dl, ok := c.Request.Context().Deadline()
			dl2, ok2 := c.Deadline() // the gin context falls back to it
			if !ok || !ok2 || !dl.Equal(dl2) {
				c.String(500, "no deadline")
				return
			}
			if left := time.Until(dl); left <= 0 || left > d {
				c.String(500, "deadline %s away", left)
				return
			}
			c.String(200, "ok")
		})
		r.GET("/slow", func(c *gin.Context) {
			<-c.Done() // a handler that gives up when the deadline passes
		})
		r.GET("/slow-err", func(c *gin.Context) {
			<-c.Request.Context().Done()
			WriteError(c, fmt.Errorf("gateway call: %w", c.Request.Context().Err()))
		})
	})
	if w := do(s, httptest.NewRequest("GET", "/deadline", nil)); w.Code != 200 {
		t.Errorf("deadline: %d %s", w.Code, w.Body)
	}
	for _, p := range []string{"/slow", "/slow-err"} {
		start := time.Now()
		w := do(s, httptest.NewRequest("GET", p, nil))
		checkJSONError(t, w, 503, "timeout", "the request took too long; please try again")
		if el := time.Since(start); el > d+time.Second {
			t.Errorf("%s took %s", p, el)
		}
	}
}

func TestAccessLogRedaction(t *testing.T) {
	s, buf := newTest(t, Config{}, func(r gin.IRouter) {
		r.POST("/api/things/:id", func(c *gin.Context) {
			if _, err := ReadBody(c); err != nil {
				WriteError(c, err)
				return
			}
			c.String(201, "created")
		})
	})
	req := httptest.NewRequest("POST", "/api/things/42?sig=SIGVALUE123&key=KEYVALUE456&token=TOKQ",
		strings.NewReader(`{"card":"BODYSECRET"}`))
	req.Header.Set("Authorization", "Bearer AUTHVALUE789")
	req.Header.Set("Cookie", "session=COOKIEVALUE")
	req.Header.Set("X-Api-Key", "APIKEYVALUE")
	req.Header.Set(RequestIDHeader, "rid-access-1")
	req.RemoteAddr = "203.0.113.7:5555"
	w := do(s, req)
	if w.Code != 201 {
		t.Fatalf("status %d", w.Code)
	}
	out := buf.String()
	for _, secret := range []string{"SIGVALUE123", "sig=", "KEYVALUE456", "TOKQ", "AUTHVALUE789", "Bearer",
		"COOKIEVALUE", "APIKEYVALUE", "BODYSECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
	a := accessLine(t, buf)
	want := map[string]any{
		"method": "POST", "route": "/api/things/:id", "path": "/api/things/42",
		"status": float64(201), "bytes": float64(7), "request_id": "rid-access-1", "client_ip": "203.0.113.7",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("access log %s = %v, want %v", k, a[k], v)
		}
	}
	if _, ok := a["duration"]; !ok {
		t.Error("access log lacks duration")
	}
}

func TestTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"none trusted", nil, "10.0.0.1"},
		{"proxy trusted", []string{"10.0.0.0/8"}, "198.51.100.9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, buf := newTest(t, Config{TrustedProxies: tt.proxies}, nil)
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.RemoteAddr = "10.0.0.1:1234"
			req.Header.Set("X-Forwarded-For", "198.51.100.9")
			do(s, req)
			if got := accessLine(t, buf)["client_ip"]; got != tt.want {
				t.Errorf("client_ip = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	s, _ := newTest(t, Config{Ready: []ReadyCheck{{"database", func(context.Context) error { return errors.New("down") }}}}, nil)
	w := do(s, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", w.Code, w.Body)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks []ReadyCheck
		status int
		body   string
	}{
		{"no checks", nil, 200, `{"checks":{},"status":"ok"}`},
		{"all ok", []ReadyCheck{{"database", ok}, {"redis", ok}}, 200,
			`{"checks":{"database":"ok","redis":"ok"},"status":"ok"}`},
		{"redis down", []ReadyCheck{{"database", ok}, {"redis", func(context.Context) error {
			return fmt.Errorf("ping: %w", errors.New("connection refused"))
		}}}, 503, `{"checks":{"database":"ok","redis":"ping: connection refused"},"status":"unavailable"}`},
		{"panicking check", []ReadyCheck{{"database", func(context.Context) error { panic("oops") }}}, 503,
			`{"checks":{"database":"check panicked: oops"},"status":"unavailable"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTest(t, Config{Ready: tt.checks}, nil)
			w := do(s, httptest.NewRequest("GET", "/readyz", nil))
			if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != tt.body {
				t.Errorf("got %d %s, want %d %s", w.Code, w.Body, tt.status, tt.body)
			}
		})
	}
}

func TestRunChecksConcurrentAndBounded(t *testing.T) {
	// a and b each finish only once both have started: run one after the
	// other, the first would wait for the second until the timeout.
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	together := func(ctx context.Context) error {
		started.Done()
		select {
		case <-both:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	res := runChecks(context.Background(), []ReadyCheck{
		{"a", together},
		{"b", together},
		{"stuck", func(context.Context) error { <-release; return nil }}, // ignores ctx
		{"honours ctx", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	}, 300*time.Millisecond)
	el := time.Since(start)
	if el > time.Second {
		t.Errorf("checks took %s; want concurrent and bounded by the timeout", el)
	}
	if res[0].err != nil || res[1].err != nil {
		t.Errorf("fast checks failed: %v %v", res[0].err, res[1].err)
	}
	for _, r := range res[2:] {
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want deadline exceeded", r.name, r.err)
		}
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/api/metrics-test/:id", func(c *gin.Context) { c.Status(204) })
	})
	counter := metrics.HTTPRequests.WithLabelValues("GET", "/api/metrics-test/:id", "204")
	before := counterValue(t, counter)
	do(s, httptest.NewRequest("GET", "/api/metrics-test/1", nil))
	do(s, httptest.NewRequest("GET", "/api/metrics-test/2", nil))
	if d := counterValue(t, counter) - before; d != 2 {
		t.Errorf("counter grew by %v, want 2", d)
	}
	do(s, httptest.NewRequest("GET", "/no/such/path/123", nil))
	do(s, httptest.NewRequest("BREW", "/api/metrics-test/1", nil))
	w := do(s, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("metrics: %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`bridge_http_requests_total{method="GET",route="/api/metrics-test/:id",status="204"} `,
		`bridge_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`bridge_http_requests_total{method="OTHER",route="unmatched",status="405"}`,
		`bridge_http_request_duration_seconds_bucket{method="GET",route="/api/metrics-test/:id",le="+Inf"} `,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("an unmatched path became a label")
	}
}

func TestWriteError(t *testing.T) {
	cause := errors.New("upstream said: card 4111 declined, api key sk_live_X")
	tests := []struct {
		name          string
		err           error
		status        int
		code, message string
		header        [2]string
		logged        bool // the cause is in the log
	}{
		{"http error", Error(404, "payment_not_found", "no such payment"), 404, "payment_not_found", "no such payment", [2]string{}, false},
		{"wrapped http error", fmt.Errorf("handler: %w", Wrap(cause, 502, "gateway_error", "the gateway refused the payment")),
			502, "gateway_error", "the gateway refused the payment", [2]string{}, true},
		{"http error with header", &HTTPError{Status: 429, Code: "rate_limited", Message: "slow down", Header: http.Header{"Retry-After": {"30"}}},
			429, "rate_limited", "slow down", [2]string{"Retry-After", "30"}, false},
		{"defaults", &HTTPError{Status: 400}, 400, "bad_request", "Bad Request", [2]string{}, false},
		{"plain error", fmt.Errorf("store: %w", cause), 500, "internal_error", "internal error", [2]string{}, true},
		{"max bytes", fmt.Errorf("decode: %w", &http.MaxBytesError{Limit: 10}), 413, "request_too_large", "request body too large", [2]string{}, false},
		{"deadline, request alive", fmt.Errorf("call: %w", context.DeadlineExceeded), 500, "internal_error", "internal error", [2]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, buf := newTest(t, Config{}, func(r gin.IRouter) {
				r.GET("/e", func(c *gin.Context) { WriteError(c, tt.err) })
			})
			req := httptest.NewRequest("GET", "/e", nil)
			req.Header.Set(RequestIDHeader, "rid-err")
			w := do(s, req)
			checkJSONError(t, w, tt.status, tt.code, tt.message)
			if strings.Contains(w.Body.String(), "sk_live") {
				t.Errorf("cause leaked: %s", w.Body)
			}
			if tt.header[0] != "" && w.Header().Get(tt.header[0]) != tt.header[1] {
				t.Errorf("header %s = %q", tt.header[0], w.Header().Get(tt.header[0]))
			}
			if tt.logged {
				var found bool
				for _, m := range logLines(t, buf) {
					if m["msg"] == "server: request failed" && m["request_id"] == "rid-err" &&
						strings.Contains(fmt.Sprint(m["err"]), "card 4111 declined") {
						found = true
					}
				}
				if !found {
					t.Errorf("cause not logged with the request id: %s", buf)
				}
			}
		})
	}
}

func TestHTTPErrorUnwrap(t *testing.T) {
	cause := errors.New("root")
	e := Wrap(cause, 400, "bad", "bad input")
	if !errors.Is(e, cause) {
		t.Error("Wrap does not unwrap to its cause")
	}
	if got := e.Error(); got != "http 400 bad: bad input: root" {
		t.Errorf("Error() = %q", got)
	}
	var he *HTTPError
	if !errors.As(fmt.Errorf("x: %w", e), &he) || he.Code != "bad" {
		t.Error("errors.As through a wrap")
	}
}

func TestReadJSON(t *testing.T) {
	s, _ := newTest(t, Config{}, func(r gin.IRouter) {
		r.POST("/j", func(c *gin.Context) {
			var v struct{ A int }
			if err := ReadJSON(c, &v); err != nil {
				WriteError(c, err)
				return
			}
			c.String(200, "%d", v.A)
		})
	})
	if w := do(s, httptest.NewRequest("POST", "/j", strings.NewReader(`{"A":7}`))); w.Body.String() != "7" {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	w := do(s, httptest.NewRequest("POST", "/j", strings.NewReader(`{"A":`)))
	checkJSONError(t, w, 400, "invalid_json", "the request body is not valid JSON")
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s, _ := newTest(t, Config{}, func(r gin.IRouter) {
		r.GET("/api/payments/:id", func(c *gin.Context) { c.Status(200) })
		r.GET("/pay/:id", func(c *gin.Context) { c.Status(200) })
	})
	w := do(s, httptest.NewRequest("GET", "/api/nope", nil))
	checkJSONError(t, w, 404, "not_found", "no such endpoint")
	if w.Header().Get(RequestIDHeader) == "" {
		t.Error("404 lacks a request id")
	}

	w = do(s, httptest.NewRequest("DELETE", "/api/payments/1", nil))
	checkJSONError(t, w, 405, "method_not_allowed", "method not allowed for this endpoint")
	if w.Header().Get("Allow") != "GET" {
		t.Errorf("Allow = %q", w.Header().Get("Allow"))
	}

	// A trailing slash is not redirected (redirects skip the middleware).
	w = do(s, httptest.NewRequest("GET", "/api/payments/1/", nil))
	checkJSONError(t, w, 404, "not_found", "no such endpoint")

	w = do(s, httptest.NewRequest("GET", "/nope", nil))
	if w.Code != 404 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(w.Body.String(), `<html lang="en" dir="ltr">`) || !strings.Contains(w.Body.String(), "Page not found") {
		t.Errorf("HTML 404: %d %s", w.Code, w.Body)
	}
	req := httptest.NewRequest("GET", "/nope", nil)
	req.Header.Set("Accept-Language", "en;q=0.5, ar-KW")
	w = do(s, req)
	if !strings.Contains(w.Body.String(), `<html lang="ar" dir="rtl">`) || !strings.Contains(w.Body.String(), "الصفحة غير موجودة") {
		t.Errorf("Arabic 404: %s", w.Body)
	}
	w = do(s, httptest.NewRequest("POST", "/pay/1", nil))
	if w.Code != 405 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("HTML 405: %d %s", w.Code, w.Header())
	}
}

func TestLanding(t *testing.T) {
	s, _ := newTest(t, Config{Version: "v1.2.3", DocsURL: "https://example.com/paybridge#walkthrough", ShowInternals: true}, nil)
	w := do(s, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	for _, want := range []string{"paybridge is running", "v1.2.3", `href="/healthz"`, `href="/readyz"`, `href="/metrics"`,
		`href="https://example.com/paybridge#walkthrough"`, `href="/admin"`} {
		if !strings.Contains(body, want) {
			t.Errorf("landing lacks %s", want)
		}
	}
	if w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
}

// TestLandingProduction: by default the landing page says what the
// service is, in English or Arabic, and links to the console, and names
// no route, version or component.
func TestLandingProduction(t *testing.T) {
	s, _ := newTest(t, Config{Version: "v1.2.3", DocsURL: "https://example.com/paybridge#walkthrough"}, nil)
	for _, tc := range []struct{ accept, query, html, heading, link string }{
		{"", "", `<html lang="en" dir="ltr">`, "Payments for online stores", `<a class="button" href="/admin">Sign in to the console</a>`},
		{"ar-KW,ar;q=0.9", "", `<html lang="ar" dir="rtl">`, "مدفوعات المتاجر الإلكترونية", `<a class="button" href="/admin">تسجيل الدخول إلى لوحة التحكم</a>`},
		{"ar", "?lang=en", `<html lang="en" dir="ltr">`, "Payments for online stores", `href="/?lang=ar"`},
		{"", "?lang=ar", `<html lang="ar" dir="rtl">`, "مدفوعات المتاجر الإلكترونية", `href="/?lang=en"`},
	} {
		req := httptest.NewRequest("GET", "/"+tc.query, nil)
		req.Header.Set("Accept-Language", tc.accept)
		w := do(s, req)
		body := w.Body.String()
		if w.Code != 200 {
			t.Errorf("%q %q: status %d", tc.accept, tc.query, w.Code)
		}
		for _, want := range []string{tc.html, "<h1>" + tc.heading + "</h1>", tc.link} {
			if !strings.Contains(body, want) {
				t.Errorf("%q %q: landing lacks %s:\n%s", tc.accept, tc.query, want, body)
			}
		}
		for _, leak := range []string{"v1.2.3", "healthz", "readyz", "metrics", "example.com", "paybridge is running", "README", "Redis", "PostgreSQL"} {
			if strings.Contains(body, leak) {
				t.Errorf("%q %q: the production landing page names %q", tc.accept, tc.query, leak)
			}
		}
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	inHandler, release := make(chan struct{}), make(chan struct{})
	s, _ := newTest(t, Config{ShutdownTimeout: 2 * time.Second}, func(r gin.IRouter) {
		r.GET("/slow", func(c *gin.Context) {
			close(inHandler)
			<-release
			c.String(200, "done")
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A request in flight when shutdown starts still completes.
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-inHandler
	cancel()
	// Shutdown has started once the listener refuses connections; only
	// then does the handler finish.
	testenv.Eventually(t, 3*time.Second, "the listener to close", func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("still accepting connections")
	})
	close(release)
	if g := <-got; g != "done" {
		t.Errorf("in-flight request: %q", g)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

// TestMiddlewareOrder checks what the order of the middleware promises:
// the request id is set before anything can answer, the metrics and the
// access log sit outside recovery and the body limit (so they record the
// 500 and the 413 those write), and the handler runs under both the body
// limit and the deadline.
func TestMiddlewareOrder(t *testing.T) {
	s, buf := newTest(t, Config{MaxBodyBytes: 8}, func(r gin.IRouter) {
		r.POST("/order/panic", func(c *gin.Context) { panic("x") })
		r.POST("/order/ok", func(c *gin.Context) {
			_, hasDeadline := c.Request.Context().Deadline()
			isLimited := fmt.Sprintf("%T", c.Request.Body) == "*http.maxBytesReader"
			if !hasDeadline || !isLimited || RequestID(c) == "" {
				c.Status(500)
				return
			}
			c.Status(204)
		})
	})
	tests := []struct {
		path, body string
		status     int
	}{
		{"/order/panic", "", 500},
		{"/order/ok", "123456789", 413}, // announced, refused before the handler
		{"/order/ok", "1", 204},
	}
	for _, tt := range tests {
		counter := metrics.HTTPRequests.WithLabelValues("POST", tt.path, strconv.Itoa(tt.status))
		before := counterValue(t, counter)
		buf.mu.Lock()
		buf.b.Reset()
		buf.mu.Unlock()
		req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
		w := do(s, req)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.path, w.Code, tt.status)
		}
		id := w.Header().Get(RequestIDHeader)
		if id == "" {
			t.Errorf("%s: no request id", tt.path)
		}
		a := accessLine(t, buf)
		if a["status"] != float64(tt.status) || a["request_id"] != id || a["route"] != tt.path {
			t.Errorf("%s: access log %v, want status %d, id %s", tt.path, a, tt.status, id)
		}
		if d := counterValue(t, counter) - before; d != 1 {
			t.Errorf("%s: metric for status %d grew by %v, want 1", tt.path, tt.status, d)
		}
		// Every log line of the request names the same request id.
		for _, m := range logLines(t, buf) {
			if m["request_id"] != id {
				t.Errorf("%s: log line %v lacks request id %s", tt.path, m, id)
			}
		}
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
