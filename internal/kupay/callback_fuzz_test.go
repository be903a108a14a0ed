package kupay_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"paybridge/internal/checkout"
	"paybridge/internal/kupay"
	"paybridge/internal/testenv"
)

// FuzzKupayCallback: KuPay signs nothing, so a callback is only a claim:
// it parses or fails with ErrUnreadable, is never Signed, keeps its fields
// short, and claims what its status maps to.
func FuzzKupayCallback(f *testing.F) {
	testenv.FuzzSeeds(f)
	f.Add([]byte(`{"payment_id":"k1","status":"paid","amount":12.5}`), "application/json", "")
	f.Add([]byte("payment_id=k1&status=expired"), "application/x-www-form-urlencoded", "")
	f.Add([]byte("payment_id=k1;status=paid"), "", "status=paid")
	f.Add([]byte(`{"payment_id":{"a":[1,2]}}`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, contentType, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		req := checkout.CallbackRequest{Method: http.MethodPost, URL: "https://bridge.example/notify/kupay/pay_x", Query: q,
			Header: http.Header{"Content-Type": {contentType}}, Body: body}
		cb, err := kupay.New(kupay.Config{}).ParseCallback(context.Background(), acct(), req)
		if err != nil {
			if !errors.Is(err, checkout.ErrUnreadable) {
				t.Fatalf("error %v does not wrap ErrUnreadable", err)
			}
			return
		}
		if cb.Signed {
			t.Fatal("Signed")
		}
		for k, v := range cb.Fields {
			if len(v) > 200 || v == "" {
				t.Fatalf("field %q = %d bytes", k, len(v))
			}
		}
		if cb.Ref != cb.Fields["payment_id"] || cb.Result != cb.Fields["status"] || (cb.Result != "" && cb.Outcome != kupay.MapStatus(cb.Result)) {
			t.Fatalf("claim %+v does not follow its fields", cb)
		}
	})
}
