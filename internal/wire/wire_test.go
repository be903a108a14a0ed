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
	tests := []struct {
		name, in string
		trailing bool // the error is ErrTrailingData
		ok       bool
	}{
		{"object", `{"a":1}`, false, true},
		{"surrounding whitespace", " \t\r\n{\"a\":1} \n\t\r ", false, true},
		{"two values", `{} {}`, true, false},
		{"two values no space", `{}{}`, true, false},
		{"stray brace", `{"a":1}}`, true, false},
		{"stray bracket", `{"a":1}]`, true, false},
		{"stray comma", `{"a":1},`, true, false},
		{"stray text", `{"a":1} x`, true, false},
		{"NUL after", "{\"a\":1}\x00", true, false},
		{"non-JSON space after", "{\"a\":1}\u00a0", true, false},
		{"HTML", `<html>`, false, false},
		{"empty", ``, false, false},
		{"truncated", `{"a":`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v map[string]any
			err := DecodeJSON([]byte(tt.in), &v)
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeJSON(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if errors.Is(err, ErrTrailingData) != tt.trailing {
				t.Fatalf("DecodeJSON(%q) = %v, want ErrTrailingData=%v", tt.in, err, tt.trailing)
			}
		})
	}
	// Scalars and arrays are single values too.
	for _, in := range []string{`1`, `"s"`, `[1,2]`, `null`, ` true `} {
		var x any
		if err := DecodeJSON([]byte(in), &x); err != nil {
			t.Errorf("DecodeJSON(%q) = %v", in, err)
		}
	}
	for _, in := range []string{`1 2`, `"s"]`, `[1,2]]`, `null}`} {
		var x any
		if err := DecodeJSON([]byte(in), &x); !errors.Is(err, ErrTrailingData) {
			t.Errorf("DecodeJSON(%q) = %v, want ErrTrailingData", in, err)
		}
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
