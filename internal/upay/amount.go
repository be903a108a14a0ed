package upay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"paybridge/internal/checkout"
)

// ParseAmount reads an amount as UPayments writes it ("10.000", "10", 10,
// "20.0000") in major units of currency. It is checkout.ParseMoney plus one
// tolerance: zeros beyond the currency's exponent are dropped ("20.0000" KWD
// is 20.000), while any other digit there is refused ("20.0005" KWD), never
// rounded.
func ParseAmount(s, currency string) (checkout.Money, error) {
	m, err := checkout.ParseMoneyPadded(s, currency)
	if err != nil {
		return checkout.Money{}, fmt.Errorf("upay amount: %w", err)
	}
	return m, nil
}

// flexString decodes a JSON string, number (its literal, exactly), or
// boolean as text; null leaves it empty. UPayments types ids (track_id,
// payment_id) inconsistently.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return fmt.Errorf("expected a string, got %.20s", b)
	default: // number or boolean literal, kept verbatim
		*f = flexString(b)
	}
	return nil
}

// flexBool decodes true/false, "true"/"false", 1/0, "1"/"0", "yes"/"no";
// null and anything else are false.
type flexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`))
	*f = s == "true" || s == "1" || s == "yes"
	return nil
}
