package gatewayhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"paybridge/internal/checkout"
	"paybridge/internal/metrics"
)

var testGateway = Gateway{Name: "gwtest", Display: "TestPay", UserAgent: "paybridge-gwtest/1",
	Credential: "API key", IdempotencyHeader: "Idem-Key"}

// body returns the answer's body, or an error for a non-2xx status.
func body(op string, a *Answer) ([]byte, error) {
	if a.StatusCode/100 != 2 {
		return nil, &checkout.GatewayError{Gateway: "gwtest", Op: op, HTTPStatus: a.StatusCode, Message: "refused"}
	}
	return a.Body, nil
}

// received is one request as the server saw it.
type received struct {
	method, path string
	header       http.Header
	body         []byte
	length       int64
}

func recorder(t *testing.T, status int, answer string) (*httptest.Server, chan received) {
	t.Helper()
	got := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.Path, r.Header.Clone(), b, r.ContentLength}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestCallSendsRequest(t *testing.T) {
	srv, got := recorder(t, http.StatusCreated, `{"ok":true}`)
	c := New(testGateway, Config{})
	var signed []byte
	in := map[string]any{"amount": json.Number("12.345"), "url": "https://x/?a=1&b=2"}
	out, err := Call(context.Background(), c, Request{Op: "charge", Method: http.MethodPost, URL: srv.URL + "/charge",
		Body: in, Token: "tok", IdempotencyKey: "pay_1",
		Sign: func(h http.Header, b []byte) { signed = b; h.Set("X-Sig", "sig:"+h.Get("Authorization")) }}, body)
	if err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("Call = %s, %v", out, err)
	}
	r := <-got
	want := `{"amount":12.345,"url":"https://x/?a=1&b=2"}`
	if r.method != http.MethodPost || r.path != "/charge" || string(r.body) != want || !bytes.Equal(signed, r.body) {
		t.Fatalf("request %s %s %s (signed %s)", r.method, r.path, r.body, signed)
	}
	for k, v := range map[string]string{"Authorization": "Bearer tok", "Accept": "application/json",
		"Content-Type": "application/json", "User-Agent": "paybridge-gwtest/1", "Idem-Key": "pay_1", "X-Sig": "sig:Bearer tok"} {
		if r.header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, r.header.Get(k), v)
		}
	}
}

func TestCallWithoutBody(t *testing.T) {
	srv, got := recorder(t, http.StatusOK, `{}`)
	c := New(Gateway{Name: "gwtest", Display: "TestPay"}, Config{})
	if _, err := Call(context.Background(), c, Request{Op: "status", Method: http.MethodGet, URL: srv.URL + "/s/1", IdempotencyKey: "k"}, body); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if len(r.body) != 0 || r.length != 0 || r.header.Get("Content-Type") != "" || r.header.Get("Authorization") != "" ||
		r.header.Get("Idem-Key") != "" {
		t.Fatalf("GET sent %q (length %d), headers %v", r.body, r.length, r.header)
	}
}

