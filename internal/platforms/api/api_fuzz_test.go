package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"paybridge/internal/server"
	"paybridge/internal/testenv"
)

// FuzzStandardWebhookSign: Sign is the Standard Webhooks scheme. A
// receiver following the specification (recomputing the HMAC over
// "id.timestamp.body" with the base64-decoded secret) accepts the
// signature for the message signed and for no other body, id or
// timestamp (ids as the bridge makes them: no "."); a secret that is not
// whsec_<base64> is refused rather than used.
func FuzzStandardWebhookSign(f *testing.F) {
	testenv.FuzzSeeds(f)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 32-byte key for the fuzz test!"))
	f.Add(secret, "msg_pay_1_paid", int64(1764583200), []byte(`{"type":"payment.paid"}`), []byte(`{"type":"payment.paid"}`))
	f.Add(secret, "msg_pay_1_paid", int64(1764583200), []byte(`{"type":"payment.paid"}`), []byte(`{"type":"payment.failed"}`))
	f.Add("whsec_!!", "m", int64(0), []byte(""), []byte(""))
	f.Add("", "m", int64(-1), []byte("x"), []byte("x"))
	f.Fuzz(func(t *testing.T, secret, id string, ts int64, signed, sent []byte) {
		sig, err := Sign(secret, id, ts, signed)
		key, kerr := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if kerr != nil || len(key) == 0 {
			if err == nil {
				t.Fatalf("secret %q is not whsec_<base64> but signed", secret)
			}
			return
		}
		if err != nil {
			t.Fatalf("secret %q refused: %v", secret, err)
		}
		verify := func(id string, ts int64, body []byte) bool {
			v, ok := strings.CutPrefix(sig, "v1,")
			if !ok {
				return false
			}
			got, err := base64.StdEncoding.DecodeString(v)
			m := hmac.New(sha256.New, key)
			m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
			m.Write(body)
			return err == nil && hmac.Equal(got, m.Sum(nil))
		}
		if !verify(id, ts, signed) {
			t.Fatalf("a receiver refuses %q", sig)
		}
		if !bytes.Equal(signed, sent) && verify(id, ts, sent) {
			t.Fatalf("signature of %q verifies %q", signed, sent)
		}
		if !strings.Contains(id, ".") && (verify(id+"x", ts, signed) || verify(id, ts+1, signed)) {
			t.Fatal("signature verifies another id or timestamp")
		}
	})
}

// FuzzDecodeCreate: the API's request decoding (decode into the create
// payment request) either succeeds on exactly one JSON object with known
// fields, or answers a 4xx *server.HTTPError (never a 500).
func FuzzDecodeCreate(f *testing.F) {
	testenv.FuzzSeeds(f)
	for _, s := range []string{
		`{"order_id":"1001","amount":"12.345","currency":"KWD","customer":{"name":"A","email":"a@example.com"}}`,
		`{"order_id":"1001","amount":12.345}`, `{"order_id":"1"}}`, `{"order_id":"1"}]`, `{"x":1}`, `[]`, ``, ` `,
		`{"products":[{"name":"n","price":"1.000","quantity":2}],"splits":[{"iban":"KW","amount":"1"}]}`,
		strings.Repeat(`{"customer":`, 10001),
	} {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/payments", bytes.NewReader(body))
		var in createIn
		err := decode(c, &in)
		if err == nil {
			var m map[string]json.RawMessage
			dec := json.NewDecoder(bytes.NewReader(body))
			if dec.Decode(&m) != nil || dec.More() || !json.Valid(body) {
				t.Fatalf("decoded %q, which is not one JSON object", body)
			}
			return
		}
		var he *server.HTTPError
		if !errors.As(err, &he) || he.Status < 400 || he.Status > 499 {
			t.Fatalf("error %v is not a 4xx answer", err)
		}
	})
}
