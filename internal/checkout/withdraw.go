package checkout

import (
	"context"
	"fmt"
	"maps"
)

// EventWithdrawn records a platform withdrawing a payment the shopper has
// not paid yet (Shopify refusing to confirm a checkout whose items sold
// out): the payment's lifetime is ended at once and the gateway is asked.
const EventWithdrawn = "withdrawn"

// Withdraw ends an open payment early on the platform's word: the store
// no longer wants it paid (Shopify did not confirm the checkout). It never
// marks anything failed on that word alone. The payment's ExpiresAt is
// brought forward to now, the reason is kept in Metadata (meta, plus
// MetaDeclineReason), and the payment is confirmed with the gateway as
// usual: a transaction the gateway reports paid stays paid (the store is
// told, and a person refunds it if the goods are gone); one with no final
// answer expires, and the platform is told through the ordinary sync.
//
// A final payment is returned unchanged. An unreachable gateway leaves the
// payment open with its lifetime ended, so the next confirmation (the
// reconciler's, at the latest) expires it.
func (s *Service) Withdraw(ctx context.Context, id, reason string, meta map[string]string, source string) (*Payment, error) {
	if reason == "" {
		return nil, fmt.Errorf("withdraw %s: a reason is required", id)
	}
	p, err := s.updatePayment(ctx, id, nil, "withdraw", func(p *Payment) ([]Event, error) {
		if p.Status.Final() {
			return nil, nil
		}
		now := s.now()
		if p.Metadata[MetaDeclineReason] == reason && !p.ExpiresAt.After(now) {
			return nil, nil // withdrawn before
		}
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		maps.Copy(p.Metadata, meta)
		p.Metadata[MetaDeclineReason] = reason
		d := map[string]any{"reason": reason, "expires_at_before": p.ExpiresAt}
		if p.ExpiresAt.After(now) {
			p.ExpiresAt = now
		}
		return []Event{{PaymentID: p.ID, Kind: EventWithdrawn, Source: source, Detail: detail(d)}}, nil
	})
	if err != nil {
		return p, fmt.Errorf("withdraw %s: %w", id, err)
	}
	if p.Status.Final() {
		return p, nil
	}
	return s.confirm(ctx, id, source)
}
