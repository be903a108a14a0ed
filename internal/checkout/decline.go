package checkout

import (
	"context"
	"errors"
	"fmt"
)

// EventDeclined records a payment refused before any gateway call.
const EventDeclined = "declined"

// MetaDeclineReason is the Metadata key holding why a payment was declined,
// for the platform's syncer to pass on (a Shopify reject message).
const MetaDeclineReason = "decline_reason"

// Decline records a payment the platform asked for but the bridge will not
// take (the shop's gateway cannot charge it: see CheckPayment) as failed
// from the start, without any gateway call. Recording it, rather than only
// answering the platform, makes telling the platform durable: the failure
// goes through the store:sync ladder like any other, survives restarts, and
// is in the audit trail. It is idempotent on (shop, order id): asking again
// returns the first record. reason is shown to the merchant.
func (s *Service) Decline(ctx context.Context, shop *Shop, platform string, req PaymentRequest, reason, source string) (*Payment, error) {
	if req.Language == "" {
		req.Language = "en"
	}
	if existing, err := s.store.PaymentByOrder(ctx, shop.ID, req.OrderID); err == nil {
		return existing, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	now := s.now()
	p := &Payment{
		ID: NewID("pay"), ShopID: shop.ID, Platform: platform, OrderID: req.OrderID,
		Amount: req.Amount, Refunded: Money{Currency: req.Amount.Currency},
		Description: req.Description, Language: req.Language, PaymentMethod: req.PaymentMethod,
		Customer: req.Customer, Products: req.Products,
		ReturnURL: req.ReturnURL, CancelURL: req.CancelURL, CallbackURL: req.CallbackURL,
		Metadata: mergeMeta(req.Metadata, map[string]string{MetaDeclineReason: reason}), Options: req.Options,
		Status: StatusFailed, SyncState: SyncPending, Gateway: shop.Gateway.Gateway,
		GatewayData: map[string]string{}, RequestHash: fingerprint(&req),
		ExpiresAt: now, CreatedAt: now, UpdatedAt: now,
	}
	p.GatewayOrderID = p.ID
	err := s.store.Apply(ctx, Change{NewPayment: p, Events: []Event{{
		PaymentID: p.ID, At: now, Kind: EventDeclined, To: string(StatusFailed), Source: source,
		Detail: detail(map[string]any{"order_id": p.OrderID, "amount": p.Amount.String(), "currency": p.Amount.Currency,
			"gateway": p.Gateway, "reason": reason}),
	}}})
	if errors.Is(err, ErrDuplicate) {
		return s.store.PaymentByOrder(ctx, shop.ID, req.OrderID)
	}
	if err != nil {
		return nil, fmt.Errorf("decline order %q: %w", req.OrderID, err)
	}
	s.enqueueSync(ctx, p.ID, "")
	return p, nil
}

func mergeMeta(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
