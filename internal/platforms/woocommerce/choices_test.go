package woocommerce

import (
	"strings"
	"testing"

	"paybridge/internal/checkout"
)

func TestParseSplits(t *testing.T) {
	kwd := func(minor int64) checkout.Money { return checkout.Money{Minor: minor, Currency: "KWD"} }
	tests := []struct {
		name, raw string
		want      []checkout.Split
		err       string
	}{
		{"none", "", nil, ""},
		{"empty array", " [] ", nil, ""},
		{"padded amounts and charges", `[{"iban":"KW81 CBKU 0000 0000 0000 1234 5601 01","amount":"6.50","knet_charge":"0.500","knet_charge_type":"fixed","cc_charge":"2.5","cc_charge_type":"percentage"}]`,
			[]checkout.Split{{IBAN: "KW81CBKU0000000000001234560101", Amount: kwd(6500),
				KNETCharge: checkout.Commission{Type: "fixed", Value: "0.500"}, CardCharge: checkout.Commission{Type: "percentage", Value: "2.5"}}}, ""},
		{"no iban", `[{"amount":"1.000"}]`, nil, "splits[0].iban: is required"},
		{"no amount", `[{"iban":"X"}]`, nil, "splits[0].amount: is required"},
		{"too precise", `[{"iban":"X","amount":"1.0005"}]`, nil, "splits[0].amount"},
		{"charge without type", `[{"iban":"X","amount":"1","cc_charge":"1"}]`, nil, "splits[0].cc_charge: give both"},
		{"fixed charge too precise", `[{"iban":"X","amount":"1","knet_charge":"0.0001","knet_charge_type":"fixed"}]`, nil, "splits[0].knet_charge"},
		{"unknown field", `[{"iban":"X","amount":"1","vendor":"a"}]`, nil, "JSON array"},
		{"number", `[{"iban":"X","amount":1}]`, nil, "string values"},
		{"object", `{"iban":"X"}`, nil, "JSON array"},
		{"trailing", `[] []`, nil, "after the JSON array"},
		{"too many", "[" + strings.Repeat(`{"iban":"X","amount":"1"},`, maxSplits) + `{"iban":"X","amount":"1"}]`, nil, "at most 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSplits(tt.raw, "KWD")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].IBAN != tt.want[i].IBAN || !got[i].Amount.Equal(tt.want[i].Amount) || got[i].KNETCharge != tt.want[i].KNETCharge || got[i].CardCharge != tt.want[i].CardCharge {
					t.Errorf("share %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestPayChoicesFingerprint(t *testing.T) {
	seen := map[string]PayChoices{}
	for _, c := range []PayChoices{{}, {Method: "knet"}, {Method: "cc"}, {Method: "cc", SaveCard: true}, {Splits: "[]"}, {Method: "knet", Splits: "[]"}} {
		fp := c.fingerprint()
		if prev, dup := seen[fp]; dup {
			t.Fatalf("%+v and %+v share fingerprint %q", prev, c, fp)
		}
		seen[fp] = c
	}
	if (PayChoices{}).fingerprint() != "" {
		t.Fatal("no choices must fingerprint as the payments made before choices existed")
	}
}
