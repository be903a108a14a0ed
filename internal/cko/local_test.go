package cko_test

import (
	"net"
	"net/http"
	"testing"
)

// newLocal serves hs on a loopback port and returns its base URL.
func newLocal(t *testing.T, hs *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String()
}