func TestCallRefusedLocally(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := New(testGateway, Config{})
	tests := []struct {
		name string
		r    Request
		msg  string
	}{
		{"no token", Request{Method: http.MethodGet, URL: srv.URL}, "TestPay API key is not configured"},
		{"unencodable body", Request{Method: http.MethodPost, URL: srv.URL, Token: "t", Body: json.Number("1x")},
			"invalid request to TestPay: encode request"},
		{"bad URL", Request{Method: http.MethodGet, URL: "http://[::1", Token: "t"}, "invalid request to TestPay: build request"},
		{"bad method", Request{Method: "BAD METHOD", URL: srv.URL, Token: "t"}, "invalid request to TestPay: build request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Op = "charge"
			_, err := Call(context.Background(), c, tt.r, body)
			var ge *checkout.GatewayError
			if !errors.As(err, &ge) || ge.Temporary || ge.HTTPStatus != 0 || ge.Gateway != "gwtest" || ge.Op != "charge" ||
				!strings.HasPrefix(ge.Message, tt.msg) {
				t.Fatalf("err = %v (%+v)", err, ge)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests were sent", hits.Load())
	}
}

func TestCallTransportErrors(t *testing.T) {
	// slow answers nothing until the client gives up.
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	deadline, cancel2 := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel2()

	tests := []struct {
		name     string
		ctx      context.Context
		cfg      Config
		r        Request
		msg      string
		deadline bool
	}{
		{"per-call timeout", context.Background(), Config{}, Request{URL: slow.URL, Timeout: 80 * time.Millisecond},
			"TestPay did not answer in time", true},
		{"config timeout", context.Background(), Config{Timeout: 80 * time.Millisecond}, Request{URL: slow.URL},
			"TestPay did not answer in time", true},
		{"caller's deadline", deadline, Config{}, Request{URL: slow.URL}, "TestPay did not answer in time", true},
		{"response header timeout", context.Background(), Config{ResponseHeaderTimeout: 80 * time.Millisecond},
			Request{URL: slow.URL}, "TestPay did not answer in time", true},
		{"connection refused", context.Background(), Config{}, Request{URL: gone.URL}, "could not reach TestPay", false},
		{"canceled", canceled, Config{}, Request{URL: slow.URL}, "the call to TestPay was canceled", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(testGateway, tt.cfg)
			tt.r.Op, tt.r.Method, tt.r.Token = "status", http.MethodGet, "secret-token"
			start := time.Now()
			_, err := Call(tt.ctx, c, tt.r, body)
			var ge *checkout.GatewayError
			if !errors.As(err, &ge) || !ge.Temporary || ge.HTTPStatus != 0 || ge.Message != tt.msg {
				t.Fatalf("err = %v (%+v)", err, ge)
			}
			if errors.Is(err, context.DeadlineExceeded) != tt.deadline {
				t.Errorf("errors.Is(err, DeadlineExceeded) = %v", !tt.deadline)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("the error shows the token: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestCallReadsBoundedAnswer(t *testing.T) {
	big := strings.Repeat("x", 3000)
	srv, _ := recorder(t, http.StatusOK, big)
	c := New(testGateway, Config{MaxResponseBytes: 1000})
	out, err := Call(context.Background(), c, Request{Op: "status", Method: http.MethodGet, URL: srv.URL, Token: "t"}, body)
	if err != nil || len(out) != 1000 {
		t.Fatalf("read %d bytes, %v", len(out), err)
	}
	if s := (&Answer{Body: []byte(big)}).Snippet(); len(s) > SnippetBytes+len("…(truncated)") || !strings.HasSuffix(s, "…(truncated)") {
		t.Fatalf("snippet of %d bytes: %q", len(s), s)
	}
}

func TestCallReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(testGateway, Config{})
	defer c.CloseIdleConnections()
	for range 20 {
		if _, err := Call(context.Background(), c, Request{Op: "status", Method: http.MethodGet, URL: srv.URL, Token: "t"}, body); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential calls opened %d connections, want 1", n)
	}
}

func TestRetryAfter(t *testing.T) {
	cause := errors.New("429")
	h := http.Header{}
	h.Set("Retry-After", "7")
	var ra *checkout.RetryAfterError
	if err := RetryAfter(&Answer{Header: h}, cause); !errors.As(err, &ra) || ra.After != 7*time.Second || !errors.Is(err, cause) {
		t.Fatalf("with header: %v", err)
	}
	if err := RetryAfter(&Answer{Header: http.Header{}}, cause); err != cause {
		t.Fatalf("without header: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := New(testGateway, Config{})
	cfg := c.Config()
	want := Config{Timeout: 15 * time.Second, DialTimeout: 5 * time.Second, KeepAlive: 30 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 15 * time.Second, IdleConnTimeout: 90 * time.Second,
		MaxIdleConns: 256, MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256, MaxResponseBytes: 1 << 20}
	if cfg != want {
		t.Fatalf("defaults %+v\nwant      %+v", cfg, want)
	}
	tr := c.client.Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != 64 || tr.MaxConnsPerHost != 256 || tr.MaxIdleConns != 256 || tr.TLSHandshakeTimeout != 5*time.Second ||
		tr.ResponseHeaderTimeout != 15*time.Second || tr.IdleConnTimeout != 90*time.Second || tr.DisableKeepAlives {
		t.Fatalf("transport %+v", tr)
	}
	if got := New(testGateway, Config{Timeout: time.Second}).Config().ResponseHeaderTimeout; got != time.Second {
		t.Fatalf("ResponseHeaderTimeout follows Timeout: %s", got)
	}
	set := Config{Timeout: 2 * time.Second, DialTimeout: time.Second, KeepAlive: time.Second, TLSHandshakeTimeout: time.Second,
		ResponseHeaderTimeout: time.Second, IdleConnTimeout: time.Second, MaxIdleConns: 1, MaxIdleConnsPerHost: 1,
		MaxConnsPerHost: 1, MaxResponseBytes: 1}
	if got := New(testGateway, set).Config(); got != set {
		t.Fatalf("set fields changed: %+v", got)
	}
}

// samples is how many calls the latency histogram holds for gwtest/op/outcome.
func samples(t *testing.T, op, outcome string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.GatewayLatency.WithLabelValues("gwtest", op, outcome).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestCallObserved(t *testing.T) {
	ok, _ := recorder(t, http.StatusOK, `{}`)
	refused, _ := recorder(t, http.StatusUnprocessableEntity, `{}`)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	c := New(testGateway, Config{Timeout: 50 * time.Millisecond})
	call := func(url, token string) {
		Call(context.Background(), c, Request{Op: "observed", Method: http.MethodGet, URL: url, Token: token}, body)
	}
	before := [3]uint64{samples(t, "observed", "ok"), samples(t, "observed", "error"), samples(t, "observed", "timeout")}
	call(ok.URL, "t")
	call(refused.URL, "t") // the read function's refusal counts as an error
	call(ok.URL, "")       // so does a missing token
	call(slow.URL, "t")
	after := [3]uint64{samples(t, "observed", "ok"), samples(t, "observed", "error"), samples(t, "observed", "timeout")}
	if after[0] != before[0]+1 || after[1] != before[1]+2 || after[2] != before[2]+1 {
		t.Fatalf("ok/error/timeout samples %v → %v", before, after)
	}
}
