package woocommerce

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// WebhookSignature is how WooCommerce signs a webhook delivery:
// base64(HMAC-SHA256(key = secret, message = the raw body)).
func WebhookSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks an X-WC-Webhook-Signature header against the raw
// body, in constant time.
func VerifyWebhook(secret string, body []byte, header string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil || len(got) == 0 {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// PaySignature is the signature the plugin puts on its pay link:
// hex(HMAC-SHA256(shared secret, "paybridge-pay-v1\n" + shop id + "\n" +
// order id + "\n" + order key + "\n" + return URL)). returnURL may be empty.
// The plugin computes the same string in PHP (see plugin/ and
// testdata/signatures/woocommerce.json at the module root). It is
// [PayLinkSignature] with no choices.
func PaySignature(secret, shopID, orderID, orderKey, returnURL string) string {
	return PayLinkSignature(secret, shopID, orderID, orderKey, returnURL, PayChoices{})
}

// PayChoices are what the shopper and the store chose for a payment, carried
// by the pay link: the payment method the shopper picked at checkout
// ("knet", "cc" …; empty lets the gateway page offer its own), whether they
// ticked "Save my card for next time", and the order's vendor splits as the
// plugin read them (a JSON array, sent as is).
type PayChoices struct {
	Method   string
	SaveCard bool
	Splits   string
}

func (c PayChoices) empty() bool { return c.Method == "" && !c.SaveCard && c.Splits == "" }

// PayLinkSignature signs a pay link with the shopper's choices: with none
// it is the v1 signature (links of plugins older than the choices stay
// valid), else hex(HMAC-SHA256(secret, "paybridge-pay-v2\n" + shop id +
// "\n" + order id + "\n" + order key + "\n" + return URL + "\n" + method
// + "\n" + ("1" when saving the card, else "") + "\n" + splits JSON)).
// Stripping a choice from a v2 link leaves a signature that matches
// neither form.
func PayLinkSignature(secret, shopID, orderID, orderKey, returnURL string, c PayChoices) string {
	m := hmac.New(sha256.New, []byte(secret))
	if c.empty() {
		m.Write([]byte("paybridge-pay-v1\n" + shopID + "\n" + orderID + "\n" + orderKey + "\n" + returnURL))
	} else {
		save := ""
		if c.SaveCard {
			save = "1"
		}
		m.Write([]byte("paybridge-pay-v2\n" + shopID + "\n" + orderID + "\n" + orderKey + "\n" + returnURL + "\n" +
			c.Method + "\n" + save + "\n" + c.Splits))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// InvoiceSignature signs a plugin "Send payment link" request:
// hex(HMAC-SHA256(shared secret, "paybridge-invoice-v1\n" + shop id + "\n"
// + unix timestamp + "\n" + raw body)), like [RefundSignature] under
// another label, so that neither request can be replayed as the other.
func InvoiceSignature(secret, shopID string, ts int64, body []byte) string {
	return signRequest("paybridge-invoice-v1", secret, shopID, ts, body)
}

// RefundSignature signs a plugin refund request: hex(HMAC-SHA256(shared
// secret, "paybridge-refund-v1\n" + shop id + "\n" + unix timestamp + "\n"
// + raw body)).
func RefundSignature(secret, shopID string, ts int64, body []byte) string {
	return signRequest("paybridge-refund-v1", secret, shopID, ts, body)
}

func signRequest(label, secret, shopID string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(label + "\n" + shopID + "\n" + strconv.FormatInt(ts, 10) + "\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// verifyHex compares a hex signature in constant time.
func verifyHex(want, got string) bool {
	g, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(got)))
	if err != nil || len(g) == 0 {
		return false
	}
	w, _ := hex.DecodeString(want)
	return hmac.Equal(g, w)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewSecret returns n random alphanumeric characters: WooCommerce
// HTML-entity-decodes webhook secrets before signing, so only [A-Za-z0-9]
// is safe.
func NewSecret(n int) string {
	out := make([]byte, 0, n)
	var b [64]byte
	for len(out) < n {
		if _, err := rand.Read(b[:]); err != nil {
			panic("woocommerce: crypto/rand failed: " + err.Error())
		}
		for _, c := range b {
			if c < 248 && len(out) < n { // 248 = 4*62: no modulo bias
				out = append(out, alnum[int(c)%len(alnum)])
			}
		}
	}
	return string(out)
}
