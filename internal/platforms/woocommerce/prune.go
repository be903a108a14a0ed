package woocommerce

import (
	"context"
	"errors"
	"slices"
	"time"

	"paybridge/internal/checkout"
)

// PendingTTL is how long a connection started on the connect form may wait
// for the store's wc-auth answer before the reconciler forgets it. The
// merchant approves on the store in a minute or two; a day leaves room for
// one who comes back later.
const PendingTTL = 24 * time.Hour

// PruneAbandoned deletes the shops that connect-form posts created and that
// never connected: still "pending" (wc-auth never answered), "verifying"
// (keys never checked), "refused" (the store did not take them) or
// "merged" (the keys went to the store's existing shop) PendingTTL after
// they were made, and without payments. It returns how many went.
func (p *Platform) PruneAbandoned(ctx context.Context) (int, error) {
	shops, err := p.store.ListShops(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := p.cfg.Now().Add(-PendingTTL)
	n := 0
	var errs []error
	for _, s := range shops {
		st := s.Settings[SettingStatus]
		if s.Platform != checkout.PlatformWooCommerce || !slices.Contains([]string{"pending", "verifying", "refused", "merged"}, st) || !s.CreatedAt.Before(cutoff) {
			continue
		}
		gone, err := p.store.DeleteUnusedShop(ctx, s.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if gone {
			n++
		}
	}
	if n > 0 {
		p.log.InfoContext(ctx, "woocommerce: abandoned connections pruned", "shops", n)
	}
	return n, errors.Join(errs...)
}
