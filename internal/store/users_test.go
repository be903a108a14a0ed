package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// TestConsole runs the console's store cases (users, sessions, payment
// search) on every backend, as TestContract does.
func TestConsole(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name string
				fn   func(t *testing.T, db *DB)
			}{
				{"Users", testUsers},
				{"UserOfRemovedShop", testUserOfRemovedShop},
				{"Sessions", testSessions},
				{"SearchPayments", testSearchPayments},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, b.open(t))
				})
			}
		})
	}
}

func testUsers(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "shop_a")
	op := &User{ID: "usr_op", Email: "  Ops@Example.COM ", PasswordHash: "$argon2id$op"}
	if err := db.CreateUser(ctx, op); err != nil {
		t.Fatalf("CreateUser(operator): %v", err)
	}
	if op.Email != "ops@example.com" || op.CreatedAt.IsZero() {
		t.Fatalf("created operator = %+v: want the e-mail normalized and a creation time", op)
	}
	m := &User{ID: "usr_m", Email: "merchant@example.com", PasswordHash: "$argon2id$m", ShopID: "shop_a", CreatedAt: t0}
	if err := db.CreateUser(ctx, m); err != nil {
		t.Fatalf("CreateUser(merchant): %v", err)
	}
	for _, bad := range []*User{
		{ID: "usr_dup", Email: "OPS@example.com", PasswordHash: "x"},
		{ID: "usr_op", Email: "other@example.com", PasswordHash: "x"},
	} {
		if err := db.CreateUser(ctx, bad); !errors.Is(err, checkout.ErrDuplicate) {
			t.Errorf("CreateUser(%s, %s) = %v, want ErrDuplicate", bad.ID, bad.Email, err)
		}
	}
	if err := db.CreateUser(ctx, &User{ID: "usr_x", Email: "x@example.com", PasswordHash: "x", ShopID: "shop_nope"}); !errors.Is(err, checkout.ErrNotFound) {
		t.Errorf("CreateUser(unknown shop) = %v, want ErrNotFound", err)
	}
	for _, bad := range []*User{{Email: "a@b.c", PasswordHash: "x"}, {ID: "u", PasswordHash: "x"}, {ID: "u", Email: "a@b.c"}} {
		if err := db.CreateUser(ctx, bad); err == nil {
			t.Errorf("CreateUser(%+v) = nil, want an error", bad)
		}
	}
	got, err := db.UserByEmail(ctx, "MERCHANT@example.com ")
	if err != nil || got.ID != "usr_m" || got.ShopID != "shop_a" || got.PasswordHash != "$argon2id$m" || !got.CreatedAt.Equal(t0) || got.Operator() {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
	if got, err := db.User(ctx, "usr_op"); err != nil || !got.Operator() || got.Email != "ops@example.com" {
		t.Fatalf("User(usr_op) = %+v, %v", got, err)
	}
	if _, err := db.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("UserByEmail(unknown) = %v, want ErrNotFound", err)
	}
	us, err := db.Users(ctx)
	if err != nil || len(us) != 2 || us[0].ID != "usr_op" || us[1].ID != "usr_m" {
		t.Fatalf("Users = %v, %v: want the operator, then the merchant", us, err)
	}
	if err := db.CreateSession(ctx, &Session{TokenHash: "h1", UserID: "usr_m", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveUser(ctx, "Merchant@Example.com"); err != nil {
		t.Fatalf("RemoveUser: %v", err)
	}
	if _, _, err := db.SessionUser(ctx, "h1"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("session of a removed user: %v, want ErrNotFound", err)
	}
	if err := db.RemoveUser(ctx, "merchant@example.com"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("RemoveUser again = %v, want ErrNotFound", err)
	}
}

// testUserOfRemovedShop: a merchant goes with their shop.
func testUserOfRemovedShop(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "shop_gone")
	if err := db.CreateUser(ctx, &User{ID: "usr_g", Email: "g@example.com", PasswordHash: "x", ShopID: "shop_gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `DELETE FROM shops WHERE id = $1`, "shop_gone"); err != nil {
		t.Fatalf("delete shop: %v", err)
	}
	if _, err := db.User(ctx, "usr_g"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("merchant of a removed shop: %v, want ErrNotFound", err)
	}
}

func testSessions(t *testing.T, db *DB) {
	ctx := ctxT(t)
	if err := db.CreateUser(ctx, &User{ID: "usr_1", Email: "one@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	s := &Session{TokenHash: "hash-a", UserID: "usr_1", CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := db.CreateSession(ctx, &Session{TokenHash: "hash-a", UserID: "usr_1", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("CreateSession(same hash) = %v, want ErrDuplicate", err)
	}
	if err := db.CreateSession(ctx, &Session{TokenHash: "hash-z", UserID: "usr_nope", ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("CreateSession(unknown user) = %v, want ErrNotFound", err)
	}
	got, u, err := db.SessionUser(ctx, "hash-a")
	if err != nil || u.Email != "one@example.com" || !got.LastSeenAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
		t.Fatalf("SessionUser = %+v, %+v, %v", got, u, err)
	}
	if err := db.TouchSession(ctx, "hash-a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := db.SessionUser(ctx, "hash-a"); !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after TouchSession, LastSeenAt = %v", got.LastSeenAt)
	}
	// Prune: one idle, one past its absolute expiry, one alive.
	for _, x := range []Session{
		{TokenHash: "idle", UserID: "usr_1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)},
		{TokenHash: "old", UserID: "usr_1", CreatedAt: t0, LastSeenAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(2 * time.Hour)},
	} {
		if err := db.CreateSession(ctx, &x); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.PruneSessions(ctx, t0.Add(2*time.Hour), t0.Add(30*time.Second))
	if err != nil || n != 2 {
		t.Fatalf("PruneSessions = %d, %v; want 2", n, err)
	}
	if _, _, err := db.SessionUser(ctx, "hash-a"); err != nil {
		t.Fatalf("the live session was pruned: %v", err)
	}
	if err := db.DeleteSession(ctx, "hash-a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SessionUser(ctx, "hash-a"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("after DeleteSession: %v, want ErrNotFound", err)
	}
	if err := db.DeleteSession(ctx, "hash-a"); err != nil {
		t.Fatalf("DeleteSession twice: %v", err)
	}
}

func testSearchPayments(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	mustShop(t, db, "s2")
	for i, sh := range []string{"s1", "s2", "s1", "s1", "s2"} {
		id := "pay_" + string(rune('a'+i))
		p := basicPayment(sh, id, "order-"+id)
		p.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		if i == 3 {
			p.CreatedAt = t0.Add(2 * time.Minute) // same instant as pay_c: the id breaks the tie
			p.Status = checkout.StatusPaid
			p.GatewayRef = "track-77"
		}
		mustApply(t, db, checkout.Change{NewPayment: p})
	}
	tests := []struct {
		name string
		q    PaymentSearch
		want []string
	}{
		{"all newest first", PaymentSearch{}, []string{"pay_e", "pay_d", "pay_c", "pay_b", "pay_a"}},
		{"one shop", PaymentSearch{ShopID: "s2"}, []string{"pay_e", "pay_b"}},
		{"status", PaymentSearch{Status: checkout.StatusPaid}, []string{"pay_d"}},
		{"by id", PaymentSearch{Ref: "pay_b"}, []string{"pay_b"}},
		{"by order id", PaymentSearch{Ref: " order-pay_c "}, []string{"pay_c"}},
		{"by gateway ref", PaymentSearch{Ref: "track-77"}, []string{"pay_d"}},
		{"ref of another shop", PaymentSearch{ShopID: "s2", Ref: "pay_a"}, nil},
		{"date range", PaymentSearch{From: t0.Add(time.Minute), To: t0.Add(4 * time.Minute)}, []string{"pay_d", "pay_c", "pay_b"}},
		{"page 1", PaymentSearch{Limit: 2}, []string{"pay_e", "pay_d"}},
		{"page 2", PaymentSearch{Limit: 2, AfterCreated: t0.Add(2 * time.Minute), AfterID: "pay_d"}, []string{"pay_c", "pay_b"}},
		{"page 3", PaymentSearch{Limit: 2, AfterCreated: t0.Add(time.Minute), AfterID: "pay_b"}, []string{"pay_a"}},
	}
	for _, tc := range tests {
		got, err := db.SearchPayments(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ids := payIDs(got); !slices.Equal(ids, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ids, tc.want)
		}
	}
	if _, err := db.SearchPayments(ctx, PaymentSearch{Status: "bogus"}); err == nil {
		t.Error("SearchPayments(bogus status) = nil error")
	}
}
