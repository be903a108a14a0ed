package upay

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

var fuzzNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const fuzzURL = "https://bridge.example/notify/upay/pay_fuzz"

// FuzzUpayCallback: whatever the body, content type and query, a callback
// parses or fails with an error wrapping checkout.ErrUnreadable (the
// notify route's 400), never anything else; an unsigned callback is never
// Signed; fields are bounded; the outcome is the result's mapping.
func FuzzUpayCallback(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add([]byte("track_id=1&result=CAPTURED"), "application/x-www-form-urlencoded", "")
	f.Add([]byte(`{"track_id":"1","result":"CAPTURED","amount":12.345,"x":{"y":[1]}}`), "application/json", "")
	f.Add([]byte("track_id=1;result=CAPTURED"), "", "payment_id=9?result=CAPTURED")
	f.Add([]byte(strings.Repeat("[", 20000)), "application/json", "")
	f.Fuzz(func(t *testing.T, body []byte, contentType, rawQuery string) {
		g := New(Config{Now: func() time.Time { return fuzzNow }})
		q, _ := url.ParseQuery(rawQuery)
		req := checkout.CallbackRequest{Method: http.MethodPost, URL: fuzzURL + "?" + rawQuery, Query: q,
			Header: http.Header{"Content-Type": {contentType}}, Body: body}
		cb, err := g.ParseCallback(context.Background(), checkout.GatewayAccount{Gateway: GatewayName, Credentials: map[string]string{"api_key": "k"}}, req)
		if err != nil {
			if !errors.Is(err, checkout.ErrUnreadable) {
				t.Fatalf("error %v does not wrap ErrUnreadable", err)
			}
			return
		}
		if cb.Signed {
			t.Fatal("an unsigned callback is Signed")
		}
		for k, v := range cb.Fields {
			if len(v) > maxFieldLen {
				t.Fatalf("field %q is %d bytes", k, len(v))
			}
		}
		if cb.Ref != cb.Fields["track_id"] || cb.Result != cb.Fields["result"] || cb.Outcome != MapResult(cb.Result) {
			t.Fatalf("claim %+v does not follow its fields", cb)
		}
	})
}

// FuzzUpaySignature: with the account's api_secret, a callback whose
// X-Signature was made over body is Signed only for exactly that body;
// any other body, or any other signature text, is ErrBadSignature.
func FuzzUpaySignature(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add([]byte("track_id=1&result=CAPTURED"), []byte("track_id=1&result=CAPTURED"), "")
	f.Add([]byte("track_id=1&result=CAPTURED"), []byte("track_id=2&result=CAPTURED"), "")
	f.Add([]byte(`{"track_id":"1"}`), []byte(`{"track_id":"1"} `), "AAAA")
	f.Fuzz(func(t *testing.T, signed, sent []byte, forged string) {
		const secret = "upay-secret"
		g := New(Config{Now: func() time.Time { return fuzzNow }})
		acct := checkout.GatewayAccount{Gateway: GatewayName, Credentials: map[string]string{"api_key": "k", "api_secret": secret}}
		ts := strconv.FormatInt(fuzzNow.Unix(), 10)
		good := Sign(secret, ts, "POST", fuzzURL, signed)
		for _, sig := range []string{good, forged} {
			if strings.TrimSpace(sig) == "" {
				continue // unsigned: a claim, tested above
			}
			req := checkout.CallbackRequest{Method: http.MethodPost, URL: fuzzURL,
				Header: http.Header{"X-Signature": {sig}, "X-Timestamp": {ts}}, Body: sent}
			cb, err := g.ParseCallback(context.Background(), acct, req)
			genuine := string(sent) == string(signed) && strings.TrimSpace(sig) == good
			switch {
			case !genuine && !errors.Is(err, checkout.ErrBadSignature):
				t.Fatalf("signature %q over %q accepted for %q: %+v %v", sig, signed, sent, cb, err)
			case genuine && errors.Is(err, checkout.ErrBadSignature):
				t.Fatalf("genuine signature refused: %v", err)
			case genuine && err == nil && !cb.Signed:
				t.Fatal("genuine signature not Signed")
			}
		}
	})
}
