package store

import (
	"context"
	"fmt"
)

// DeleteUnusedShop deletes the shop unless a payment names it, and
// reports whether it went: for connections that were started and never
// finished (a WooCommerce connect form whose wc-auth never came back),
// never for a shop with a financial record.
func (db *DB) DeleteUnusedShop(ctx context.Context, id string) (bool, error) {
	defer db.shopsChanged()
	res, err := db.w.ExecContext(ctx, `DELETE FROM shops WHERE id = $1
		AND NOT EXISTS (SELECT 1 FROM payments WHERE shop_id = $1)`, id)
	if err != nil {
		return false, fmt.Errorf("store: delete shop %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: delete shop %s: %w", id, err)
	}
	return n == 1, nil
}
