package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Who may read /metrics, by Config.MetricsAccess and MetricsToken.
func TestMetricsAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		remote string
		header []string
		want   int
	}{
		{"open", Config{}, "192.0.2.1:1234", nil, 200},
		{"loopback direct", Config{MetricsAccess: MetricsLoopback}, "127.0.0.1:5555", nil, 200},
		{"loopback v6", Config{MetricsAccess: MetricsLoopback}, "[::1]:5555", nil, 200},
		{"loopback, remote", Config{MetricsAccess: MetricsLoopback}, "192.0.2.1:1234", nil, 404},
		{"loopback through a proxy", Config{MetricsAccess: MetricsLoopback}, "127.0.0.1:5555", []string{"X-Forwarded-For", "203.0.113.9"}, 404},
		{"loopback through Forwarded", Config{MetricsAccess: MetricsLoopback}, "127.0.0.1:5555", []string{"Forwarded", "for=203.0.113.9"}, 404},
		{"token missing", Config{MetricsAccess: MetricsLoopback, MetricsToken: "s3cret-token-123"}, "127.0.0.1:5555", nil, 401},
		{"token wrong", Config{MetricsToken: "s3cret-token-123"}, "192.0.2.1:1234", []string{"Authorization", "Bearer nope"}, 401},
		{"token right, remote", Config{MetricsAccess: MetricsLoopback, MetricsToken: "s3cret-token-123"}, "192.0.2.1:1234", []string{"Authorization", "Bearer s3cret-token-123"}, 200},
		{"off", Config{MetricsAccess: MetricsOff}, "127.0.0.1:5555", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			s := New(tt.cfg)
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			r.RemoteAddr = tt.remote
			for i := 0; i+1 < len(tt.header); i += 2 {
				r.Header.Set(tt.header[i], tt.header[i+1])
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("GET /metrics: %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if tt.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}
