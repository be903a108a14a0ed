package shopper

import (
	"strconv"
	"strings"

	"paybridge/internal/checkout"
)

// arabicCurrency holds the Arabic abbreviations shoppers in the Gulf read
// on prices, for the currencies the bridge's gateways take. Written out
// here (not golang.org/x/text/currency) because its formatters take a
// float amount, and money here stays in integer minor units; other
// currencies show their ISO code.
var arabicCurrency = map[string]string{
	"KWD": "د.ك.", "SAR": "ر.س.", "AED": "د.إ.", "BHD": "د.ب.", "QAR": "ر.ق.", "OMR": "ر.ع.",
	"JOD": "د.أ.", "EGP": "ج.م.", "USD": "US$",
}

// formatAmount writes m as a shopper reads it: every decimal of the
// currency's minor unit (KWD 12.345, USD 12.30, JPY 1,200), thousands
// grouped with commas; "KWD 12.345" in English, "12.345 د.ك." in Arabic
// (Western digits, as on Gulf shop receipts). An unknown currency shows
// the minor units with its code, never a guess at the decimals.
func formatAmount(m checkout.Money, lang string) string {
	digits, frac := "", ""
	exp, err := checkout.Exponent(m.Currency)
	neg := m.Minor < 0
	n := m.Minor
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	if err != nil {
		exp = 0
	}
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		digits, frac = s[:len(s)-exp], s[len(s)-exp:]
	} else {
		digits = s
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	num := b.String()
	if lang == "ar" {
		if sym, ok := arabicCurrency[m.Currency]; ok {
			return num + " " + sym
		}
		return num + " " + m.Currency
	}
	return m.Currency + " " + num
}
