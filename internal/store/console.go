package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

// PaymentSearch filters the console's payment list. Zero fields do not
// filter.
type PaymentSearch struct {
	// ShopID keeps one shop's payments (a merchant's view).
	ShopID string
	// Status keeps payments in this status.
	Status checkout.Status
	// Ref keeps the payments whose id, order id or gateway reference (or
	// gateway order id) is exactly Ref.
	Ref string
	// From and To keep payments created at or after From and before To.
	From, To time.Time
	// AfterCreated and AfterID page on: the list continues after the
	// payment created at AfterCreated with id AfterID (the last one of the
	// previous page).
	AfterCreated time.Time
	AfterID      string
	// Limit bounds the page; <= 0 means 100 (at most 10 000).
	Limit int
}

// SearchPayments lists the payments that match q, newest first (by
// creation, then id), one page at a time.
func (db *DB) SearchPayments(ctx context.Context, q PaymentSearch) ([]*checkout.Payment, error) {
	var (
		conds []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.ShopID != "" {
		conds = append(conds, "shop_id = "+arg(q.ShopID))
	}
	if q.Status != "" {
		if !q.Status.Valid() {
			return nil, fmt.Errorf("store: search payments: invalid status %q", q.Status)
		}
		conds = append(conds, "status = "+arg(string(q.Status)))
	}
	if ref := strings.TrimSpace(q.Ref); ref != "" {
		p := arg(ref)
		conds = append(conds, "(id = "+p+" OR order_id = "+p+" OR gateway_ref = "+p+" OR gateway_order_id = "+p+")")
	}
	if !q.From.IsZero() {
		conds = append(conds, "created_at >= "+arg(micros(q.From)))
	}
	if !q.To.IsZero() {
		conds = append(conds, "created_at < "+arg(micros(q.To)))
	}
	if !q.AfterCreated.IsZero() {
		c, id := arg(micros(q.AfterCreated)), arg(q.AfterID)
		conds = append(conds, "(created_at < "+c+" OR (created_at = "+c+" AND id < "+id+"))")
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	return db.listPayments(ctx, where+" ORDER BY created_at DESC, id DESC LIMIT "+arg(limitOrDefault(q.Limit)), args...)
}
