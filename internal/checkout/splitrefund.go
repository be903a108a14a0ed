package checkout

import "fmt"

// refundSplits says how a refund of amount divides between the vendors of a
// split payment, given the payment's other refunds: as asked (every vendor
// one of the payment's, each part at most what that vendor has left, the
// parts adding up to amount), or, when nothing is asked, what every vendor
// has left, which must be the whole amount (a full refund). A payment that
// is not split takes no parts.
func refundSplits(p *Payment, refunds []*Refund, amount Money, asked []RefundSplit) ([]RefundSplit, error) {
	if len(p.Options.Splits) == 0 {
		if len(asked) > 0 {
			return nil, &ValidationError{"splits", "the payment is not split between vendors"}
		}
		return nil, nil
	}
	// What each vendor (IBAN, in the payment's order) was paid, less what
	// refunds that have not failed took back.
	var vendors []string
	left, paid := map[string]Money{}, map[string]Money{}
	for _, s := range p.Options.Splits {
		if _, ok := left[s.IBAN]; !ok {
			vendors = append(vendors, s.IBAN)
			left[s.IBAN] = Money{Currency: p.Amount.Currency}
		}
		if m, err := left[s.IBAN].Add(s.Amount); err == nil {
			left[s.IBAN], paid[s.IBAN] = m, m
		}
	}
	part := func(iban string, amount Money) RefundSplit {
		before, _ := paid[iban].Sub(left[iban])
		return RefundSplit{IBAN: iban, Amount: amount, Paid: paid[iban], Before: before}
	}
	for _, r := range refunds {
		if r.Status == RefundFailed {
			continue
		}
		for _, s := range r.Splits {
			if m, err := left[s.IBAN].Sub(s.Amount); err == nil {
				left[s.IBAN] = m
			}
		}
	}
	if len(asked) == 0 {
		var parts []RefundSplit
		total := Money{Currency: p.Amount.Currency}
		for _, v := range vendors {
			if left[v].Positive() {
				parts = append(parts, part(v, left[v]))
				total, _ = total.Add(left[v])
			}
		}
		if !total.Equal(amount) {
			return nil, &ValidationError{"splits", fmt.Sprintf("a refund of %s %s of a payment split between vendors says how much each vendor refunds (splits: [{iban, amount}]); without them only the whole %s %s left is refunded",
				amount, amount.Currency, total, total.Currency)}
		}
		return parts, nil
	}
	total := Money{Currency: amount.Currency}
	var parts []RefundSplit
	seen := map[string]bool{}
	for i, s := range asked {
		field := fmt.Sprintf("splits[%d]", i)
		have, ok := left[s.IBAN]
		switch {
		case !ok:
			return nil, &ValidationError{field + ".iban", "is not one of the payment's vendors"}
		case seen[s.IBAN]:
			return nil, &ValidationError{field + ".iban", "names a vendor twice"}
		case s.Amount.Currency != amount.Currency:
			return nil, &ValidationError{field + ".amount", "must be in the payment's currency"}
		case !s.Amount.Positive():
			return nil, &ValidationError{field + ".amount", "must be greater than zero"}
		case s.Amount.Cmp(have) > 0:
			return nil, &ValidationError{field + ".amount", fmt.Sprintf("%s %s is more than this vendor has left to refund (%s)", s.Amount, s.Amount.Currency, have)}
		}
		seen[s.IBAN] = true
		parts = append(parts, part(s.IBAN, s.Amount))
		left[s.IBAN], _ = have.Sub(s.Amount)
		total, _ = total.Add(s.Amount)
	}
	if !total.Equal(amount) {
		return nil, &ValidationError{"splits", fmt.Sprintf("add up to %s %s, the refund is %s %s", total, total.Currency, amount, amount.Currency)}
	}
	return parts, nil
}
