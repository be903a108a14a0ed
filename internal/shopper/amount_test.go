package shopper

import (
	"testing"

	"paybridge/internal/checkout"
)

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		m      checkout.Money
		en, ar string
	}{
		{checkout.Money{Minor: 12345, Currency: "KWD"}, "KWD 12.345", "12.345 د.ك."},
		{checkout.Money{Minor: 5, Currency: "KWD"}, "KWD 0.005", "0.005 د.ك."},
		{checkout.Money{Minor: 1234567890, Currency: "KWD"}, "KWD 1,234,567.890", "1,234,567.890 د.ك."},
		{checkout.Money{Minor: 1230, Currency: "USD"}, "USD 12.30", "12.30 US$"},
		{checkout.Money{Minor: 0, Currency: "SAR"}, "SAR 0.00", "0.00 ر.س."},
		{checkout.Money{Minor: 1200, Currency: "JPY"}, "JPY 1,200", "1,200 JPY"},
		{checkout.Money{Minor: 100000, Currency: "EUR"}, "EUR 1,000.00", "1,000.00 EUR"},
		{checkout.Money{Minor: 123456, Currency: "CLF"}, "CLF 12.3456", "12.3456 CLF"},
		{checkout.Money{Minor: 999, Currency: "XYZ"}, "XYZ 999", "999 XYZ"},
		{checkout.Money{Minor: -1500, Currency: "BHD"}, "BHD -1.500", "-1.500 د.ب."},
	} {
		if got := formatAmount(tc.m, "en"); got != tc.en {
			t.Errorf("en %v = %q, want %q", tc.m, got, tc.en)
		}
		if got := formatAmount(tc.m, "ar"); got != tc.ar {
			t.Errorf("ar %v = %q, want %q", tc.m, got, tc.ar)
		}
	}
}
