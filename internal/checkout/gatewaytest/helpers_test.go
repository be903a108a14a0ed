package gatewaytest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

func TestTamper(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"a":"b1"}`, `{"a":"b2"}`}, {`{"a":"z"}`, `{"a":"y"}`}, {"x=9&y=Z", "x=9&y=Y"}, {"{}", "{} "}, {"", " "},
	} {
		if got := string(tamper([]byte(tt.in))); got != tt.want {
			t.Errorf("tamper(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShowsSecret(t *testing.T) {
	acct := checkout.GatewayAccount{Credentials: map[string]string{"api_key": "sk_live_abcdef", "short": "ab"}}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errors.New("HTTP 401: key sk_live_abcdef rejected"), "api_key"},
		{&checkout.GatewayError{Gateway: "g", Op: "status", Message: "rejected sk_live_abcdef"}, "api_key"},
		{&checkout.GatewayError{Gateway: "g", Op: "status", Message: "the API key was rejected (about)"}, ""},
	} {
		if got := showsSecret(tt.err, acct); got != tt.want {
			t.Errorf("showsSecret(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestStallNext(t *testing.T) {
	srv := NewServer(t, func(string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	})
	srv.StallNext(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	if _, err := srv.Client().Do(req); err == nil {
		t.Fatal("a stalled request was answered")
	}
	resp, err := srv.Client().Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusTeapot {
		t.Fatalf("the request after the stall: %v %v", resp, err)
	}
	resp.Body.Close()
}
