package checkout

import (
	"errors"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in, cur string
		minor   int64
		err     error
	}{
		{"12.345", "KWD", 12345, nil},
		{"12.3", "KWD", 12300, nil},
		{"12", "KWD", 12000, nil},
		{"0.005", "KWD", 5, nil},
		{"0.001", "BHD", 1, nil},
		{"10.00", "USD", 1000, nil},
		{"500", "JPY", 500, nil},
		{"007.50", "USD", 750, nil},
		{"0", "USD", 0, nil},
		{"999999999999.999", "KWD", 999999999999999, nil},
		{"12.3456", "KWD", 0, ErrTooPrecise},
		{"12.3450", "KWD", 0, ErrTooPrecise},
		{"1.5", "JPY", 0, ErrTooPrecise},
		{"1.234", "USD", 0, ErrTooPrecise},
		{"-1.000", "KWD", 0, ErrInvalidAmount},
		{"+1", "KWD", 0, ErrInvalidAmount},
		{"1e3", "KWD", 0, ErrInvalidAmount},
		{"", "KWD", 0, ErrInvalidAmount},
		{".5", "KWD", 0, ErrInvalidAmount},
		{"5.", "KWD", 0, ErrInvalidAmount},
		{" 5", "KWD", 0, ErrInvalidAmount},
		{"1,000", "KWD", 0, ErrInvalidAmount},
		{"0x10", "KWD", 0, ErrInvalidAmount},
		{"١٢", "KWD", 0, ErrInvalidAmount},
		{"NaN", "USD", 0, ErrInvalidAmount},
		{"1000000000000.000", "KWD", 0, ErrAmountTooLarge},
		{"99999999999999999999", "USD", 0, ErrAmountTooLarge},
		{"1", "XYZ", 0, ErrUnknownCurrency},
		{"1", "kwd", 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.in+"/"+tt.cur, func(t *testing.T) {
			m, err := ParseMoney(tt.in, tt.cur)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseMoney(%q, %s) error = %v, want %v", tt.in, tt.cur, err, tt.err)
			}
			if err == nil && (m.Minor != tt.minor || m.Currency != tt.cur) {
				t.Fatalf("ParseMoney(%q, %s) = %+v, want %d", tt.in, tt.cur, m, tt.minor)
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{12345, "KWD"}, "12.345"},
		{Money{5, "KWD"}, "0.005"},
		{Money{0, "KWD"}, "0.000"},
		{Money{1000, "USD"}, "10.00"},
		{Money{7, "USD"}, "0.07"},
		{Money{500, "JPY"}, "500"},
		{Money{-5, "KWD"}, "-0.005"},
		{Money{12345, "CLF"}, "1.2345"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// TestParseFormatIdentity is the property test: for every currency and
// every amount in range, ParseMoney(String(m)) == m, and String(Parse(s))
// == s for canonical strings.
func TestParseFormatIdentity(t *testing.T) {
	codes := make([]string, 0, len(exponents))
	for c := range exponents {
		codes = append(codes, c)
	}
	f := func(raw uint64, pick uint8) bool {
		cur := codes[int(pick)%len(codes)]
		minor := int64(raw % uint64(MaxMinor+1))
		m, err := NewMoney(minor, cur)
		if err != nil {
			t.Logf("NewMoney(%d, %s): %v", minor, cur, err)
			return false
		}
		back, err := ParseMoney(m.String(), cur)
		if err != nil || !back.Equal(m) || back.String() != m.String() {
			t.Logf("%s %s → %+v, %v", m, cur, back, err)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000}); err != nil {
		t.Fatal(err)
	}
	// Small amounts, where zero padding matters most.
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		cur := codes[r.IntN(len(codes))]
		m := Money{Minor: r.Int64N(10000), Currency: cur}
		back, err := ParseMoney(m.String(), cur)
		if err != nil || !back.Equal(m) {
			t.Fatalf("%+v → %q → %+v, %v", m, m.String(), back, err)
		}
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12.345", "0.005", "1", "1.2.3", "-1", "1e3", "00.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s, "KWD")
		if err != nil {
			return
		}
		if m.Minor < 0 || m.Minor > MaxMinor {
			t.Fatalf("%q parsed out of range: %d", s, m.Minor)
		}
		back, err := ParseMoney(m.String(), "KWD")
		if err != nil || !back.Equal(m) {
			t.Fatalf("%q → %s → %v %v", s, m, back, err)
		}
	})
}

func TestExponents(t *testing.T) {
	want := map[string]int{"KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
		"JPY": 0, "KRW": 0, "USD": 2, "EUR": 2, "SAR": 2, "AED": 2, "QAR": 2, "CLF": 4}
	for c, e := range want {
		if got, err := Exponent(c); err != nil || got != e {
			t.Errorf("Exponent(%s) = %d, %v; want %d", c, got, err, e)
		}
	}
}

func TestMoneyArithmetic(t *testing.T) {
	a, b := Money{12345, "KWD"}, Money{5, "KWD"}
	if s, err := a.Add(b); err != nil || s.Minor != 12350 {
		t.Fatalf("Add = %v, %v", s, err)
	}
	if d, err := a.Sub(b); err != nil || d.Minor != 12340 {
		t.Fatalf("Sub = %v, %v", d, err)
	}
	if _, err := a.Add(Money{1, "USD"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("Add across currencies: %v", err)
	}
}

func TestCanTransition(t *testing.T) {
	tests := []struct {
		from, to Status
		ok       bool
	}{
		{StatusCreated, StatusRedirected, true},
		{StatusCreated, StatusPaid, true},
		{StatusRedirected, StatusPending, true},
		{StatusPending, StatusPaid, true},
		{StatusPending, StatusExpired, true},
		{StatusRedirected, StatusCreated, false},
		{StatusPending, StatusRedirected, false},
		{StatusPaid, StatusFailed, false},
		{StatusFailed, StatusPaid, false},
		{StatusExpired, StatusPaid, false},
		{StatusPaid, StatusPaid, false},
		{StatusCreated, Status("bogus"), false},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestIDs(t *testing.T) {
	id := NewID("pay")
	if !ValidID("pay", id) || len(id) != 30 {
		t.Fatalf("NewID = %q", id)
	}
	for _, bad := range []string{"", "pay_", "ref_" + id[4:], id + "a", "pay_../../etc/passwdaaaaaaaaa"} {
		if ValidID("pay", bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestParseMoneyPadded(t *testing.T) {
	for in, want := range map[string]int64{"20.0000": 20000, "20.000": 20000, "20": 20000, "1.2350": 1235, "0.0050": 5} {
		if m, err := ParseMoneyPadded(in, "KWD"); err != nil || m.Minor != want {
			t.Errorf("ParseMoneyPadded(%q) = %v, %v; want %d", in, m, err, want)
		}
	}
	for _, in := range []string{"20.0005", "1.2355", "-1", "1e3", "1."} {
		if _, err := ParseMoneyPadded(in, "KWD"); err == nil {
			t.Errorf("ParseMoneyPadded(%q): no error", in)
		}
	}
	if m, err := ParseMoneyPadded("500.00", "JPY"); err != nil || m.Minor != 500 {
		t.Errorf("JPY 500.00 = %v, %v", m, err)
	}
}
