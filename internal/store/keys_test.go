package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"paybridge/internal/secrets"
)

// withRing returns db (same connections) with another keyring, as another
// bridge process configured differently would see it.
func withRing(t *testing.T, db *DB, b64 string) *DB {
	t.Helper()
	kr, err := secrets.ParseKey(b64)
	if err != nil {
		t.Fatal(err)
	}
	d := *db
	d.kr = kr
	return &d
}

// usage sums KeyUsage by key id.
func usage(t *testing.T, db *DB) map[string]int64 {
	t.Helper()
	counts, err := db.KeyUsage(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range counts {
		out[c.KeyID] += c.Count
	}
	return out
}

// A rotation finishes: every sealed value of shops and customer tokens is
// re-sealed under the new key in batches, the old key can then go, a
// second run has nothing to do, and a value no key opens is reported and
// left alone without stopping the others.
func TestReseal(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ctx := ctxT(t)
			k1, _ := secrets.GenerateKey()
			k2, _ := secrets.GenerateKey()
			k3, _ := secrets.GenerateKey()
			old, rotating, next, stranger := withRing(t, db, k1), withRing(t, db, k2+","+k1), withRing(t, db, k2), withRing(t, db, k3)
			id1, id2, id3 := old.kr.PrimaryID(), next.kr.PrimaryID(), stranger.kr.PrimaryID()
			for i := range 7 {
				s := mustShop(t, old, fmt.Sprintf("s%d", i))
				if _, err := old.PutCustomerToken(ctx, s.ID, "upay", "cust", "tok-"+s.ID); err != nil {
					t.Fatal(err)
				}
			}
			mustShop(t, stranger, "lost")
			if got, want := usage(t, db), map[string]int64{id1: 7*3 + 7, id3: 3}; !reflect.DeepEqual(got, want) {
				t.Fatalf("usage before = %v, want %v", got, want)
			}
			if _, err := next.Shop(ctx, "s1"); !errors.Is(err, secrets.ErrUnknownKey) {
				t.Fatalf("new key alone before rotation: %v", err)
			}

			batches := 0
			st, err := rotating.Reseal(ctx, 3, func(string, ResealStats) { batches++ })
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != 8+7 || st.Resealed != 7*3+7 || len(st.Failed) != 3 || batches < 5 {
				t.Fatalf("stats = %+v after %d batches", st, batches)
			}
			for _, f := range st.Failed {
				if !strings.Contains(f, "shops") || !strings.Contains(f, "lost") || !strings.Contains(f, id3) {
					t.Errorf("failure line %q does not say which value and key", f)
				}
			}
			if got, want := usage(t, db), map[string]int64{id2: 7*3 + 7, id3: 3}; !reflect.DeepEqual(got, want) {
				t.Fatalf("usage after = %v, want %v", got, want)
			}
			for i := range 7 {
				id := fmt.Sprintf("s%d", i)
				s, err := next.Shop(ctx, id)
				if err != nil || s.Gateway.Credentials["api_key"] != "sk_"+id || s.WebhookSecret != "whsec_"+id {
					t.Fatalf("shop %s with the new key alone: %+v %v", id, s, err)
				}
				if tok, err := next.CustomerToken(ctx, id, "upay", "cust"); err != nil || tok != "tok-"+id {
					t.Fatalf("token of %s with the new key alone: %q %v", id, tok, err)
				}
			}
			again, err := rotating.Reseal(ctx, 3, nil)
			if err != nil || again.Resealed != 0 || again.Rows != 15 {
				t.Fatalf("second run: %+v %v, want nothing re-sealed", again, err)
			}
		})
	}
}

