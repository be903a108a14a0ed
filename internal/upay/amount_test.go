package upay

import (
	"errors"
	"strings"
	"testing"
	"testing/quick"

	"paybridge/internal/checkout"
)

const signVector = "LzAXQUqoX3DnP8Dmbh3RdcPTrtx5xfgK8er0ECnBzy8="

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, cur string
		minor   int64
		err     error
	}{
		{"10.000", "KWD", 10000, nil},
		{"10", "KWD", 10000, nil},
		{"10.5", "KWD", 10500, nil},
		{"12.345", "KWD", 12345, nil},
		{"20.0000", "KWD", 20000, nil},
		{"20.000000", "KWD", 20000, nil},
		{"20.0005", "KWD", 0, checkout.ErrTooPrecise},
		{"12.3456", "KWD", 0, checkout.ErrTooPrecise},
		{"10.00", "USD", 1000, nil},
		{"10.000", "USD", 1000, nil},
		{"10.001", "USD", 0, checkout.ErrTooPrecise},
		{"500", "JPY", 500, nil},
		{"500.0", "JPY", 500, nil},
		{"500.00", "JPY", 500, nil},
		{"500.5", "JPY", 0, checkout.ErrTooPrecise},
		{"1e3", "KWD", 0, checkout.ErrInvalidAmount},
		{"-1", "KWD", 0, checkout.ErrInvalidAmount},
		{"", "KWD", 0, checkout.ErrInvalidAmount},
		{".5", "KWD", 0, checkout.ErrInvalidAmount},
		{"5.", "KWD", 0, checkout.ErrInvalidAmount},
		{"1,5", "KWD", 0, checkout.ErrInvalidAmount},
		{" 1", "KWD", 0, checkout.ErrInvalidAmount},
		{"1", "XXX", 0, checkout.ErrUnknownCurrency},
		{"1", "", 0, checkout.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		m, err := ParseAmount(tt.in, tt.cur)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseAmount(%q, %s) err = %v, want %v", tt.in, tt.cur, err, tt.err)
			}
			continue
		}
		if err != nil || m.Minor != tt.minor || m.Currency != tt.cur {
			t.Errorf("ParseAmount(%q, %s) = %v, %v; want %d", tt.in, tt.cur, m, err, tt.minor)
		}
	}
}

func TestMapResult(t *testing.T) {
	tests := map[string]checkout.Outcome{
		"CAPTURED": checkout.OutcomePaid, "captured": checkout.OutcomePending, " CAPTURED ": checkout.OutcomePending,
		"NOT CAPTURED": checkout.OutcomeFailed, "FAILED": checkout.OutcomeFailed, "DECLINED": checkout.OutcomeFailed,
		"CANCELED": checkout.OutcomeCanceled, "CANCELLED": checkout.OutcomeCanceled, "canceled": checkout.OutcomePending,
		"PENDING": checkout.OutcomePending, "APPROVED": checkout.OutcomePending, "AUTHORIZED": checkout.OutcomePending,
		"VOIDED": checkout.OutcomePending, "SUCCESS": checkout.OutcomePending, "NULL": checkout.OutcomePending,
		"": checkout.OutcomePending, "CAPTURED?": checkout.OutcomePending, "NOT_CAPTURED": checkout.OutcomePending,
	}
	for in, want := range tests {
		if got := MapResult(in); got != want {
			t.Errorf("MapResult(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestAmountFormatParseQuick: Money.String() parses back exactly, with any
// number of extra zeros; a non-zero digit past the exponent is refused.
func TestAmountFormatParseQuick(t *testing.T) {
	currencies := []string{"KWD", "USD", "JPY", "BHD", "CLF"}
	f := func(minor int64, ci uint8, zeros uint8, digit uint8) bool {
		if minor < 0 {
			minor = -(minor + 1)
		}
		minor %= checkout.MaxMinor + 1
		cur := currencies[int(ci)%len(currencies)]
		m := checkout.Money{Minor: minor, Currency: cur}
		s := m.String()
		got, err := ParseAmount(s, cur)
		if err != nil || !got.Equal(m) {
			return false
		}
		padded := s
		if !strings.Contains(padded, ".") {
			padded += "."
		}
		padded += strings.Repeat("0", int(zeros%6)+1)
		if got, err := ParseAmount(padded, cur); err != nil || !got.Equal(m) {
			t.Logf("padded %q: %v %v", padded, got, err)
			return false
		}
		_, err = ParseAmount(padded+string(rune('1'+digit%9)), cur)
		return errors.Is(err, checkout.ErrTooPrecise)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Fatal(err)
	}
}
