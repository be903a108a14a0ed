package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"paybridge/internal/upay/upaytest"
)

// The generic API reaches the seeds' merchant features through the real
// wiring: invoices and pay links, splits, the merchant's reference and
// extra data, saved cards, the payment methods UPayments takes, its
// mandatory customer fields, and limits counted in characters, each with its
// refusal.
func TestMerchantOptions(t *testing.T) {
	b := startBridge(t, backends[0])
	const iban1, iban2 = "KW91KFHO0000000000051010173254", "KW31NBOK0000000000002010177457"
	post := func(mod func(m map[string]any)) (int, map[string]any) {
		t.Helper()
		m := b.order("opt-"+time.Now().Format("150405.000000000"), "10.000", "KWD")
		mod(m)
		return b.do("POST", "/api/v1/payments", m)
	}
	refused := func(name string, code int, body map[string]any, wantCode, wantText string) {
		t.Helper()
		e, _ := body["error"].(map[string]any)
		if code != http.StatusUnprocessableEntity || e["code"] != wantCode || !strings.Contains(e["message"].(string), wantText) {
			t.Errorf("%s: %d %v, want 422 %s %q", name, code, body, wantCode, wantText)
		}
	}

	t.Run("InvoiceByEmail", func(t *testing.T) {
		code, p := post(func(m map[string]any) {
			m["payment_method"] = "create-invoice"
			m["invoice"] = map[string]any{"notify": "email"}
		})
		if code != http.StatusCreated || p["invoice_sent"] == nil {
			t.Fatalf("%d %v", code, p)
		}
		if sent := p["invoice_sent"].(map[string]any); sent["email"] != true || sent["sms"] != false {
			t.Errorf("invoice_sent %v", sent)
		}
		if last := string(b.gw.lastCreate(t)); !strings.Contains(last, `"src":"create-invoice"`) || !strings.Contains(last, `"notificationType":"email"`) {
			t.Errorf("sent %s", last)
		}
	})
	t.Run("PayLink", func(t *testing.T) {
		code, p := post(func(m map[string]any) { m["payment_method"] = "create-invoice" })
		if code != http.StatusCreated || !strings.HasPrefix(p["invoice_url"].(string), "http") {
			t.Fatalf("%d %v", code, p)
		}
		if !strings.Contains(string(b.gw.lastCreate(t)), `"notificationType":"link"`) {
			t.Errorf("sent %s", b.gw.lastCreate(t))
		}
	})
	t.Run("InvoiceRefusals", func(t *testing.T) {
		code, body := post(func(m map[string]any) {
			m["payment_method"] = "create-invoice"
			m["invoice"] = map[string]any{"notify": "sms"}
			delete(m["customer"].(map[string]any), "mobile")
		})
		refused("sms without a mobile", code, body, "invalid_field", "customer.mobile")
		code, body = post(func(m map[string]any) { m["invoice"] = map[string]any{"notify": "fax"} })
		refused("invoice with another method", code, body, "invalid_field", `goes with "payment_method": "create-invoice"`)
		code, body = post(func(m map[string]any) {
			m["payment_method"] = "create-invoice"
			m["invoice"] = map[string]any{"notify": "fax"}
		})
		refused("notify fax", code, body, "invalid_field", "invoice.notify")
		code, body = post(func(m map[string]any) {
			m["payment_method"] = "create-invoice"
			m["splits"] = []any{map[string]any{"iban": iban1, "amount": "10.000"}}
		})
		refused("invoice with splits", code, body, "invalid_field", "cannot be combined with splits")
	})
	t.Run("Splits", func(t *testing.T) {
		code, p := post(func(m map[string]any) {
			m["splits"] = []any{
				map[string]any{"iban": iban1, "amount": "7.500", "knet_charge": "0.250", "knet_charge_type": "fixed", "cc_charge": "2.5", "cc_charge_type": "percentage"},
				map[string]any{"iban": iban2, "amount": "2.500"},
			}
		})
		if code != http.StatusCreated {
			t.Fatalf("%d %v", code, p)
		}
		last := string(b.gw.lastCreate(t))
		for _, want := range []string{`"amount":7.500,"knetCharge":0.250,"knetChargeType":"fixed","ccCharge":2.5,"ccChargeType":"percentage","ibanNumber":"` + iban1 + `"`,
			`{"amount":2.500,"ibanNumber":"` + iban2 + `"}`} {
			if !strings.Contains(last, want) {
				t.Errorf("sent %s, want %s", last, want)
			}
		}
		code, body := post(func(m map[string]any) {
			m["splits"] = []any{map[string]any{"iban": iban1, "amount": "7.500"}, map[string]any{"iban": iban2, "amount": "2.499"}}
		})
		refused("splits not adding up", code, body, "invalid_field", "add up to 9.999 KWD, the payment is 10.000 KWD")
		code, body = post(func(m map[string]any) {
			m["splits"] = []any{map[string]any{"iban": "KW92KFHO0000000000051010173254", "amount": "10.000"}}
		})
		refused("bad IBAN", code, body, "invalid_field", "splits[0].iban")
		code, body = post(func(m map[string]any) {
			m["splits"] = []any{map[string]any{"iban": iban1, "amount": "10.000", "knet_charge": "1", "knet_charge_type": "flat"}}
		})
		refused("unknown charge type", code, body, "invalid_field", `type "flat"`)
		code, body = post(func(m map[string]any) {
			m["splits"] = []any{map[string]any{"iban": iban1, "amount": "10.000", "knet_charge": "1"}}
		})
		refused("charge without a type", code, body, "invalid_field", "splits[0].knet_charge")
	})
	t.Run("SplitRefund", func(t *testing.T) {
		o := b.order("split-refund", "10.000", "KWD")
		o["splits"] = []any{map[string]any{"iban": iban1, "amount": "7.500"}, map[string]any{"iban": iban2, "amount": "2.500"}}
		code, p := b.do("POST", "/api/v1/payments", o)
		if code != http.StatusCreated {
			t.Fatalf("%d %v", code, p)
		}
		id := p["id"].(string)
		_, track := b.visit(p)
		follow(t, mustComplete(t, b, track))
		b.waitStatus(id, "paid", 10*time.Second)
		code, body := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "1.000"})
		refused("partial refund without parts", code, body, "invalid_field", "says how much each vendor refunds")
		code, body = b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "3.000",
			"splits": []any{map[string]any{"iban": iban2, "amount": "3.000"}}})
		refused("above a vendor's share", code, body, "invalid_field", "more than this vendor has left to refund (2.500)")
		code, r := b.do("POST", "/api/v1/payments/"+id+"/refunds", map[string]any{"amount": "1.500",
			"splits": []any{map[string]any{"iban": iban1, "amount": "1.000"}, map[string]any{"iban": iban2, "amount": "0.500"}}})
		if code != http.StatusCreated || len(r["splits"].([]any)) != 2 {
			t.Fatalf("split refund: %d %v", code, r)
		}
		b.waitField(id, "refunded_amount", "1.500", 10*time.Second)
		if n := len(b.sim.Requests("create-multivendor-refund")); n != 1 {
			t.Fatalf("%d multi-vendor refund requests", n)
		}
	})
	t.Run("ReferenceExtraDataSaveCard", func(t *testing.T) {
		code, p := post(func(m map[string]any) {
			m["reference"] = "PO-77"
			m["extra_data"] = "branch=salmiya"
			m["save_card"] = true
		})
		if code != http.StatusCreated {
			t.Fatalf("%d %v", code, p)
		}
		last := string(b.gw.lastCreate(t))
		for _, want := range []string{`"reference":"PO-77"`, `"customerExtraData":"branch=salmiya"`, `"isSaveCard":true`} {
			if !strings.Contains(last, want) {
				t.Errorf("sent %s, want %s", last, want)
			}
		}
		code, body := post(func(m map[string]any) {
			m["save_card"] = true
			delete(m["customer"].(map[string]any), "unique_id")
		})
		refused("save_card without a customer id", code, body, "invalid_field", "customer.unique_id")
		code, body = post(func(m map[string]any) { m["extra_data"] = strings.Repeat("x", 256) })
		refused("extra_data too long", code, body, "invalid_field", "extra_data: is longer than 255 characters")
	})
	t.Run("SavedCardsForgotten", func(t *testing.T) {
		token := func(order map[string]any) string {
			t.Helper()
			code, p := b.do("POST", "/api/v1/payments", order)
			if code != http.StatusCreated {
				t.Fatalf("%d %v", code, p)
			}
			var sent struct {
				Tokens struct {
					CustomerUniqueToken json.Number `json:"customerUniqueToken"`
				} `json:"tokens"`
			}
			if err := json.Unmarshal(b.gw.lastCreate(t), &sent); err != nil {
				t.Fatal(err)
			}
			return sent.Tokens.CustomerUniqueToken.String()
		}
		first := b.order("card-1", "10.000", "KWD")
		first["customer"].(map[string]any)["unique_id"] = "cust-cards"
		first["save_card"] = true
		tok := token(first)
		again := b.order("card-2", "10.000", "KWD")
		again["customer"].(map[string]any)["unique_id"] = "cust-cards"
		if len(tok) != 16 || token(again) != tok {
			t.Fatalf("returning customer's token: %s, first %s", token(again), tok)
		}
		code, body := b.do("DELETE", "/api/v1/customers/cust-cards/cards", nil)
		if code != http.StatusOK || body["tokens_forgotten"] != float64(1) {
			t.Fatalf("forget: %d %v", code, body)
		}
		after := b.order("card-3", "10.000", "KWD")
		after["customer"].(map[string]any)["unique_id"] = "cust-cards"
		if got := token(after); got != "" {
			t.Fatalf("a forgotten customer's token %s", got)
		}
	})
	t.Run("Methods", func(t *testing.T) {
		for _, m := range []string{"cc", "apple-pay", "google-pay", "samsung-pay"} {
			if code, p := post(func(o map[string]any) { o["payment_method"] = m }); code != http.StatusCreated {
				t.Errorf("%s: %d %v", m, code, p)
			}
		}
		for _, m := range []string{"amex", "apple-pay-knet"} {
			code, body := post(func(o map[string]any) { o["payment_method"] = m })
			refused(m, code, body, "unsupported_by_gateway", "knet, cc, samsung-pay, apple-pay, google-pay")
		}
	})
	t.Run("CustomerFields", func(t *testing.T) {
		code, body := post(func(m map[string]any) { delete(m["customer"].(map[string]any), "name") })
		refused("no customer name", code, body, "missing_field", "customer.name")
		code, body = post(func(m map[string]any) {
			c := m["customer"].(map[string]any)
			delete(c, "email")
			delete(c, "mobile")
		})
		refused("neither e-mail nor mobile", code, body, "missing_field", "customer.email or customer.mobile")
		code, body = post(func(m map[string]any) { m["customer"].(map[string]any)["name"] = strings.Repeat("ف", 51) })
		refused("name too long", code, body, "invalid_field", "customer.name: is longer than 50 characters")
	})
	t.Run("ArabicDescriptionAndExpiry", func(t *testing.T) {
		code, p := post(func(m map[string]any) { m["description"] = strings.Repeat("تمر ", 75) }) // 300 characters, 525 bytes
		if code != http.StatusCreated {
			t.Fatalf("%d %v", code, p)
		}
		exp, err := time.Parse(time.RFC3339, p["expires_at"].(string))
		if err != nil || !exp.After(time.Now()) {
			t.Errorf("expires_at %v: %v", p["expires_at"], err)
		}
	})
}

// mustComplete pays track on the UPayments simulator and returns where the
// shopper's browser goes.
func mustComplete(t *testing.T, b *bridge, track string) string {
	t.Helper()
	ret, err := b.sim.Complete(track, upaytest.Captured)
	if err != nil {
		t.Fatal(err)
	}
	return ret
}
