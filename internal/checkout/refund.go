package checkout

import (
	"context"
	"errors"
	"fmt"
)

// RefundAvailable returns what can still be refunded on p: the captured
// amount minus every refund that has not failed (pending ones included, so
// two concurrent requests cannot both take the last fils).
func RefundAvailable(p *Payment, refunds []*Refund) Money {
	left := p.Amount
	for _, r := range refunds {
		if r.Status != RefundFailed {
			if l, err := left.Sub(r.Amount); err == nil {
				left = l
			}
		}
	}
	return left
}

// RefundRequest asks for money back on a paid payment.
type RefundRequest struct {
	Amount Money
	Reason string
	// Source says who asked ("api", "woocommerce", "shopify", "cli").
	Source string
	// Reference is the platform's id for the refund, if it has one: asking
	// again with the same reference returns the first refund.
	Reference string
	// Splits say how much each vendor refunds, for a payment split between
	// vendors; without them such a payment is refunded only in whole.
	Splits []RefundSplit
}

// CreateRefund records a refund on a paid payment and enqueues it. It
// refuses amounts that are zero, in another currency, or above what is left
// to refund (ErrRefundExceeds). The check and the insert are one
// compare-and-set on the payment, so concurrent refunds cannot overdraw. A
// request whose Reference was seen before returns that refund (created
// false), or ErrIdempotencyConflict if its amount differs.
func (s *Service) CreateRefund(ctx context.Context, paymentID string, req RefundRequest) (r *Refund, created bool, err error) {
	amount, reason, source := req.Amount, req.Reason, req.Source
	if len(req.Reference) > 200 {
		return nil, false, &ValidationError{"reference", "is longer than 200 characters"}
	}
	if len(reason) > 500 {
		return nil, false, &ValidationError{"reason", "is longer than 500 characters"}
	}
	err = s.retryCAS(ctx, "refund "+paymentID, func(int) error {
		p, err := s.store.Payment(ctx, paymentID)
		if err != nil {
			return err
		}
		refunds, err := s.store.Refunds(ctx, p.ID)
		if err != nil {
			return err
		}
		if req.Reference != "" {
			for _, old := range refunds {
				if old.Reference != req.Reference {
					continue
				}
				r, created = old, false
				if !old.Amount.Equal(amount) {
					return fmt.Errorf("%w: refund %s has reference %q for %s", ErrIdempotencyConflict, old.ID, old.Reference, old.Amount)
				}
				return nil
			}
		}
		if err := s.checkRefund(p, amount, refunds); err != nil {
			return err
		}
		if p.Status != StatusPaid {
			return fmt.Errorf("%w: payment %s is %s", ErrNotPaid, p.ID, p.Status)
		}
		if amount.Currency != p.Amount.Currency {
			return &ValidationError{"amount", fmt.Sprintf("currency %s differs from the payment's %s", amount.Currency, p.Amount.Currency)}
		}
		if !amount.Positive() {
			return &ValidationError{"amount", "must be greater than zero"}
		}
		if left := RefundAvailable(p, refunds); amount.Cmp(left) > 0 {
			return fmt.Errorf("%w: asked %s %s, %s left", ErrRefundExceeds, amount, amount.Currency, left)
		}
		splits, err := refundSplits(p, refunds, amount, req.Splits)
		if err != nil {
			return err
		}
		if len(splits) > 0 {
			if err := s.Supports(p.Gateway, FeatureSplitRefunds); err != nil {
				return err
			}
		}
		now := s.now()
		r = &Refund{ID: NewID("ref"), PaymentID: p.ID, Amount: amount, Reason: reason, Status: RefundPending,
			Source: source, Reference: req.Reference, Splits: splits, CreatedAt: now, UpdatedAt: now}
		created = true
		p.UpdatedAt = now
		err = s.store.Apply(ctx, Change{Payment: p, NewRefund: r, Events: []Event{{PaymentID: p.ID, RefundID: r.ID,
			Kind: EventRefundRequested, Source: source, Detail: detail(map[string]any{"amount": amount.String(), "reason": reason, "reference": req.Reference})}}})
		if req.Reference != "" && errors.Is(err, ErrDuplicate) {
			return ErrConflict // re-read: another writer won with this very reference
		}
		return err
	})
	if err != nil {
		if errors.Is(err, ErrIdempotencyConflict) {
			return r, false, err
		}
		return nil, false, err
	}
	if created {
		if err := s.queue.EnqueueRefund(ctx, r.ID); err != nil {
			s.log.WarnContext(ctx, "enqueue refund", "refund", r.ID, "err", err)
		}
	}
	return r, created, nil
}

