package woocommerce

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"paybridge/internal/testenv"
)

// FuzzWooWebhookSignature: VerifyWebhook accepts a signature for the body
// it was made over only, and any header it accepts decodes to the body's
// HMAC under the secret.
func FuzzWooWebhookSignature(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add("secret", []byte(`{"id":1}`), []byte(`{"id":1}`), "")
	f.Add("secret", []byte(`{"id":1}`), []byte(`{"id":2}`), "AAAA")
	f.Add("", []byte(""), []byte(""), " ")
	f.Fuzz(func(t *testing.T, secret string, signed, sent []byte, header string) {
		if got := VerifyWebhook(secret, sent, WebhookSignature(secret, signed)); got != bytes.Equal(signed, sent) {
			t.Fatalf("signed %q, sent %q: verified %v", signed, sent, got)
		}
		if VerifyWebhook(secret, sent, header) {
			got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
			m := hmac.New(sha256.New, []byte(secret))
			m.Write(sent)
			if err != nil || !hmac.Equal(got, m.Sum(nil)) {
				t.Fatalf("header %q accepted for %q", header, sent)
			}
		}
	})
}

// FuzzWooPayLinkSignature: the pay link's check (verifyHex over
// PaySignature) accepts the link's own signature, in either hex case, and
// no other text than the fields' HMAC; changing any field (none holding
// the "\n" separator) changes the signature.
func FuzzWooPayLinkSignature(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add("secret", "shop_1", "1001", "wc_order_abc", "https://store.example/thanks", "1002", "")
	f.Add("secret", "shop_1", "1001", "wc_order_abc", "", "1001", "00")
	f.Fuzz(func(t *testing.T, secret, shopID, orderID, orderKey, returnURL, otherOrder, sig string) {
		good := PaySignature(secret, shopID, orderID, orderKey, returnURL)
		if !verifyHex(good, good) || !verifyHex(good, strings.ToUpper(good)) || !verifyHex(good, " "+good+"\n") {
			t.Fatal("the genuine signature does not verify")
		}
		if verifyHex(good, sig) {
			got, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(sig)))
			want, _ := hex.DecodeString(good)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("signature %q accepted", sig)
			}
		}
		if otherOrder != orderID && !strings.Contains(orderID+otherOrder+orderKey+shopID, "\n") &&
			verifyHex(PaySignature(secret, shopID, otherOrder, orderKey, returnURL), good) {
			t.Fatalf("order %q's signature verified order %q", orderID, otherOrder)
		}
	})
}
