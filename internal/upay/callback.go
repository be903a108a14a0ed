package upay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/wire"
)

// MaxSignatureAge is how far a signed notification's X-Timestamp may be
// from our clock.
const MaxSignatureAge = 5 * time.Minute

// callbackFields are the names UPayments puts on return URLs and
// notifications; a value is split on "?" only when what follows starts
// with one of them (the appended-with-"?" quirk).
var callbackFields = map[string]bool{
	"payment_id": true, "result": true, "track_id": true, "tran_id": true, "ref": true, "auth": true,
	"post_date": true, "payment_type": true, "requested_order_id": true, "order_id": true,
	"invoice_id": true, "refund_order_id": true, "upay_order_id": true, "receipt_id": true,
	"transaction_date": true, "trn_udf": true, "message": true,
}

const maxFieldLen = 2048

// ParseCallback reads a notification or browser return: the query string,
// plus a form (application/x-www-form-urlencoded) or JSON body. It handles
// UPayments appending "?payment_id=…" to a URL that already had a query.
//
// When the request has X-Signature and X-Timestamp headers and the account
// has an "api_secret", it verifies Base64(HMAC-SHA256(secret, timestamp +
// "POST" + req.URL + body)); a mismatch or a timestamp more than
// [MaxSignatureAge] away returns an error wrapping checkout.ErrBadSignature.
// Signed is true only when a signature verified. A body that is neither a
// readable form nor a JSON object is an error wrapping
// checkout.ErrUnreadable. Unsigned callbacks are
// accepted (UPayments' signing is not yet generally rolled out): the result
// is a claim to be checked with Status, never proof.
func (g *Gateway) ParseCallback(ctx context.Context, acct checkout.GatewayAccount, req checkout.CallbackRequest) (checkout.Callback, error) {
	var cb checkout.Callback
	sig, ts := req.Header.Get("X-Signature"), req.Header.Get("X-Timestamp")
	if secret := acct.Credentials["api_secret"]; secret != "" && sig != "" && ts != "" {
		if err := verifySignature(secret, sig, ts, req.URL, req.Body, g.cfg.Now()); err != nil {
			return checkout.Callback{}, err
		}
		cb.Signed = true
	}
	fields, err := callbackValues(req)
	if err != nil {
		return checkout.Callback{}, err
	}
	cb.Fields = make(map[string]string, len(fields))
	for k, vs := range fields {
		if len(vs) == 0 || k == "" {
			continue
		}
		v := vs[0]
		if len(v) > maxFieldLen {
			v = v[:maxFieldLen]
		}
		cb.Fields[k] = v
	}
	cb.Ref = cb.Fields["track_id"]
	cb.Result = cb.Fields["result"]
	cb.Outcome = MapResult(cb.Result)
	return cb, nil
}

func verifySignature(secret, sig, ts, fullURL string, body []byte, now time.Time) error {
	if fullURL == "" {
		return fmt.Errorf("upay callback: %w: the request URL is unknown, the signature cannot be checked", checkout.ErrBadSignature)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return fmt.Errorf("upay callback: %w: bad X-Timestamp", checkout.ErrBadSignature)
	}
	t := time.Unix(n, 0)
	if n > 1e12 { // milliseconds
		t = time.UnixMilli(n)
	}
	if d := now.Sub(t); d > MaxSignatureAge || d < -MaxSignatureAge {
		return fmt.Errorf("upay callback: %w: timestamp %s is %s away from now", checkout.ErrBadSignature, ts, d.Round(time.Second))
	}
	want := Sign(secret, strings.TrimSpace(ts), "POST", fullURL, body)
	if !hmac.Equal([]byte(want), []byte(strings.TrimSpace(sig))) {
		return fmt.Errorf("upay callback: %w", checkout.ErrBadSignature)
	}
	return nil
}

// callbackValues merges the query and the body (body wins) and undoes the
// "?" quirk.
func callbackValues(req checkout.CallbackRequest) (url.Values, error) {
	out := url.Values{}
	q := req.Query
	if q == nil && req.URL != "" {
		if u, err := url.Parse(req.URL); err == nil {
			q, _ = url.ParseQuery(u.RawQuery)
		}
	}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	body := bytes.TrimSpace(req.Body)
	if len(body) > 0 {
		ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		var bv url.Values
		var err error
		if strings.Contains(ct, "json") || (ct == "" && (body[0] == '{')) {
			bv, err = jsonValues(body)
		} else {
			bv, err = url.ParseQuery(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("upay callback: %w: %w", checkout.ErrUnreadable, err)
		}
		for k, vs := range bv {
			out[k] = vs
		}
	}
	unquirk(out)
	return out, nil
}

// unquirk splits values such as "123?payment_id=9&result=CAPTURED" (our
// own query value followed by UPayments' fields appended with "?") and
// adds the fields that follow.
func unquirk(v url.Values) {
	for range 4 { // the quirk may repeat; bounded
		changed := false
		for k, vs := range v {
			for i, s := range vs {
				head, rest, ok := strings.Cut(s, "?")
				if !ok {
					continue
				}
				name, _, _ := strings.Cut(rest, "=")
				if !callbackFields[name] {
					continue
				}
				extra, err := url.ParseQuery(rest)
				if err != nil {
					continue
				}
				vs[i] = head
				for ek, evs := range extra {
					if _, exists := v[ek]; !exists {
						v[ek] = evs
					}
				}
				changed = true
			}
			v[k] = vs
		}
		if !changed {
			return
		}
	}
}

// jsonValues flattens a JSON object's top-level fields to text (numbers
// verbatim, null skipped, nested values as compact JSON).
func jsonValues(body []byte) (url.Values, error) {
	var m map[string]json.RawMessage
	if err := wire.DecodeJSON(body, &m); err != nil {
		return nil, err
	}
	out := url.Values{}
	for k, raw := range m {
		var s flexString
		if err := s.UnmarshalJSON(raw); err != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) == nil {
				out.Set(k, buf.String())
			}
			continue
		}
		if string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		out.Set(k, string(s))
	}
	return out, nil
}
