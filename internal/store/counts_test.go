package store

import (
	"fmt"
	"sync"
	"testing"

	"paybridge/internal/checkout"
)

// The counts /metrics reads are kept with every write, concurrent ones
// included, and always equal a count of the payments themselves.
func TestStatusCountsFollowWrites(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			ctx := ctxT(t)
			shop := mustShop(t, db, "shop_c")
			truth := func() map[string]int64 {
				t.Helper()
				rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM payments GROUP BY status`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				out := map[string]int64{}
				for rows.Next() {
					var s string
					var n int64
					if err := rows.Scan(&s, &n); err != nil {
						t.Fatal(err)
					}
					out[s] = n
				}
				return out
			}
			check := func(when string) {
				t.Helper()
				got, err := db.CountPaymentsByStatus(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := truth()
				for s, n := range got {
					if want[s] != n {
						t.Fatalf("%s: counts %v, payments %v", when, got, want)
					}
				}
			}
			var ps []*checkout.Payment
			for i := range 12 {
				p := basicPayment(shop.ID, fmt.Sprintf("pay_c%d", i), fmt.Sprintf("oc%d", i))
				mustApply(t, db, checkout.Change{NewPayment: p})
				ps = append(ps, p)
			}
			check("after creating")
			var wg sync.WaitGroup
			for i, p := range ps {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, st := range []checkout.Status{checkout.StatusRedirected, []checkout.Status{checkout.StatusPaid, checkout.StatusFailed, checkout.StatusExpired}[i%3]} {
						p.Status = st
						if err := db.Apply(ctx, checkout.Change{Payment: p}); err != nil {
							t.Error(err)
							return
						}
					}
					// A write that keeps the status does not count it twice.
					p.SyncState = checkout.SyncPending
					if err := db.Apply(ctx, checkout.Change{Payment: p}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			check("after concurrent transitions")
			// A lost compare-and-set changes no count.
			stale := *ps[0]
			stale.Version--
			stale.Status = checkout.StatusCanceled
			if err := db.Apply(ctx, checkout.Change{Payment: &stale}); err == nil {
				t.Fatal("a stale write went through")
			}
			check("after a lost compare-and-set")
		})
	}
}
