package checkout

import (
	"errors"
	"testing"

	"paybridge/internal/testenv"
)

// FuzzMoneyCurrencies extends FuzzParseMoney (KWD only) to every currency
// exponent: format∘parse and parse∘format are the identity, and the padded
// parser agrees with the strict one wherever the strict one accepts.
func FuzzMoneyCurrencies(f *testing.F) {
	testenv.FuzzSeeds(f)
	for _, c := range []struct {
		s, cur string
		minor  int64
	}{{"12.345", "KWD", 12345}, {"10.00", "USD", 1000}, {"500", "JPY", 500}, {"1.0000", "CLF", 10000},
		{"20.0000", "KWD", 0}, {"0.5", "XXX", 1}, {"999999999999.999", "KWD", MaxMinor}} {
		f.Add(c.s, c.cur, c.minor)
	}
	f.Fuzz(func(t *testing.T, s, cur string, minor int64) {
		exp, err := Exponent(cur)
		if err != nil {
			if _, perr := ParseMoney(s, cur); !errors.Is(perr, ErrUnknownCurrency) {
				t.Fatalf("ParseMoney(%q, %q) = %v, want ErrUnknownCurrency", s, cur, perr)
			}
			return
		}
		if m, err := NewMoney(minor, cur); err == nil {
			back, err := ParseMoney(m.String(), cur)
			if err != nil || !back.Equal(m) {
				t.Fatalf("%d %s → %q → %v, %v", minor, cur, m.String(), back, err)
			}
		}
		m, err := ParseMoney(s, cur)
		if err != nil {
			return
		}
		if m.Minor < 0 || m.Minor > MaxMinor {
			t.Fatalf("%q %s parsed out of range: %d", s, cur, m.Minor)
		}
		if back, err := ParseMoney(m.String(), cur); err != nil || !back.Equal(m) {
			t.Fatalf("%q %s → %s → %v, %v", s, cur, m, back, err)
		}
		if p, err := ParseMoneyPadded(s, cur); err != nil || !p.Equal(m) {
			t.Fatalf("ParseMoneyPadded(%q, %s) = %v, %v; ParseMoney gave %v (exponent %d)", s, cur, p, err, m, exp)
		}
	})
}
