package checkout

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Errors returned by money parsing and arithmetic. They are wrapped with the
// offending value; test with [errors.Is].
var (
	// ErrUnknownCurrency means the code is not an active ISO 4217 currency.
	ErrUnknownCurrency = errors.New("unknown currency")
	// ErrInvalidAmount means the text is not a plain non-negative decimal
	// number such as "12", "12.3" or "12.345".
	ErrInvalidAmount = errors.New("invalid amount")
	// ErrTooPrecise means the amount has more decimals than the currency's
	// minor unit allows (e.g. "1.2345" KWD, "1.5" JPY).
	ErrTooPrecise = errors.New("amount has more decimals than the currency allows")
	// ErrAmountTooLarge means the amount does not fit the supported range.
	ErrAmountTooLarge = errors.New("amount too large")
	// ErrCurrencyMismatch means two amounts of different currencies met.
	ErrCurrencyMismatch = errors.New("currency mismatch")
)

// MaxMinor is the largest amount, in minor units, that paybridge accepts:
// 10^15-1, far above any card or KNET limit and far below int64 overflow.
const MaxMinor int64 = 999_999_999_999_999

// exponents holds the ISO 4217 minor unit ("exponent") of every active
// currency. It is written out here, not derived from golang.org/x/text,
// because CLDR's cash digits differ from ISO for several codes (IQD, IDR, COP).
// Source: ISO 4217 list one (SIX), amendment 2024.
var exponents = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2,
	"AWG": 2, "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0,
	"BMD": 2, "BND": 2, "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2,
	"BZD": 2, "CAD": 2, "CDF": 2, "CHF": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2,
	"CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
	"EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2,
	"GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2,
	"HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
	"JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2,
	"KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2,
	"LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2,
	"MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2,
	"NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2,
	"PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2,
	"RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2,
	"SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2,
	"SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2,
	"TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "UYI": 0, "UYU": 2,
	"UYW": 4, "UZS": 2, "VED": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0,
	"XCD": 2, "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// Exponent returns the number of decimals of the currency's minor unit
// (KWD 3, USD 2, JPY 0). The code must be upper case.
func Exponent(currency string) (int, error) {
	e, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	return e, nil
}

// Money is an exact amount: an integer count of the currency's minor units
// (fils for KWD, cents for USD). The zero value is not a valid amount of any
// currency; build one with [ParseMoney] or [NewMoney].
type Money struct {
	// Minor is the amount in minor units (12.345 KWD is 12345).
	Minor int64
	// Currency is the upper-case ISO 4217 code.
	Currency string
}

// NewMoney checks the currency and range and returns the amount.
func NewMoney(minor int64, currency string) (Money, error) {
	if _, err := Exponent(currency); err != nil {
		return Money{}, err
	}
	if minor < 0 {
		return Money{}, fmt.Errorf("%w: negative", ErrInvalidAmount)
	}
	if minor > MaxMinor {
		return Money{}, fmt.Errorf("%w: %d minor units", ErrAmountTooLarge, minor)
	}
	return Money{Minor: minor, Currency: currency}, nil
}

// ParseMoney reads a plain decimal string in major units ("12.345") for the
// currency. It accepts digits with an optional fraction ("12", "12.3"),
// rejects signs, exponents, spaces, separators and a fraction longer than the
// currency's exponent, and never rounds. Trailing zeros beyond the exponent
// ("12.3450" KWD) are refused too: they are a sign of a float upstream.
//
// Written by hand: the decimal libraries accept exponent notation and signs
// and round on conversion, and this grammar is the whole of what we need.
func ParseMoney(amount, currency string) (Money, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return Money{}, err
	}
	whole, frac, hasDot := strings.Cut(amount, ".")
	if whole == "" || (hasDot && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return Money{}, fmt.Errorf("%w: %q is not a plain decimal number", ErrInvalidAmount, amount)
	}
	if len(frac) > exp {
		return Money{}, fmt.Errorf("%w: %q has %d decimals, %s allows %d", ErrTooPrecise, amount, len(frac), currency, exp)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole)+exp > 15 {
		return Money{}, fmt.Errorf("%w: %q", ErrAmountTooLarge, amount)
	}
	digits := whole + frac + strings.Repeat("0", exp-len(frac))
	var minor int64
	for _, c := range digits {
		minor = minor*10 + int64(c-'0')
	}
	return NewMoney(minor, currency)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount in major units with exactly the currency's
// number of decimals ("12.345" for KWD, "10.00" for USD, "500" for JPY).
// It is the inverse of [ParseMoney].
func (m Money) String() string {
	exp, ok := exponents[m.Currency]
	if !ok {
		return fmt.Sprintf("%d(minor %s)", m.Minor, m.Currency)
	}
	return FormatMinor(m.Minor, exp)
}

// FormatMinor formats an integer count of minor units with exp decimals.
func FormatMinor(minor int64, exp int) string {
	neg := minor < 0
	var u uint64
	if neg {
		u = uint64(-(minor + 1)) + 1 // no overflow at MinInt64
	} else {
		u = uint64(minor)
	}
	s := fmt.Sprintf("%0*d", exp+1, u)
	if exp > 0 {
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.Minor == 0 }

// Equal reports whether both amounts have the same currency and value.
func (m Money) Equal(o Money) bool { return m.Currency == o.Currency && m.Minor == o.Minor }

// Positive reports whether the amount is above zero.
func (m Money) Positive() bool { return m.Minor > 0 }

// Cmp compares two amounts of one currency: -1 when m is less than o, 0
// when equal, +1 when more. Amounts of different currencies have no order:
// Cmp compares their currency codes instead, so callers check the currency
// first (every caller in the core does).
func (m Money) Cmp(o Money) int {
	if m.Currency != o.Currency {
		return strings.Compare(m.Currency, o.Currency)
	}
	return cmp.Compare(m.Minor, o.Minor)
}

// MultipleOf reports whether the amount in minor units is a multiple of n
// (Checkout.com: a 3-decimal amount must end in 0, a multiple of 10).
func (m Money) MultipleOf(n int64) bool { return n <= 1 || m.Minor%n == 0 }

// Add returns m+o. Both must be of the same currency.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	if o.Minor > 0 && m.Minor > math.MaxInt64-o.Minor {
		return Money{}, ErrAmountTooLarge
	}
	return Money{Minor: m.Minor + o.Minor, Currency: m.Currency}, nil
}

// Sub returns m-o, which may be negative. Both must be of the same currency.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: %s - %s", ErrCurrencyMismatch, m.Currency, o.Currency)
	}
	return Money{Minor: m.Minor - o.Minor, Currency: m.Currency}, nil
}

// ParseMoneyPadded is ParseMoney for amounts other systems print: zeros past
// the currency's exponent are accepted and dropped ("20.0000" KWD is 20.000,
// as a store set to 4 decimals or a gateway shows it), while any other digit
// there is refused ("20.0005" KWD), never rounded.
func ParseMoneyPadded(s, currency string) (Money, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return Money{}, err
	}
	if whole, frac, ok := strings.Cut(s, "."); ok && len(frac) > exp && strings.Trim(frac[exp:], "0") == "" {
		s = whole
		if exp > 0 {
			s += "." + frac[:exp]
		}
	}
	return ParseMoney(s, currency)
}
