package wire

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in string
		d  time.Duration
		ok bool
	}{
		{"", 0, false}, {"30", 30 * time.Second, true}, {" 7 ", 7 * time.Second, true}, {"-5", 0, false},
		{"soon", 0, false}, {"Sat, 21 Nov 2026 12:01:00 GMT", time.Minute, true}, {"Sat, 21 Nov 2026 11:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		if d, ok := RetryAfter(tt.in, now); d != tt.d || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", tt.in, d, ok, tt.d, tt.ok)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	var v map[string]any
	if err := DecodeJSON([]byte(`{"amount": 12.345}`), &v); err != nil || v["amount"] != json.Number("12.345") {
		t.Fatalf("%v %#v", err, v)
	}
	if err := DecodeJSON([]byte(`{} {}`), &v); !errors.Is(err, ErrTrailingData) {
		t.Fatalf("trailing: %v", err)
	}
	if err := DecodeJSON([]byte(`<html>`), &v); err == nil {
		t.Fatal("HTML decoded")
	}
}

func TestSnippet(t *testing.T) {
	if s := Snippet([]byte("short"), 10); s != "short" {
		t.Fatal(s)
	}
	if s := Snippet([]byte("abcdefghij"), 4); s != "abcd…(truncated)" {
		t.Fatal(s)
	}
	if s := Snippet([]byte("ab€cd"), 3); s != "ab…(truncated)" { // never splits a rune
		t.Fatal(s)
	}
}

func TestEncodeJSON(t *testing.T) {
	b, err := EncodeJSON(map[string]any{"url": "https://x/?a=1&b=2", "amount": json.Number("12.345")})
	if err != nil || string(b) != `{"amount":12.345,"url":"https://x/?a=1&b=2"}` {
		t.Fatalf("%s %v", b, err)
	}
}
