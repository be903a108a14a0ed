// Package wire holds the small wire-format helpers every HTTP client of
// paybridge needs the same way: reading Retry-After, decoding JSON without
// losing numbers to float64, and cutting bodies short for error messages.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads a Retry-After header value, in delay-seconds or as an
// HTTP date relative to now. ok is false when the value is absent or
// unreadable; a date in the past is a zero delay.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// ErrTrailingData is returned by DecodeJSON for a body with more than one
// JSON value.
var ErrTrailingData = errors.New("trailing data after JSON")

// DecodeJSON decodes exactly one JSON value from raw into v, keeping
// numbers as json.Number (never float64: amounts must stay exact). Only
// JSON whitespace may follow the value; anything else, a stray "}" or "]"
// included, is ErrTrailingData.
func DecodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Decoder.More reports false on a closing "}" or "]", so it cannot tell
	// "{}" from "{}}": look at what is left of the input instead.
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return fmt.Errorf("%w: %q at offset %d", ErrTrailingData, Snippet(rest, 16), dec.InputOffset())
	}
	return nil
}

// Snippet returns b as text cut to at most n bytes on a rune boundary,
// marked "…(truncated)" when cut: for error messages quoting a peer's body.
func Snippet(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	i := n
	for i > 0 && (b[i]&0xC0) == 0x80 {
		i--
	}
	return string(b[:i]) + "…(truncated)"
}

// EncodeJSON encodes v for a request body: HTML characters are not escaped
// (URLs keep their "&") and there is no trailing newline.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
