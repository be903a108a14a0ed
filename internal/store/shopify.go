package store

import (
	"context"
	"fmt"
	"time"

	"paybridge/internal/checkout"
)

// This file holds what the Shopify platform needs beyond the core's ports:
// undoing a webhook receipt whose processing failed, and the compliance
// (GDPR) redactions.

// ForgetReceipt deletes the receipt source/id recorded by
// [DB.RecordReceipt], so that a redelivery of a webhook whose processing
// failed is processed again. Forgetting an unknown receipt is not an error.
func (db *DB) ForgetReceipt(ctx context.Context, source, id string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM webhook_receipts WHERE source = $1 AND receipt_id = $2`, source, id); err != nil {
		return fmt.Errorf("store: forget receipt %s/%s: %w", source, id, err)
	}
	return nil
}

// ShopPayments returns every payment of the shop, newest first, paging
// through [DB.ListPayments]. max bounds the number returned (<= 0: 100 000).
func (db *DB) ShopPayments(ctx context.Context, shopID string, max int) ([]*checkout.Payment, error) {
	if max <= 0 {
		max = 100000
	}
	var (
		out    []*checkout.Payment
		before time.Time
	)
	for len(out) < max {
		n := min(1000, max-len(out))
		page, err := db.ListPayments(ctx, shopID, before, n)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < n {
			break
		}
		before = page[len(page)-1].CreatedAt
	}
	return out, nil
}

// RedactPaymentCustomer erases the shopper's details (name, e-mail,
// mobile, unique id) and the product lines of a payment of shopID, for a
// platform's redaction request. Amounts, ids, statuses and the audit trail
// stay: they are the merchant's financial record. The row's version is
// bumped so that a concurrent compare-and-set writer re-reads it. It
// returns an error wrapping [checkout.ErrNotFound] if no such payment
// belongs to the shop.
func (db *DB) RedactPaymentCustomer(ctx context.Context, shopID, paymentID string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE payments SET customer = '{}', products = 'null',
		version = version + 1, updated_at = $3 WHERE id = $1 AND shop_id = $2`, paymentID, shopID, micros(db.now()))
	if err != nil {
		return fmt.Errorf("store: redact payment %s: %w", paymentID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: redact payment %s: %w", paymentID, err)
	}
	if n == 0 {
		return fmt.Errorf("store: redact payment %s: %w", paymentID, checkout.ErrNotFound)
	}
	return nil
}
