package checkout

import (
	"context"
	"errors"
	"fmt"
)

// EventRefundDeclined records a refund refused before any gateway call.
const EventRefundDeclined = "refund_declined"

// DeclineRefund records a refund the platform asked for but the bridge
// will not make (the gateway has no such refund, the amount is above what
// is left, the payment is not paid …) as failed from the start, without
// any gateway call, with reason as its Reason. Like [Service.Decline] for
// payments, recording it makes telling the platform durable: the failure
// goes through the store:sync ladder ([Service.SyncRefund]), survives
// restarts (the reconciler finds it unsynced) and is in the audit trail.
//
// req.Reference is required: asking again with it returns the first
// refund of that reference, whatever its status. An amount without a
// currency (the platform's could not be read) is recorded as zero in the
// payment's currency.
func (s *Service) DeclineRefund(ctx context.Context, paymentID string, req RefundRequest, reason string) (*Refund, error) {
	if req.Reference == "" || len(req.Reference) > 200 {
		return nil, &ValidationError{"reference", "is required (at most 200 characters) to decline a refund"}
	}
	for range 3 {
		p, err := s.store.Payment(ctx, paymentID)
		if err != nil {
			return nil, err
		}
		refunds, err := s.store.Refunds(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, old := range refunds {
			if old.Reference == req.Reference {
				return old, nil
			}
		}
		amount := req.Amount
		if amount.Currency == "" || amount.Minor < 0 {
			amount = Money{Currency: p.Amount.Currency}
		}
		now := s.now()
		r := &Refund{ID: NewID("ref"), PaymentID: p.ID, Amount: amount, Reason: reason, Status: RefundFailed,
			SyncState: SyncPending, Source: req.Source, Reference: req.Reference, CreatedAt: now, UpdatedAt: now}
		err = s.store.Apply(ctx, Change{NewRefund: r, Events: []Event{{PaymentID: p.ID, RefundID: r.ID, At: now,
			Kind: EventRefundDeclined, To: string(RefundFailed), Source: req.Source,
			Detail: detail(map[string]any{"amount": amount.String(), "currency": amount.Currency, "reference": req.Reference, "reason": reason})}}})
		if errors.Is(err, ErrDuplicate) {
			continue // a concurrent request with this reference won: return its refund
		}
		if err != nil {
			return nil, fmt.Errorf("decline refund %q of %s: %w", req.Reference, p.ID, err)
		}
		s.enqueueSync(ctx, p.ID, r.ID)
		return r, nil
	}
	return nil, fmt.Errorf("decline refund %q of %s: %w", req.Reference, paymentID, ErrConflict)
}
