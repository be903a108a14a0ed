package simkit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Character sets for Random.
const (
	Alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// Base32Lower is the alphabet of Checkout.com's ids (pay_…, act_…).
	Base32Lower = "abcdefghijklmnopqrstuvwxyz234567"
	Digits      = "0123456789"
)

// Random returns n characters drawn from set with crypto/rand: ids that
// look like a gateway's. (The small bias of the modulo does not matter for
// simulated ids.)
func Random(set string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return string(b)
}

// RandomHex returns n random bytes, hex-encoded (2n characters).
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UUID returns a random (version 4) UUID.
func UUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// WriteJSON answers status with v as JSON. Content-Type is
// application/json unless the caller set one.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeNumbers decodes one JSON value from body into v, keeping numbers
// as json.Number, so that a simulator sees 12.345 as the digits sent.
func DecodeNumbers(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

// NewServer starts an httptest.Server for a simulator that must know its
// own address (its links point at itself): mk gets the server's base URL
// ("http://127.0.0.1:port") and returns the simulator, which then serves
// every request. Close the server when done.
func NewServer[H http.Handler](mk func(baseURL string) H) (*httptest.Server, H) {
	ts := httptest.NewUnstartedServer(nil)
	h := mk("http://" + ts.Listener.Addr().String())
	ts.Config.Handler = h
	ts.Start()
	return ts, h
}
