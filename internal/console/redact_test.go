package console

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in   string
		keep, hide []string
	}{
		{"secret keys", `{"api_key":"sk_1","client_secret":"cs_2","token":"tk_3","order":"o-1","amount":"12.500"}`,
			[]string{`"order": "o-1"`, `"amount": "12.500"`, `"api_key": "[redacted]"`}, []string{"sk_1", "cs_2", "tk_3"}},
		{"nested and in arrays", `{"answer":{"data":[{"card_number":"4111111111111111","cvv":"123","last4":"1111"}]}}`,
			[]string{`"last4": "1111"`}, []string{"4111111111111111", `"123"`}},
		{"a JSON answer kept as a string", `{"raw":"{\"Authorization\":\"Basic dXNlcjpwYXNz\",\"status\":\"CAPTURED\"}"}`,
			[]string{"CAPTURED"}, []string{"dXNlcjpwYXNz"}},
		{"secrets inside error text", `{"error":"POST /charge: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y failed; api_key=sk_live_abcdef"}`,
			[]string{"POST /charge", "failed"}, []string{"eyJhbGciOiJIUzI1NiJ9", "sk_live_abcdef"}},
		{"numbers exact", `{"amount_minor":123456789012345678}`, []string{"123456789012345678"}, nil},
		{"not JSON", `plain text token=abcd1234`, []string{"plain text"}, []string{"abcd1234"}},
	}
	for _, tt := range tests {
		got := string(redactJSON([]byte(tt.in)))
		for _, k := range tt.keep {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %s lacks %s", tt.name, got, k)
			}
		}
		for _, h := range tt.hide {
			if strings.Contains(got, h) {
				t.Errorf("%s: %s shows %s", tt.name, got, h)
			}
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/admin/shops":          "/admin/shops",
		"/admin/payments?q=x":   "/admin/payments?q=x",
		"https://evil.example/": "/admin/payments",
		"//evil.example/admin":  "/admin/payments",
		"/admin/../x":           "/admin/../x",
		"/administrator":        "/admin/payments",
		"/admin/login":          "/admin/payments",
		"/admin/\\evil":         "/admin/payments",
		"":                      "/admin/payments",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
