package upay

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

func TestParseCallback(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := New(Config{Now: func() time.Time { return now }})
	const notifyURL = "https://bridge.example/upay/notify/pay_1"
	form := "payment_id=100326010000027219&result=CAPTURED&post_date=0917&tran_id=326010006152380&ref=326010000134" +
		"&track_id=GWdK07&auth=B03692&order_id=ME3O&requested_order_id=pay_1&payment_type=knet&invoice_id=784"
	jsonBody := `{"payment_id":100326010000027219,"result":"NOT CAPTURED","track_id":"GWdK07","tran_id":null,` +
		`"requested_order_id":"pay_1","extra":{"a":1}}`
	ts := strconv.FormatInt(now.Unix(), 10)
	signed := func(secret, ts, body string) http.Header {
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("X-Timestamp", ts)
		h.Set("X-Signature", Sign(secret, ts, "POST", notifyURL, []byte(body)))
		return h
	}
	formHeader := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	withSecret := map[string]string{"api_key": "k", "api_secret": "whsec"}
	noSecret := map[string]string{"api_key": "k"}

	tests := []struct {
		name    string
		creds   map[string]string
		req     checkout.CallbackRequest
		ref     string
		result  string
		outcome checkout.Outcome
		signed  bool
		fields  map[string]string
		err     error
		anyErr  bool
	}{
		{name: "query (browser return)", creds: noSecret,
			req: checkout.CallbackRequest{Method: "GET", Query: mustQuery(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid,
			fields: map[string]string{"payment_id": "100326010000027219", "invoice_id": "784", "auth": "B03692"}},
		{name: "query from URL only", creds: noSecret,
			req: checkout.CallbackRequest{Method: "GET", URL: notifyURL + "?" + form},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid},
		{name: "form body", creds: noSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: formHeader, Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid, fields: map[string]string{"requested_order_id": "pay_1"}},
		{name: "form body without content type", creds: noSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: http.Header{}, Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid},
		{name: "JSON body, numbers kept exactly, null skipped", creds: noSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, Body: []byte(jsonBody)},
			ref: "GWdK07", result: "NOT CAPTURED", outcome: checkout.OutcomeFailed,
			fields: map[string]string{"payment_id": "100326010000027219", "extra": `{"a":1}`, "tran_id": ""}},
		{name: "JSON body sniffed", creds: noSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Body: []byte(`{"result":"CANCELED","track_id":7}`)},
			ref: "7", result: "CANCELED", outcome: checkout.OutcomeCanceled},
		{name: "bad JSON", creds: noSecret,
			req:    checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"result":`)},
			anyErr: true},
		{name: "? quirk in query", creds: noSecret,
			req: checkout.CallbackRequest{Method: "GET", Query: mustQuery("wc_order_id=123?payment_id=9&result=CAPTURED&track_id=T9")},
			ref: "T9", result: "CAPTURED", outcome: checkout.OutcomePaid, fields: map[string]string{"wc_order_id": "123", "payment_id": "9"}},
		{name: "? quirk from URL", creds: noSecret,
			req: checkout.CallbackRequest{Method: "GET", URL: "https://shop.example/r?key=wc_abc?payment_id=9&result=CANCELED&track_id=T9"},
			ref: "T9", result: "CANCELED", outcome: checkout.OutcomeCanceled, fields: map[string]string{"key": "wc_abc"}},
		{name: "? in a value that is not the quirk", creds: noSecret,
			req:    checkout.CallbackRequest{Method: "GET", Query: url.Values{"message": {"Declined? try again=now"}, "result": {"FAILED"}}},
			result: "FAILED", outcome: checkout.OutcomeFailed, fields: map[string]string{"message": "Declined? try again=now"}},
		{name: "quirk does not override a real field", creds: noSecret,
			req:    checkout.CallbackRequest{Method: "GET", Query: mustQuery("result=CANCELED&x=1?result=CAPTURED")},
			result: "CANCELED", outcome: checkout.OutcomeCanceled},
		{name: "unknown result is pending", creds: noSecret,
			req: checkout.CallbackRequest{Method: "GET", Query: url.Values{"result": {"APPROVED"}, "track_id": {"T"}}},
			ref: "T", result: "APPROVED", outcome: checkout.OutcomePending},
		{name: "empty callback", creds: noSecret, req: checkout.CallbackRequest{Method: "GET"}, outcome: checkout.OutcomePending},
		{name: "signed, good", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", ts, form), Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid, signed: true},
		{name: "signed, millisecond timestamp", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", ts+"000", form), Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid, signed: true},
		{name: "signed, wrong secret", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("other", ts, form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signed, body tampered", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", ts, form), Body: []byte(form + "&x=1")},
			err: checkout.ErrBadSignature},
		{name: "signed, other URL", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL + "x", Header: signed("whsec", ts, form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signed, stale", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signed, future", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signed, bad timestamp", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("whsec", "yesterday", form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signed, URL unknown", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", Header: signed("whsec", ts, form), Body: []byte(form)},
			err: checkout.ErrBadSignature},
		{name: "signature headers but no secret configured: unsigned claim", creds: noSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: signed("other", ts, form), Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid, signed: false},
		{name: "secret configured, unsigned request: unsigned claim", creds: withSecret,
			req: checkout.CallbackRequest{Method: "POST", URL: notifyURL, Header: formHeader, Body: []byte(form)},
			ref: "GWdK07", result: "CAPTURED", outcome: checkout.OutcomePaid, signed: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Header == nil {
				tt.req.Header = http.Header{}
			}
			cb, err := g.ParseCallback(context.Background(), checkout.GatewayAccount{Gateway: "upay", Credentials: tt.creds}, tt.req)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			case tt.anyErr:
				if err == nil {
					t.Fatal("want an error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if cb.Ref != tt.ref || cb.Result != tt.result || cb.Outcome != tt.outcome || cb.Signed != tt.signed {
				t.Errorf("got ref=%q result=%q outcome=%s signed=%v", cb.Ref, cb.Result, cb.Outcome, cb.Signed)
			}
			for k, v := range tt.fields {
				if cb.Fields[k] != v {
					t.Errorf("Fields[%s] = %q, want %q (all: %v)", k, cb.Fields[k], v, cb.Fields)
				}
			}
			for k := range cb.Fields {
				if k == "api_key" || k == "api_secret" {
					t.Errorf("secret in fields")
				}
			}
		})
	}
}

func mustQuery(s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		panic(err)
	}
	return v
}
