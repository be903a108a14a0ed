package cko_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/cko"
	"paybridge/internal/testenv"
)

const fuzzKey = "cko-webhook-key"

// FuzzCkoCallback: a webhook with any body and any Cko-Signature header is
// accepted only when the header is the HMAC of exactly that body under the
// account's key (and then Signed); otherwise the error wraps
// ErrBadSignature, or ErrUnreadable for a signed body that is not a
// webhook. The account-level router fails only with ErrUnreadable or by
// naming no payment.
func FuzzCkoCallback(f *testing.F) {
	testenv.FuzzSeeds(f)
	body := []byte(`{"id":"evt_1","type":"payment_captured","data":{"id":"pay_1","reference":"pay_x","amount":1000}}`)
	f.Add(body, cko.Sign(fuzzKey, body), false)
	f.Add(body, cko.Sign(fuzzKey, body), true)
	f.Add(body, strings.ToUpper(cko.Sign(fuzzKey, body)), false)
	f.Add([]byte(`{"type":"payment_captured"}}`), "", true)
	f.Add([]byte(strings.Repeat(`{"a":`, 20000)), "00", true)
	f.Fuzz(func(t *testing.T, body []byte, sig string, signIt bool) {
		if signIt {
			sig = cko.Sign(fuzzKey, body) // the genuine signature of this body
		}
		g := cko.New(cko.Config{})
		acct := checkout.GatewayAccount{Gateway: cko.GatewayName, Credentials: map[string]string{cko.CredWebhookKey: fuzzKey}}
		req := checkout.CallbackRequest{Method: http.MethodPost, URL: "https://bridge.example/notify/cko/pay_x",
			Header: http.Header{cko.SignatureHeader: {sig}}, Body: body}
		got, herr := hex.DecodeString(strings.TrimSpace(sig))
		want, _ := hex.DecodeString(cko.Sign(fuzzKey, body))
		genuine := herr == nil && hmac.Equal(got, want)
		cb, err := g.ParseCallback(context.Background(), acct, req)
		switch {
		case err == nil && (!genuine || !cb.Signed):
			t.Fatalf("accepted: signed=%v genuine=%v", cb.Signed, genuine)
		case err != nil && !genuine && !errors.Is(err, checkout.ErrBadSignature):
			t.Fatalf("forged signature: %v, want ErrBadSignature", err)
		case err != nil && genuine && !errors.Is(err, checkout.ErrUnreadable):
			t.Fatalf("genuine signature: %v, want ErrUnreadable or success", err)
		}
		if _, err := g.CallbackPaymentID(req); err != nil && !errors.Is(err, checkout.ErrUnreadable) &&
			!strings.Contains(err.Error(), "names no reference") {
			t.Fatalf("CallbackPaymentID: %v", err)
		}
	})
}

// FuzzCkoSignature: VerifySignature accepts the signature of a body for
// that body only, and fails only with ErrBadSignature.
func FuzzCkoSignature(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add("key", []byte("body"), []byte("body"))
	f.Add("key", []byte("body"), []byte("body "))
	f.Add("", []byte(""), []byte("x"))
	f.Fuzz(func(t *testing.T, key string, signed, sent []byte) {
		err := cko.VerifySignature(key, cko.Sign(key, signed), sent)
		if (err == nil) != bytes.Equal(signed, sent) {
			t.Fatalf("signed %q, sent %q: %v", signed, sent, err)
		}
		if err != nil && !errors.Is(err, checkout.ErrBadSignature) {
			t.Fatal(err)
		}
		if cko.VerifySignature(key+"x", cko.Sign(key, signed), signed) == nil {
			t.Fatal("another key verified")
		}
	})
}