// A shop updated by a running bridge between Reseal's read and its write
// keeps the update: the compare-and-set fails, the row is read again and
// the new value is re-sealed.
func TestResealConcurrentUpdate(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ctx := ctxT(t)
			k1, _ := secrets.GenerateKey()
			k2, _ := secrets.GenerateKey()
			old, rotating, next := withRing(t, db, k1), withRing(t, db, k2+","+k1), withRing(t, db, k2)
			mustShop(t, old, "a")
			mustShop(t, old, "b")
			updated := false
			rotating.afterResealRead = func(table string) {
				if table != "shops" || updated {
					return
				}
				updated = true
				s, err := old.Shop(ctx, "b") // a process not yet restarted with the new key
				if err != nil {
					t.Error(err)
					return
				}
				s.Gateway.Credentials["api_key"] = "sk_rotated_by_merchant"
				if err := old.UpdateShop(ctx, s); err != nil {
					t.Error(err)
				}
			}
			st, err := rotating.Reseal(ctx, 10, nil)
			if err != nil || st.Raced != 1 || len(st.Failed) != 0 || st.Resealed != 6 {
				t.Fatalf("Reseal = %+v, %v", st, err)
			}
			s, err := next.Shop(ctx, "b")
			if err != nil || s.Gateway.Credentials["api_key"] != "sk_rotated_by_merchant" {
				t.Fatalf("shop b after: %+v %v: the concurrent update was lost", s, err)
			}
		})
	}
}

// One shop whose secrets no key opens does not break the listing of the
// others: ListShops leaves it out, ShopListing shows it with the reason,
// and Shop fails with ErrUnreadableSecrets.
func TestUnreadableShopIsolated(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ctx := ctxT(t)
			k, _ := secrets.GenerateKey()
			mustShop(t, db, "good")
			mustShop(t, withRing(t, db, k), "lost")
			shops, err := db.ListShops(ctx)
			if err != nil || len(shops) != 1 || shops[0].ID != "good" {
				t.Fatalf("ListShops = %v, %v", shops, err)
			}
			all, err := db.ShopListing(ctx)
			if err != nil || len(all) != 2 {
				t.Fatalf("ShopListing = %v, %v", all, err)
			}
			for _, l := range all {
				switch l.Shop.ID {
				case "good":
					if l.Err != nil || l.Shop.Gateway.Credentials["api_key"] != "sk_good" {
						t.Errorf("good: %+v", l)
					}
				case "lost":
					if !errors.Is(l.Err, ErrUnreadableSecrets) || !errors.Is(l.Err, secrets.ErrUnknownKey) ||
						l.Shop.Name != "Shop lost" || l.Shop.Gateway.Credentials != nil {
						t.Errorf("lost: %+v", l)
					}
				}
			}
			if s, err := db.Shop(ctx, "lost"); s != nil || !errors.Is(err, ErrUnreadableSecrets) {
				t.Fatalf("Shop(lost) = %v, %v", s, err)
			}
		})
	}
}

// A saved-card token no configured key opens is told apart from a missing
// one.
func TestUnreadableCustomerToken(t *testing.T) {
	db := backends[0].open(t)
	ctx := ctxT(t)
	k, _ := secrets.GenerateKey()
	if _, err := withRing(t, db, k).PutCustomerToken(ctx, "s", "upay", "c", "tok"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CustomerToken(ctx, "s", "upay", "c"); !errors.Is(err, ErrUnreadableSecrets) || !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("err = %v", err)
	}
}

// An interrupted rotation carries on where it stopped when run again.
func TestResealResumes(t *testing.T) {
	db := backends[0].open(t)
	k1, _ := secrets.GenerateKey()
	k2, _ := secrets.GenerateKey()
	old, rotating := withRing(t, db, k1), withRing(t, db, k2+","+k1)
	for i := range 5 {
		mustShop(t, old, fmt.Sprintf("s%d", i))
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	st, err := rotating.Reseal(ctx, 2, func(string, ResealStats) { cancel() })
	if !errors.Is(err, context.Canceled) || st.Resealed != 2*3 {
		t.Fatalf("interrupted run: %+v %v", st, err)
	}
	if got, want := usage(t, db), map[string]int64{old.kr.PrimaryID(): 3 * 3, rotating.kr.PrimaryID(): 2 * 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("usage after the interruption = %v, want %v", got, want)
	}
	st, err = rotating.Reseal(ctxT(t), 2, nil)
	if err != nil || st.Resealed != 3*3 {
		t.Fatalf("second run: %+v %v", st, err)
	}
	if got, want := usage(t, db), map[string]int64{rotating.kr.PrimaryID(): 5 * 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("usage after = %v, want %v", got, want)
	}
}
