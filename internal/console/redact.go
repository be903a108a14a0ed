package console

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// redacted replaces a secret's value.
const redacted = "[redacted]"

// secretKey matches the JSON keys whose values are never shown: the core
// keeps secrets out of events, and this is the second line of defence
// (a gateway answer echoing a token, a platform error quoting a header).
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[_-]?key|apikey|authorization|signature|cvv|cvc|card[_-]?number|^pan$|private|credential|cookie|^key$|_key$)`)

// inlineSecret matches secrets written inside strings, such as an error
// quoting "Authorization: Bearer …" or "api_key=…".
var inlineSecret = regexp.MustCompile(`(?i)((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}|((?:api[_-]?key|token|secret|password|signature|sig)\s*[=:]\s*"?)[^\s"&,;]{4,}`)

// redactString hides inline secrets in s.
func redactString(s string) string {
	return inlineSecret.ReplaceAllStringFunc(s, func(m string) string {
		sub := inlineSecret.FindStringSubmatch(m)
		prefix := sub[1] + sub[2]
		return prefix + redacted
	})
}

// redactValue walks a decoded JSON value and hides secrets.
func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if secretKey.MatchString(k) {
				if val != nil && val != "" {
					x[k] = redacted
				}
				continue
			}
			x[k] = redactValue(val)
		}
		return x
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
		return x
	case string:
		// A JSON document kept as a string (a gateway's raw answer).
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var inner any
			if json.Unmarshal([]byte(t), &inner) == nil {
				b, _ := json.Marshal(redactValue(inner))
				return string(b)
			}
		}
		return redactString(x)
	}
	return v
}

// redactJSON returns raw with every secret hidden, indented for reading.
// Something that is not JSON is treated as a string.
func redactJSON(raw []byte) json.RawMessage {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep amounts and ids exactly as written
	if err := dec.Decode(&v); err != nil {
		v = string(raw)
	}
	b, err := json.MarshalIndent(redactValue(v), "", "  ")
	if err != nil {
		return json.RawMessage(`"` + redacted + `"`)
	}
	return b
}
