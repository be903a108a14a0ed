package shopify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"paybridge/internal/testenv"
)

var fuzzNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const (
	fuzzKey    = "app-key"
	fuzzSecret = "app-secret"
	fuzzShop   = "fuzz-shop.myshopify.com"
)

// FuzzShopifyQueryHMAC: a query carrying the hmac of another query is
// accepted only if it has the same signed message; the query's own hmac
// is accepted only when it is the hmac of its message, in the one form
// Shopify signs (hex, lower case).
func FuzzShopifyQueryHMAC(f *testing.F) {
	testenv.FuzzSeeds(f)
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	signed := url.Values{"shop": {fuzzShop}, "timestamp": {ts}, "code": {"abc"}, "host": {"YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZnV6eg"}}
	f.Add(signed.Encode())
	f.Add("code=abc&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZnV6eg&shop=" + fuzzShop + "&timestamp=" + ts + "&x=1")
	f.Add("code=abc&code=abc&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZnV6eg&shop=" + fuzzShop + "&timestamp=" + ts)
	f.Add("code=a%26b&shop=" + fuzzShop + "&timestamp=" + ts)
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		own := q.Get("hmac")
		if _, err := VerifyQuery(fuzzSecret, q, fuzzNow); err == nil {
			if !macHex(QueryMessage(q), own) || own != strings.ToLower(own) {
				t.Fatalf("query %q accepted with an hmac that is not the lower-case hex of its message", raw)
			}
		}
		q.Set("hmac", SignQuery(fuzzSecret, signed))
		if _, err := VerifyQuery(fuzzSecret, q, fuzzNow); err == nil {
			if QueryMessage(q) != QueryMessage(signed) {
				t.Fatalf("query %q accepted with the signature of %q", raw, signed.Encode())
			}
		}
	})
}

func macHex(msg, hexSig string) bool {
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write([]byte(msg))
	return hmac.Equal([]byte(strings.ToLower(hexSig)), []byte(strings.ToLower(hexString(m.Sum(nil)))))
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// FuzzShopifyWebhookHMAC: a webhook signature verifies for the body it
// was made over only, and any header accepted decodes to the body's HMAC.
func FuzzShopifyWebhookHMAC(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add([]byte(`{"id":1}`), []byte(`{"id":1}`), "")
	f.Add([]byte(`{"id":1}`), []byte(`{"id":1} `), "x")
	f.Fuzz(func(t *testing.T, signed, sent []byte, header string) {
		if got := VerifyWebhook(fuzzSecret, sent, SignWebhook(fuzzSecret, signed)); got != bytes.Equal(signed, sent) {
			t.Fatalf("signed %q, sent %q: verified %v", signed, sent, got)
		}
		if VerifyWebhook(fuzzSecret, sent, header) {
			got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
			m := hmac.New(sha256.New, []byte(fuzzSecret))
			m.Write(sent)
			if err != nil || !hmac.Equal(got, m.Sum(nil)) {
				t.Fatalf("header %q accepted for %q", header, sent)
			}
		}
	})
}

// sessionClaims are the claims of a token the app would accept.
var sessionClaims = `{"iss":"https://` + fuzzShop + `/admin","dest":"https://` + fuzzShop + `","aud":"` + fuzzKey +
	`","exp":` + strconv.FormatInt(fuzzNow.Add(time.Minute).Unix(), 10) + `,"sid":"s1"}`

// FuzzShopifySessionToken: a session token (any text) is accepted only if
// it is HS256-signed with the app secret over exactly its header and
// payload, for a valid shop.
func FuzzShopifySessionToken(f *testing.F) {
	testenv.FuzzSeeds(f)
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://" + fuzzShop + "/admin",
		"dest": "https://" + fuzzShop, "aud": fuzzKey, "exp": fuzzNow.Add(time.Minute).Unix()}).SignedString([]byte(fuzzSecret))
	f.Add(good)
	f.Add(good + "x")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		shop, _, err := VerifySessionToken(fuzzKey, fuzzSecret, token, fuzzNow)
		if err != nil {
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 || !ValidShop(shop) {
			t.Fatalf("token %q accepted for %q", token, shop)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		m := hmac.New(sha256.New, []byte(fuzzSecret))
		m.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatalf("token %q accepted without the app's signature", token)
		}
	})
}

// FuzzShopifySessionClaims signs any header and claims, with the app
// secret and with another: only the app secret's token may be accepted,
// and then only unexpired, for this app alone, naming its shop in dest.
func FuzzShopifySessionClaims(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add([]byte(sessionClaims), []byte(`{"alg":"HS256","typ":"JWT"}`))
	f.Add([]byte(strings.Replace(sessionClaims, `"aud":"`+fuzzKey+`"`, `"aud":["`+fuzzKey+`"]`, 1)), []byte(`{"alg":"none"}`))
	f.Add([]byte(`{"exp":"soon"}`), []byte(`{"alg":"HS256","crit":["b64"],"b64":false}`))
	f.Fuzz(func(t *testing.T, payload, header []byte) {
		unsigned := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
		for _, secret := range []string{fuzzSecret, "not-the-secret"} {
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(unsigned))
			tok := unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			shop, c, err := VerifySessionToken(fuzzKey, fuzzSecret, tok, fuzzNow)
			if err != nil {
				continue
			}
			if secret != fuzzSecret {
				t.Fatalf("token signed with another secret accepted: %s", tok)
			}
			if c.ExpiresAt == nil || !c.ExpiresAt.After(fuzzNow.Add(-SessionTokenLeeway)) {
				t.Fatalf("expired or exp-less token accepted: %s", payload)
			}
			if len(c.Audience) != 1 || c.Audience[0] != fuzzKey {
				t.Fatalf("token for audience %v accepted: %s", c.Audience, payload)
			}
			if c.Dest != "https://"+shop && c.Dest != "https://"+shop+"/" {
				t.Fatalf("dest %q for shop %q", c.Dest, shop)
			}
		}
	})
}