// Refund returns a refund by id.
func (s *Service) Refund(ctx context.Context, id string) (*Refund, error) {
	return s.store.Refund(ctx, id)
}

// ProcessRefund moves a pending refund forward at the gateway: it submits
// it, then polls its status. A submission whose outcome is unknown (a
// timeout, a crash between the call and the write) is sent again only to a
// gateway that deduplicates refunds by our id (Capabilities.
// IdempotentRefunds: Checkout.com). Elsewhere (UPayments has no idempotency
// key) it is never repeated: the refund is left pending with an event and
// the job archived for a person to check.
func (s *Service) ProcessRefund(ctx context.Context, id string) error {
	r, err := s.store.Refund(ctx, id)
	if err != nil {
		return err
	}
	if r.Status.Final() {
		if r.SyncState == SyncPending {
			s.enqueueSync(ctx, r.PaymentID, r.ID)
		}
		return nil
	}
	p, err := s.store.Payment(ctx, r.PaymentID)
	if err != nil {
		return err
	}
	gw, ok := s.gateways[p.Gateway]
	if !ok {
		return Permanent("refund", fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway))
	}
	g, ok := gw.(Refunder)
	if !ok {
		// CreateRefund refuses these; a refund row from before the gateway
		// lost its refunds cannot be sent anywhere.
		return s.finishRefund(ctx, r.ID, RefundResult{Status: RefundFailed}, declared(gw).DisplayName+" has no refunds")
	}
	shop, err := s.store.Shop(ctx, p.ShopID)
	if err != nil {
		return err
	}
	var res RefundResult
	if r.GatewayRef == "" {
		caps, _ := s.Capabilities(p.Gateway)
		if r.Attempts > 0 && !caps.IdempotentRefunds {
			s.applyEvents(ctx, []Event{{PaymentID: p.ID, RefundID: r.ID, Kind: EventRefundUnknown, Source: "worker",
				Detail: detail(map[string]any{"reason": "an earlier submission's outcome is unknown; check the gateway dashboard before replaying"})}})
			return Permanent("refund outcome unknown", fmt.Errorf("refund %s was submitted to %s without a known answer", r.ID, p.Gateway))
		}
		// Persist the intent before calling, so a crash during the call is
		// seen as "outcome unknown" and never as "not yet submitted". A
		// gateway with idempotent refunds gets the same refund id again,
		// and answers about the first submission.
		r.Attempts, r.UpdatedAt = r.Attempts+1, s.now()
		if err := s.store.Apply(ctx, Change{Refund: r, Events: []Event{{PaymentID: p.ID, RefundID: r.ID, Kind: EventRefundSubmitted, Source: "worker",
			Detail: detail(map[string]any{"amount": r.Amount.String()})}}}); err != nil {
			return err
		}
		res, err = g.Refund(ctx, shop.Gateway, p, r)
		if err != nil {
			var ge *GatewayError
			if errors.As(err, &ge) && !ge.Temporary {
				return s.finishRefund(ctx, r.ID, RefundResult{Status: RefundFailed}, ge.Message)
			}
			s.applyEvents(ctx, []Event{{PaymentID: p.ID, RefundID: r.ID, Kind: EventRefundUnknown, Source: "worker",
				Detail: detail(map[string]any{"error": err.Error(), "resubmit": caps.IdempotentRefunds})}})
			if caps.IdempotentRefunds {
				return fmt.Errorf("refund %s: outcome unknown, resubmitting with the same idempotency key: %w", r.ID, err)
			}
			return Permanent("refund outcome unknown", err)
		}
	} else {
		res, err = g.RefundStatus(ctx, shop.Gateway, p, r)
		if err != nil {
			return fmt.Errorf("refund status of %s: %w", r.ID, err)
		}
	}
	if res.Status == "" {
		res.Status = RefundPending
	}
	if err := s.finishRefund(ctx, r.ID, res, ""); err != nil {
		return err
	}
	if res.Status == RefundPending {
		return fmt.Errorf("refund %s: %w", r.ID, ErrNotSettled)
	}
	return nil
}

