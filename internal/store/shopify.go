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
