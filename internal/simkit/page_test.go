package simkit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"paybridge/internal/simkit"
)

func TestPage(t *testing.T) {
	page := &simkit.Page{Title: "T", Heading: "H", Field: "result",
		Buttons: []simkit.Button{{Value: "PAY", Label: "Pay"}, {Value: "NO", Label: "Decline"}, {Value: "X", Label: "Cancel"}}}
	var picked []string
	complete := func(pick string) (string, error) {
		if len(picked) > 0 {
			return "", errors.New("already done")
		}
		picked = append(picked, pick)
		return "https://shop.example/back?r=" + pick, nil
	}
	view := &simkit.View{Noun: "Order", ID: "o<1>", Amount: "12.345 KWD"}
	serve := func(method, body string, v *simkit.View) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/pay/1", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		page.Serve(w, r, v, complete)
		return w
	}
	w := serve("GET", "", view)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "<title>T</title>") || !strings.Contains(body, "<h1>H</h1>") ||
		!strings.Contains(body, "Order <b>o&lt;1&gt;</b>: <b>12.345 KWD</b>") ||
		!strings.Contains(body, `<button name="result" value="NO">Decline</button>`) {
		t.Fatalf("GET: %d %s", w.Code, body)
	}
	if w := serve("GET", "", &simkit.View{Noun: "Order", ID: "o", Done: "CAPTURED"}); strings.Contains(w.Body.String(), "<button") ||
		!strings.Contains(w.Body.String(), "This payment is <b>CAPTURED</b>.") {
		t.Fatalf("done page: %s", w.Body)
	}
	if w := serve("POST", "result=MAYBE", view); w.Code != 400 || !strings.Contains(w.Body.String(), "pick PAY, NO or X") {
		t.Fatalf("bad pick: %d %s", w.Code, w.Body)
	}
	w = serve("POST", url.Values{"result": {"NO"}}.Encode(), view)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "https://shop.example/back?r=NO" {
		t.Fatalf("pick: %d %v", w.Code, w.Header())
	}
	if w := serve("POST", "result=PAY", view); w.Code != http.StatusConflict {
		t.Fatalf("second pick: %d", w.Code)
	}
	if w := serve("GET", "", nil); w.Code != 404 {
		t.Fatalf("unknown: %d", w.Code)
	}
	if w := serve("PUT", "", view); w.Code != 405 {
		t.Fatalf("PUT: %d", w.Code)
	}
	if len(picked) != 1 || picked[0] != "NO" {
		t.Fatalf("picked %v", picked)
	}
}

func TestAppendQuery(t *testing.T) {
	for _, tt := range []struct{ u, want string }{
		{"https://m/s", "https://m/s?a=1"},
		{"https://m/s?x=2", "https://m/s?x=2&a=1"},
	} {
		if got := simkit.AppendQuery(tt.u, "a=1"); got != tt.want {
			t.Errorf("AppendQuery(%q) = %q", tt.u, got)
		}
	}
}

func TestRequestLog(t *testing.T) {
	var l simkit.RequestLog
	b := []byte("one")
	l.Add("charge", b)
	b[0] = 'X'
	l.Add("charge", []byte("two"))
	got := l.Bodies("charge")
	if len(got) != 2 || string(got[0]) != "one" || string(got[1]) != "two" || len(l.Bodies("other")) != 0 {
		t.Fatalf("%q", got)
	}
	got[0][0] = 'Y'
	if string(l.Bodies("charge")[0]) != "one" {
		t.Fatal("Bodies returned the log's own slices")
	}
}

func TestRandom(t *testing.T) {
	s := simkit.Random(simkit.Digits, 18)
	if len(s) != 18 || strings.Trim(s, simkit.Digits) != "" {
		t.Fatalf("%q", s)
	}
	if u := simkit.UUID(); len(u) != 36 || u[14] != '4' {
		t.Fatalf("uuid %q", u)
	}
	if h := simkit.RandomHex(4); len(h) != 8 {
		t.Fatalf("hex %q", h)
	}
}