// finishRefund stores a gateway answer about a refund: its reference, and
// when final its status, the payment's refunded total and a pending sync.
func (s *Service) finishRefund(ctx context.Context, id string, res RefundResult, message string) error {
	var r *Refund
	err := s.retryCAS(ctx, "record refund "+id, func(int) error {
		var err error
		if r, err = s.store.Refund(ctx, id); err != nil {
			return err
		}
		if r.Status.Final() {
			r = nil // settled already: nothing to enqueue
			return nil
		}
		c := Change{Refund: r}
		if res.Ref != "" && r.GatewayRef != res.Ref {
			r.GatewayRef = res.Ref
		}
		d := map[string]any{"ref": res.Ref, "answer": res.Raw}
		if message != "" {
			d["message"] = message
		}
		now := s.now()
		switch res.Status {
		case RefundSucceeded:
			p, err := s.store.Payment(ctx, r.PaymentID)
			if err != nil {
				return err
			}
			refunded, err := p.RefundedOrZero().Add(r.Amount)
			if err != nil {
				return fmt.Errorf("refund %s: %w", r.ID, err)
			}
			p.Refunded, p.UpdatedAt = refunded, now
			c.Payment = p
			r.Status, r.SyncState = RefundSucceeded, SyncPending
			c.Events = append(c.Events, Event{PaymentID: r.PaymentID, RefundID: r.ID, Kind: EventRefundSucceeded, Source: "gateway", Detail: detail(d)})
		case RefundFailed:
			r.Status, r.SyncState = RefundFailed, SyncPending
			c.Events = append(c.Events, Event{PaymentID: r.PaymentID, RefundID: r.ID, Kind: EventRefundFailed, Source: "gateway", Detail: detail(d)})
		}
		r.UpdatedAt = now
		return s.store.Apply(ctx, c)
	})
	if err == nil && r != nil && r.Status.Final() {
		s.enqueueSync(ctx, r.PaymentID, r.ID)
	}
	return err
}

// SyncRefund pushes a final refund to the payment's platform.
func (s *Service) SyncRefund(ctx context.Context, id string) error {
	r, err := s.store.Refund(ctx, id)
	if err != nil {
		return err
	}
	if !r.Status.Final() || (r.SyncState != SyncPending && r.SyncState != SyncFailed) {
		return nil
	}
	p, err := s.store.Payment(ctx, r.PaymentID)
	if err != nil {
		return err
	}
	sy, shop, err := s.syncTarget(ctx, p)
	if err != nil {
		return err
	}
	if err := sy.SyncRefund(ctx, shop, p, r); err != nil {
		s.recordSyncAttempt(ctx, p.ID, r.ID, err)
		return fmt.Errorf("sync refund %s to %s: %w", r.ID, p.Platform, err)
	}
	_, err = s.updateRefund(ctx, id, r, "record refund sync", func(r *Refund) ([]Event, error) {
		if r.SyncState == SyncDone {
			return nil, nil
		}
		r.SyncState = SyncDone
		return []Event{{PaymentID: r.PaymentID, RefundID: r.ID, Kind: EventSyncSucceeded, Source: "worker",
			Detail: detail(map[string]any{"refund_status": r.Status})}}, nil
	})
	return err
}
