package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/secrets"
	"paybridge/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend opens a fresh, migrated, empty database of one kind.
type backend struct {
	name string
	open func(t *testing.T) *DB
}

func testKeyring(t testing.TB) *secrets.Keyring {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func openMigrated(t *testing.T, dsn string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn, testKeyring(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func sqliteDSN(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "bridge.db")
}

var backends = []backend{
	{"sqlite", func(t *testing.T) *DB { return openMigrated(t, sqliteDSN(t)) }},
	// testenv.PostgresURL fails (never skips) when no PostgreSQL can be had.
	{"postgres", func(t *testing.T) *DB { return openMigrated(t, testenv.PostgresURL(t)) }},
}

// TestContract runs the same suite against every backend.
// Every subtest owns its database (a SQLite file, a PostgreSQL database),
// so all of them run in parallel.
func TestContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			runContract(t, b.open)
		})
	}
}

func runContract(t *testing.T, open func(t *testing.T) *DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *DB)
	}{
		{"MigrateIdempotent", testMigrateIdempotent},
		{"PaymentRoundTrip", testPaymentRoundTrip},
		{"PaymentNotFound", testPaymentNotFound},
		{"DuplicateOrder", testDuplicateOrder},
		{"UnknownShop", testUnknownShop},
		{"CASConflict", testCASConflict},
		{"ChangeIsAtomic", testChangeIsAtomic},
		{"ConcurrentCASOneWinner", testConcurrentCASOneWinner},
		{"ConcurrentCASNoLostUpdate", testConcurrentCASNoLostUpdate},
		{"ListQueries", testListQueries},
		{"PaymentByGatewayRef", testPaymentByGatewayRef},
		{"Refunds", testRefunds},
		{"OpenRefunds", testOpenRefunds},
		{"Events", testEvents},
		{"Shops", testShops},
		{"ShopSecretsEncrypted", testShopSecretsEncrypted},
		{"ShopKeyRotation", testShopKeyRotation},
		{"Receipts", testReceipts},
		{"OAuthState", testOAuthState},
		{"CountPaymentsByStatus", testCountPaymentsByStatus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 has sub-second digits down to the microsecond, which the store keeps.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustShop(t *testing.T, db *DB, id string) *checkout.Shop {
	t.Helper()
	s := &checkout.Shop{
		ID: id, Name: "Shop " + id, Platform: checkout.PlatformAPI,
		Gateway:    checkout.GatewayAccount{Gateway: "upay", Sandbox: true, Credentials: map[string]string{"api_key": "sk_" + id}},
		APIKeyHash: "hash-" + id, WebhookSecret: "whsec_" + id, CreatedAt: t0,
	}
	if err := db.CreateShop(ctxT(t), s); err != nil {
		t.Fatalf("CreateShop(%s): %v", id, err)
	}
	return s
}

func kwd(minor int64) checkout.Money { return checkout.Money{Minor: minor, Currency: "KWD"} }

func basicPayment(shopID, id, order string) *checkout.Payment {
	return &checkout.Payment{
		ID: id, ShopID: shopID, Platform: checkout.PlatformAPI, OrderID: order,
		Amount: kwd(12345), Refunded: kwd(0), Status: checkout.StatusCreated,
		Gateway: "upay", GatewayOrderID: id, CreatedAt: t0, UpdatedAt: t0,
	}
}

func mustApply(t *testing.T, db *DB, c checkout.Change) {
	t.Helper()
	if err := db.Apply(ctxT(t), c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustPayment(t *testing.T, db *DB, shopID, id, order string) *checkout.Payment {
	t.Helper()
	p := basicPayment(shopID, id, order)
	mustApply(t, db, checkout.Change{NewPayment: p})
	return p
}

func clonePayment(p *checkout.Payment) *checkout.Payment { c := *p; return &c }

func countEvents(t *testing.T, db *DB, paymentID string) int {
	t.Helper()
	evs, err := db.Events(ctxT(t), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func testMigrateIdempotent(t *testing.T, db *DB) {
	ctx := ctxT(t)
	for i := range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+2, err)
		}
	}
	v, err := db.SchemaVersion(ctx)
	if want := latestMigration(t); err != nil || v != want {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, want)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func testPaymentRoundTrip(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	full := &checkout.Payment{
		ID: "pay_full", ShopID: "s1", Platform: checkout.PlatformWooCommerce, OrderID: "order-1",
		Amount: kwd(12345), Refunded: kwd(345), Description: "Order #1 — عربي", Language: "ar",
		PaymentMethod: "knet",
		Customer:      checkout.Customer{Name: "Ali", Email: "ali@example.com", Mobile: "+96550000000", UniqueID: "c-1"},
		Products: []checkout.Product{
			{Name: "Tea", Description: "green", Price: kwd(1500), Quantity: 3},
			{Name: "Cup", Price: checkout.Money{Minor: 999, Currency: "USD"}, Quantity: 1},
		},
		ReturnURL: "https://store.example/return?a=1&b=2", CancelURL: "https://store.example/cancel",
		CallbackURL: "https://store.example/cb",
		Metadata:    map[string]string{"order_key": "wc_order_abc", "empty": ""},
		Status:      checkout.StatusPaid, SyncState: checkout.SyncPending,
		Gateway: "upay", GatewayOrderID: "pay_full", GatewayRef: "track-1", GatewayURL: "https://pay.example/x",
		TransactionID: "txn-1", GatewayData: map[string]string{"refund_order_id": "r-9"},
		RequestHash: "sha256:abc", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
	minimal := &checkout.Payment{ // nil maps and slices, zero times, zero-value Refunded
		ID: "pay_min", ShopID: "s1", OrderID: "order-2", Amount: checkout.Money{Minor: 500, Currency: "JPY"},
		Status: checkout.StatusCreated, Products: []checkout.Product{}, Metadata: map[string]string{},
	}
	big := basicPayment("s1", "pay_big", "order-3")
	big.Amount = checkout.Money{Minor: checkout.MaxMinor, Currency: "BHD"}
	big.Refunded = checkout.Money{Minor: checkout.MaxMinor - 1, Currency: "BHD"}

	for _, tc := range []struct {
		name string
		p    *checkout.Payment
		// fix adjusts the expectation for what the store fills in.
		fix func(want, got *checkout.Payment)
	}{
		{"every field", full, nil},
		{"minimal", minimal, func(want, got *checkout.Payment) {
			want.Refunded = checkout.Money{Minor: 0, Currency: "JPY"}
		}},
		{"largest amount", big, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().UTC().Add(-time.Second)
			mustApply(t, db, checkout.Change{NewPayment: tc.p})
			if tc.p.Version != 1 {
				t.Fatalf("Version after insert = %d, want 1", tc.p.Version)
			}
			if tc.p.CreatedAt.IsZero() || tc.p.UpdatedAt.IsZero() || tc.p.CreatedAt.Before(before) && tc.p.CreatedAt != t0 {
				t.Fatalf("timestamps not set: %v %v", tc.p.CreatedAt, tc.p.UpdatedAt)
			}
			want := clonePayment(tc.p)
			for _, get := range []func() (*checkout.Payment, error){
				func() (*checkout.Payment, error) { return db.Payment(ctx, tc.p.ID) },
				func() (*checkout.Payment, error) { return db.PaymentByOrder(ctx, tc.p.ShopID, tc.p.OrderID) },
			} {
				got, err := get()
				if err != nil {
					t.Fatal(err)
				}
				if tc.fix != nil {
					tc.fix(want, got)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("read back differs:\n got %+v\nwant %+v", got, want)
				}
			}
		})
	}

	// Money is an integer in the database, not a float or text.
	var minor, refunded int64
	var cur string
	if err := db.r.QueryRowContext(ctx, `SELECT amount_minor, refunded_minor, currency FROM payments WHERE id = $1`, "pay_full").
		Scan(&minor, &refunded, &cur); err != nil {
		t.Fatal(err)
	}
	if minor != 12345 || refunded != 345 || cur != "KWD" {
		t.Fatalf("stored amount = %d/%d %s, want 12345/345 KWD", minor, refunded, cur)
	}
	if got, _ := db.Payment(ctx, "pay_full"); got.Amount.String() != "12.345" {
		t.Fatalf("Amount.String() = %s", got.Amount.String())
	}

	// A read-modify-write keeps every field.
	p, _ := db.Payment(ctx, "pay_full")
	p.GatewayData["extra"] = "1"
	p.UpdatedAt = t0.Add(2 * time.Second)
	want := clonePayment(p)
	mustApply(t, db, checkout.Change{Payment: p})
	want.Version = 2
	if got, _ := db.Payment(ctx, "pay_full"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, want)
	}

	// Rejected before touching the database.
	bad := basicPayment("s1", "pay_bad", "order-bad")
	bad.Refunded = checkout.Money{Minor: 1, Currency: "USD"}
	if err := db.Apply(ctx, checkout.Change{NewPayment: bad}); !errors.Is(err, checkout.ErrCurrencyMismatch) {
		t.Fatalf("refunded in another currency: %v", err)
	}
	bad = basicPayment("s1", "pay_bad", "order-bad")
	bad.Status = "bogus"
	if err := db.Apply(ctx, checkout.Change{NewPayment: bad}); err == nil {
		t.Fatal("invalid status accepted")
	}
}

func testPaymentNotFound(t *testing.T, db *DB) {
	ctx := ctxT(t)
	if _, err := db.Payment(ctx, "nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("Payment: %v", err)
	}
	if _, err := db.PaymentByOrder(ctx, "s", "o"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("PaymentByOrder: %v", err)
	}
	if _, err := db.Refund(ctx, "nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("Refund: %v", err)
	}
	if _, err := db.Shop(ctx, "nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("Shop: %v", err)
	}
	if evs, err := db.Events(ctx, "nope"); err != nil || len(evs) != 0 {
		t.Fatalf("Events: %v %v", evs, err)
	}
}

func testDuplicateOrder(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	mustShop(t, db, "s2")
	mustPayment(t, db, "s1", "p1", "order-1")
	for _, tc := range []struct {
		name    string
		p       *checkout.Payment
		wantErr error
	}{
		{"same shop and order", basicPayment("s1", "p2", "order-1"), checkout.ErrDuplicate},
		{"same id", basicPayment("s1", "p1", "order-9"), checkout.ErrDuplicate},
		{"other shop, same order", basicPayment("s2", "p3", "order-1"), nil},
		{"same shop, other order", basicPayment("s1", "p4", "order-2"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Apply(ctx, checkout.Change{NewPayment: tc.p,
				Events: []checkout.Event{{Kind: checkout.EventCreated, Source: "api"}}})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Apply = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && tc.p.Version != 0 {
				t.Fatalf("Version set on failure: %d", tc.p.Version)
			}
		})
	}
	if n := countEvents(t, db, "p1"); n != 0 {
		t.Fatalf("events of failed inserts were written: %d", n)
	}
	got, _ := db.Payment(ctx, "p1")
	if got.OrderID != "order-1" {
		t.Fatalf("p1 changed: %+v", got)
	}
}

func testUnknownShop(t *testing.T, db *DB) {
	err := db.Apply(ctxT(t), checkout.Change{NewPayment: basicPayment("ghost", "p1", "o1")})
	if !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("payment of unknown shop: %v, want ErrNotFound", err)
	}
}

func testCASConflict(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	p := mustPayment(t, db, "s1", "p1", "o1")

	stale := clonePayment(p)
	fresh := clonePayment(p)
	fresh.Status = checkout.StatusRedirected
	mustApply(t, db, checkout.Change{Payment: fresh,
		Events: []checkout.Event{{Kind: checkout.EventTransition, From: "created", To: "redirected"}}})
	if fresh.Version != 2 {
		t.Fatalf("Version after update = %d, want 2", fresh.Version)
	}

	stale.Status = checkout.StatusFailed
	events := []checkout.Event{{Kind: checkout.EventTransition, From: "created", To: "failed"}}
	err := db.Apply(ctx, checkout.Change{Payment: stale, Events: events})
	if !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if stale.Version != 1 || events[0].ID != 0 {
		t.Fatalf("failed Apply touched its arguments: version %d, event id %d", stale.Version, events[0].ID)
	}
	got, _ := db.Payment(ctx, "p1")
	if got.Status != checkout.StatusRedirected || got.Version != 2 {
		t.Fatalf("stored = %s v%d, want redirected v2", got.Status, got.Version)
	}
	if n := countEvents(t, db, "p1"); n != 1 {
		t.Fatalf("events = %d, want 1 (the failed change's event must not be appended)", n)
	}

	ghost := basicPayment("s1", "ghost", "o-ghost")
	ghost.Version = 1
	if err := db.Apply(ctx, checkout.Change{Payment: ghost}); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("update of missing payment: %v, want ErrNotFound", err)
	}
}

func testChangeIsAtomic(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	p := mustPayment(t, db, "s1", "p1", "o1")
	r := &checkout.Refund{ID: "r1", PaymentID: "p1", Amount: kwd(100), Status: checkout.RefundPending, Source: "api"}
	mustApply(t, db, checkout.Change{NewRefund: r})

	// The payment update would succeed, the refund's CAS fails: nothing
	// of the change may remain.
	p2 := clonePayment(p)
	p2.Refunded = kwd(100)
	r2 := *r
	r2.Version = 7
	r2.Status = checkout.RefundSucceeded
	err := db.Apply(ctx, checkout.Change{Payment: p2, Refund: &r2,
		Events: []checkout.Event{{Kind: checkout.EventRefundSucceeded, RefundID: "r1"}}})
	if !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("Apply = %v, want ErrConflict", err)
	}
	got, _ := db.Payment(ctx, "p1")
	if got.Version != 1 || got.Refunded.Minor != 0 {
		t.Fatalf("payment written by a failed change: v%d refunded %d", got.Version, got.Refunded.Minor)
	}
	if p2.Version != 1 {
		t.Fatalf("in-memory version bumped on failure: %d", p2.Version)
	}
	if n := countEvents(t, db, "p1"); n != 0 {
		t.Fatalf("events = %d, want 0", n)
	}

	// A duplicate new refund fails the whole change, too.
	p3 := clonePayment(p)
	p3.Status = checkout.StatusPaid
	dup := &checkout.Refund{ID: "r1", PaymentID: "p1", Amount: kwd(1), Status: checkout.RefundPending}
	if err := db.Apply(ctx, checkout.Change{Payment: p3, NewRefund: dup}); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("duplicate refund: %v", err)
	}
	if got, _ := db.Payment(ctx, "p1"); got.Status != checkout.StatusCreated {
		t.Fatalf("payment written by a failed change: %s", got.Status)
	}

	// Invalid event detail: rejected before anything is written.
	p4 := clonePayment(p)
	p4.Status = checkout.StatusPaid
	err = db.Apply(ctx, checkout.Change{Payment: p4, Events: []checkout.Event{{Kind: "x", Detail: json.RawMessage(`{not json`)}}})
	if err == nil {
		t.Fatal("invalid detail accepted")
	}
	if got, _ := db.Payment(ctx, "p1"); got.Status != checkout.StatusCreated {
		t.Fatalf("payment written by a rejected change: %s", got.Status)
	}
}

const workers = 20

func testConcurrentCASOneWinner(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	p := mustPayment(t, db, "s1", "p1", "o1")
	var ok, conflict atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := clonePayment(p) // everyone holds version 1
			mine.TransactionID = fmt.Sprintf("w%d", i)
			<-start
			err := db.Apply(ctx, checkout.Change{Payment: mine,
				Events: []checkout.Event{{Kind: checkout.EventTransition, Source: mine.TransactionID}}})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, checkout.ErrConflict):
				conflict.Add(1)
			default:
				t.Errorf("worker %d: %v", i, err) // SQLITE_BUSY would land here
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != workers-1 {
		t.Fatalf("successes %d, conflicts %d; want 1 and %d", ok.Load(), conflict.Load(), workers-1)
	}
	got, _ := db.Payment(ctx, "p1")
	evs, _ := db.Events(ctx, "p1")
	if got.Version != 2 || len(evs) != 1 || evs[0].Source != got.TransactionID {
		t.Fatalf("version %d, %d events; want v2 and the winner's single event", got.Version, len(evs))
	}
}

func testConcurrentCASNoLostUpdate(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	mustPayment(t, db, "s1", "p1", "o1")
	const perWorker = 5
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < perWorker; {
				p, err := db.Payment(ctx, "p1")
				if err != nil {
					t.Errorf("worker %d: read: %v", i, err)
					return
				}
				p.Refunded.Minor++ // the counter
				err = db.Apply(ctx, checkout.Change{Payment: p, Events: []checkout.Event{{Kind: "tick"}}})
				switch {
				case err == nil:
					done++
				case errors.Is(err, checkout.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("worker %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, _ := db.Payment(ctx, "p1")
	const total = workers * perWorker
	if got.Refunded.Minor != total || got.Version != total+1 {
		t.Fatalf("counter %d, version %d; want %d and %d", got.Refunded.Minor, got.Version, total, total+1)
	}
	if n := countEvents(t, db, "p1"); n != total {
		t.Fatalf("events %d, want %d", n, total)
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func ids[T any](xs []*T, id func(*T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func payIDs(ps []*checkout.Payment) []string {
	return ids(ps, func(p *checkout.Payment) string { return p.ID })
}

func testListQueries(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	add := func(id string, st checkout.Status, sync checkout.SyncState, minutes int) {
		p := basicPayment("s1", id, "o-"+id)
		p.Status, p.SyncState = st, sync
		p.UpdatedAt = t0.Add(time.Duration(minutes) * time.Minute)
		mustApply(t, db, checkout.Change{NewPayment: p})
	}
	add("created-old", checkout.StatusCreated, checkout.SyncNone, 1)
	add("pending-older", checkout.StatusPending, checkout.SyncNone, 0)
	add("redirected-new", checkout.StatusRedirected, checkout.SyncNone, 30)
	add("paid-unsynced", checkout.StatusPaid, checkout.SyncPending, 2)
	add("failed-unsynced", checkout.StatusFailed, checkout.SyncPending, 3)
	add("expired-unsynced-new", checkout.StatusExpired, checkout.SyncPending, 40)
	add("paid-synced", checkout.StatusPaid, checkout.SyncDone, 1)
	add("canceled-syncfailed", checkout.StatusCanceled, checkout.SyncFailed, 1)
	cutoff := t0.Add(10 * time.Minute)

	for _, tc := range []struct {
		name string
		list func() ([]*checkout.Payment, error)
		want []string
	}{
		{"open", func() ([]*checkout.Payment, error) { return db.OpenPayments(ctx, cutoff, 10) },
			[]string{"pending-older", "created-old"}},
		{"open limit", func() ([]*checkout.Payment, error) { return db.OpenPayments(ctx, cutoff, 1) },
			[]string{"pending-older"}},
		{"open all", func() ([]*checkout.Payment, error) { return db.OpenPayments(ctx, t0.Add(time.Hour), 0) },
			[]string{"pending-older", "created-old", "redirected-new"}},
		{"open cutoff is strict", func() ([]*checkout.Payment, error) { return db.OpenPayments(ctx, t0, 10) },
			[]string{}},
		{"unsynced", func() ([]*checkout.Payment, error) { return db.UnsyncedPayments(ctx, cutoff, 10) },
			[]string{"paid-unsynced", "failed-unsynced"}},
		{"unsynced all", func() ([]*checkout.Payment, error) { return db.UnsyncedPayments(ctx, t0.Add(time.Hour), 10) },
			[]string{"paid-unsynced", "failed-unsynced", "expired-unsynced-new"}},
		{"by shop newest first", func() ([]*checkout.Payment, error) { return db.ListPayments(ctx, "s1", time.Time{}, 3) },
			nil}, // all created at t0: ordered by id desc
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.list()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(got) != 3 || got[0].ID != "redirected-new" {
					t.Fatalf("got %v", payIDs(got))
				}
				return
			}
			if g := payIDs(got); !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func testRefunds(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	p := mustPayment(t, db, "s1", "p1", "o1")
	r1 := &checkout.Refund{ID: "r1", PaymentID: "p1", Amount: kwd(1000), Reason: "damaged", Status: checkout.RefundPending,
		SyncState: checkout.SyncNone, Attempts: 0, Source: "api", Reference: "shopify-refund-1", CreatedAt: t0, UpdatedAt: t0}
	r2 := &checkout.Refund{ID: "r0", PaymentID: "p1", Amount: kwd(345), Status: checkout.RefundPending, Source: "cli",
		CreatedAt: t0.Add(time.Second)}
	mustApply(t, db, checkout.Change{NewRefund: r1, Events: []checkout.Event{{Kind: checkout.EventRefundRequested, RefundID: "r1"}}})
	mustApply(t, db, checkout.Change{NewRefund: r2})
	if r1.Version != 1 || r2.Version != 1 || !r2.UpdatedAt.Equal(r2.CreatedAt) {
		t.Fatalf("versions %d %d, r2 updated %v", r1.Version, r2.Version, r2.UpdatedAt)
	}
	// MarkChecked is bookkeeping: no version bump.
	checkedAt := t0.Add(3 * time.Minute)
	if err := db.MarkChecked(ctx, "p1", checkedAt); err != nil {
		t.Fatal(err)
	}
	if gp, _ := db.Payment(ctx, "p1"); !gp.CheckedAt.Equal(checkedAt) || gp.Version != p.Version {
		t.Fatalf("after MarkChecked: checked %v version %d (was %d)", gp.CheckedAt, gp.Version, p.Version)
	}
	// A platform reference is unique per payment; empty ones are not.
	dupRef := &checkout.Refund{ID: "r9", PaymentID: "p1", Amount: kwd(1), Status: checkout.RefundPending, Reference: "shopify-refund-1"}
	if err := db.Apply(ctx, checkout.Change{NewRefund: dupRef}); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("same reference twice: %v", err)
	}
	got, err := db.Refund(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r1) {
		t.Fatalf("read back:\n got %+v\nwant %+v", got, r1)
	}
	list, err := db.Refunds(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(list, func(r *checkout.Refund) string { return r.ID }); !reflect.DeepEqual(g, []string{"r1", "r0"}) {
		t.Fatalf("Refunds order = %v, want oldest first", g)
	}

	// Settle r1 together with the payment's refunded total.
	r1.Status, r1.GatewayRef, r1.Attempts, r1.SyncState = checkout.RefundSucceeded, "gw-r1", 1, checkout.SyncPending
	r1.UpdatedAt = t0.Add(time.Minute)
	p.Refunded = kwd(1000)
	mustApply(t, db, checkout.Change{Payment: p, Refund: r1,
		Events: []checkout.Event{{Kind: checkout.EventRefundSucceeded, RefundID: "r1", From: "pending", To: "succeeded"}}})
	if r1.Version != 2 || p.Version != 2 {
		t.Fatalf("versions r1 %d p %d, want 2 2", r1.Version, p.Version)
	}
	got, _ = db.Refund(ctx, "r1")
	if !reflect.DeepEqual(got, r1) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, r1)
	}
	stale := *r1
	stale.Version = 1
	if err := db.Apply(ctx, checkout.Change{Refund: &stale}); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("stale refund update: %v", err)
	}
	if gp, _ := db.Payment(ctx, "p1"); gp.Refunded != kwd(1000) {
		t.Fatalf("refunded = %+v", gp.Refunded)
	}
	evs, _ := db.Events(ctx, "p1")
	if len(evs) != 2 || evs[1].RefundID != "r1" || evs[1].To != "succeeded" {
		t.Fatalf("events %+v", evs)
	}
	orphan := &checkout.Refund{ID: "rx", PaymentID: "ghost", Amount: kwd(1), Status: checkout.RefundPending}
	if err := db.Apply(ctx, checkout.Change{NewRefund: orphan}); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("refund of unknown payment: %v", err)
	}
}

func testOpenRefunds(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	mustPayment(t, db, "s1", "p1", "o1")
	add := func(id string, st checkout.RefundStatus, sync checkout.SyncState, minutes int) {
		r := &checkout.Refund{ID: id, PaymentID: "p1", Amount: kwd(1), Status: st, SyncState: sync,
			CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(minutes) * time.Minute)}
		mustApply(t, db, checkout.Change{NewRefund: r})
	}
	add("pending", checkout.RefundPending, checkout.SyncNone, 2)
	add("succeeded-unsynced", checkout.RefundSucceeded, checkout.SyncPending, 1)
	add("failed-unsynced", checkout.RefundFailed, checkout.SyncPending, 3)
	add("succeeded-synced", checkout.RefundSucceeded, checkout.SyncDone, 1)
	add("failed-syncfailed", checkout.RefundFailed, checkout.SyncFailed, 1)
	add("pending-new", checkout.RefundPending, checkout.SyncNone, 30)
	for _, tc := range []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"before cutoff", t0.Add(10 * time.Minute), 10, []string{"succeeded-unsynced", "pending", "failed-unsynced"}},
		{"limit", t0.Add(10 * time.Minute), 2, []string{"succeeded-unsynced", "pending"}},
		{"all", t0.Add(time.Hour), 0, []string{"succeeded-unsynced", "pending", "failed-unsynced", "pending-new"}},
		{"none", t0, 10, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.OpenRefunds(ctx, tc.before, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got, func(r *checkout.Refund) string { return r.ID }); !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("got %v, want %v", g, tc.want)
			}
		})
	}
}

func testEvents(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	p := basicPayment("s1", "p1", "o1")
	evs := []checkout.Event{
		{Kind: checkout.EventCreated, Source: "api", At: t0, Detail: json.RawMessage(`{"amount":"12.345","nested":{"a":[1,2]}}`)},
		{Kind: checkout.EventChargeCreated, Source: "gateway"}, // no At, no Detail, no PaymentID
		{PaymentID: "p1", Kind: checkout.EventTransition, From: "created", To: "redirected", Source: "shopper", At: t0.Add(time.Second)},
	}
	before := time.Now().Add(-time.Second)
	mustApply(t, db, checkout.Change{NewPayment: p, Events: evs})
	for i, e := range evs {
		if e.ID == 0 || (i > 0 && e.ID <= evs[i-1].ID) {
			t.Fatalf("event ids not increasing: %d", e.ID)
		}
		if e.PaymentID != "p1" {
			t.Fatalf("event %d payment id %q", i, e.PaymentID)
		}
	}
	if evs[1].At.Before(before) || string(evs[1].Detail) != "{}" {
		t.Fatalf("defaults not applied: at %v detail %s", evs[1].At, evs[1].Detail)
	}
	// A later change appends after the earlier ones.
	p.Status = checkout.StatusRedirected
	more := []checkout.Event{{Kind: checkout.EventReturn, Source: "shopper", At: t0.Add(-time.Hour), Detail: json.RawMessage(`[]`)}}
	mustApply(t, db, checkout.Change{Payment: p, Events: more})

	got, err := db.Events(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]checkout.Event(nil), evs...), more...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", got, want)
	}
	// Events without a payment in the change need their own payment id.
	if err := db.Apply(ctx, checkout.Change{Events: []checkout.Event{{Kind: "x"}}}); err == nil {
		t.Fatal("event without payment id accepted")
	}
	// An event-only change (a rejected claim) is fine.
	mustApply(t, db, checkout.Change{Events: []checkout.Event{{PaymentID: "p1", Kind: checkout.EventClaimRejected}}})
	if n := countEvents(t, db, "p1"); n != 5 {
		t.Fatalf("events = %d, want 5", n)
	}
}

func testShops(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := &checkout.Shop{
		ID: "shop_1", Name: "Store", Platform: checkout.PlatformShopify, Domain: "x.myshopify.com",
		Gateway: checkout.GatewayAccount{Gateway: "upay", Sandbox: true,
			Credentials: map[string]string{"api_key": "upay-secret-key-123"}},
		APIKeyHash: "abc123", WebhookSecret: "whsec_topsecret",
		Secrets:  map[string]string{"access_token": "shpat_secret_token"},
		Settings: map[string]string{"locale": "ar"},
	}
	if err := db.CreateShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	other := &checkout.Shop{ID: "shop_2", Name: "Woo", Platform: checkout.PlatformWooCommerce, Domain: "https://woo.example",
		Gateway: checkout.GatewayAccount{Gateway: "cko"}, CreatedAt: s.CreatedAt.Add(time.Second)}
	if err := db.CreateShop(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		get  func() (*checkout.Shop, error)
		want *checkout.Shop
	}{
		{"by id", func() (*checkout.Shop, error) { return db.Shop(ctx, "shop_1") }, s},
		{"by key hash", func() (*checkout.Shop, error) { return db.ShopByAPIKeyHash(ctx, "abc123") }, s},
		{"by domain", func() (*checkout.Shop, error) {
			return db.ShopByDomain(ctx, checkout.PlatformShopify, "x.myshopify.com")
		}, s},
		{"no secrets", func() (*checkout.Shop, error) { return db.Shop(ctx, "shop_2") }, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		get  func() (*checkout.Shop, error)
	}{
		{"empty key hash never matches", func() (*checkout.Shop, error) { return db.ShopByAPIKeyHash(ctx, "") }},
		{"unknown key hash", func() (*checkout.Shop, error) { return db.ShopByAPIKeyHash(ctx, "zzz") }},
		{"empty domain never matches", func() (*checkout.Shop, error) { return db.ShopByDomain(ctx, checkout.PlatformWooCommerce, "") }},
		{"domain of another platform", func() (*checkout.Shop, error) {
			return db.ShopByDomain(ctx, checkout.PlatformWooCommerce, "x.myshopify.com")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.get(); !errors.Is(err, checkout.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
	list, err := db.ListShops(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "shop_1" || list[1].ID != "shop_2" {
		t.Fatalf("ListShops = %v, %v", list, err)
	}

	// Duplicates: id, API key hash, platform+domain.
	for _, dup := range []*checkout.Shop{
		{ID: "shop_1", Platform: checkout.PlatformAPI},
		{ID: "shop_3", Platform: checkout.PlatformAPI, APIKeyHash: "abc123"},
		{ID: "shop_4", Platform: checkout.PlatformShopify, Domain: "x.myshopify.com"},
	} {
		if err := db.CreateShop(ctx, dup); !errors.Is(err, checkout.ErrDuplicate) {
			t.Fatalf("CreateShop(%s) = %v, want ErrDuplicate", dup.ID, err)
		}
	}

	// Rotate credentials.
	s.Gateway.Credentials = map[string]string{"api_key": "rotated-key"}
	s.WebhookSecret = "whsec_new"
	s.Settings = nil
	s.Name = "Renamed"
	if err := db.UpdateShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Shop(ctx, "shop_1")
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, s)
	}
	if err := db.UpdateShop(ctx, &checkout.Shop{ID: "ghost", Platform: "api"}); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("UpdateShop(ghost) = %v", err)
	}
	other.APIKeyHash = "abc123"
	if err := db.UpdateShop(ctx, other); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("UpdateShop to a taken key hash = %v", err)
	}
}

func testShopSecretsEncrypted(t *testing.T, db *DB) {
	ctx := ctxT(t)
	a := &checkout.Shop{ID: "a", Name: "A", Platform: checkout.PlatformAPI,
		Gateway:       checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "PLAINTEXT-GW-KEY-A"}},
		WebhookSecret: "PLAINTEXT-WHSEC-A", Secrets: map[string]string{"token": "PLAINTEXT-TOKEN-A"},
		Settings: map[string]string{"visible": "yes"}}
	b := &checkout.Shop{ID: "b", Name: "B", Platform: checkout.PlatformAPI,
		Gateway: checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "PLAINTEXT-GW-KEY-B"}}}
	for _, s := range []*checkout.Shop{a, b} {
		if err := db.CreateShop(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var creds, whsec, sec, settings string
	if err := db.r.QueryRowContext(ctx, `SELECT gateway_credentials, webhook_secret, secrets, settings FROM shops WHERE id = $1`, "a").
		Scan(&creds, &whsec, &sec, &settings); err != nil {
		t.Fatal(err)
	}
	for col, v := range map[string]string{"gateway_credentials": creds, "webhook_secret": whsec, "secrets": sec} {
		if strings.Contains(v, "PLAINTEXT") || strings.Contains(v, "api_key") || strings.Contains(v, "token") {
			t.Fatalf("%s holds plaintext: %q", col, v)
		}
		if !strings.HasPrefix(v, "v1:"+db.kr.PrimaryID()+":") {
			t.Fatalf("%s not sealed: %q", col, v)
		}
	}
	if settings != `{"visible":"yes"}` {
		t.Fatalf("settings = %q, want plain JSON", settings)
	}

	// Swap ciphertexts between rows and columns: neither opens.
	for _, tc := range []struct{ name, sql string }{
		{"other row", `UPDATE shops SET gateway_credentials = $1 WHERE id = 'b'`},
		{"other column", `UPDATE shops SET secrets = $1 WHERE id = 'b'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var orig string
			if err := db.r.QueryRowContext(ctx, `SELECT gateway_credentials FROM shops WHERE id = 'b'`).Scan(&orig); err != nil {
				t.Fatal(err)
			}
			var origSec string
			if err := db.r.QueryRowContext(ctx, `SELECT secrets FROM shops WHERE id = 'b'`).Scan(&origSec); err != nil {
				t.Fatal(err)
			}
			if _, err := db.w.ExecContext(ctx, tc.sql, creds); err != nil {
				t.Fatal(err)
			}
			_, err := db.Shop(ctx, "b")
			if !errors.Is(err, secrets.ErrDecrypt) {
				t.Fatalf("swapped ciphertext: err = %v, want ErrDecrypt", err)
			}
			if strings.Contains(err.Error(), "PLAINTEXT") {
				t.Fatal("error leaks plaintext")
			}
			if _, err := db.w.ExecContext(ctx, `UPDATE shops SET gateway_credentials = $1, secrets = $2 WHERE id = 'b'`, orig, origSec); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := db.Shop(ctx, "b"); err != nil {
		t.Fatalf("restored row: %v", err)
	}
}

func testShopKeyRotation(t *testing.T, db *DB) {
	ctx := ctxT(t)
	oldKey, _ := secrets.GenerateKey()
	newKey, _ := secrets.GenerateKey()
	ring := func(b64 string) *DB {
		kr, err := secrets.ParseKey(b64)
		if err != nil {
			t.Fatal(err)
		}
		d := *db // same connections, another keyring (and so a shop cache of its own)
		d.kr = kr
		d.shops = newShopCache(db.shops.trust, time.Now)
		return &d
	}
	dbOld, dbRotated, dbNew := ring(oldKey), ring(newKey+","+oldKey), ring(newKey)
	s := mustShop(t, dbOld, "s1")

	got, err := dbRotated.Shop(ctx, "s1")
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("old value with rotated ring: %v", err)
	}
	if _, err := dbNew.Shop(ctx, "s1"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("old value with new key only: %v, want ErrUnknownKey", err)
	}
	if err := dbRotated.UpdateShop(ctx, got); err != nil { // re-seals with the new primary
		t.Fatal(err)
	}
	var creds string
	if err := db.r.QueryRowContext(ctx, `SELECT gateway_credentials FROM shops WHERE id = 's1'`).Scan(&creds); err != nil {
		t.Fatal(err)
	}
	if id, _ := secrets.KeyIDOf(creds); id != dbNew.kr.PrimaryID() {
		t.Fatalf("re-sealed with %s, want %s", id, dbNew.kr.PrimaryID())
	}
	if got, err := dbNew.Shop(ctx, "s1"); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("new key alone after re-seal: %v", err)
	}
	if _, err := dbOld.Shop(ctx, "s1"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("old key alone after re-seal: %v, want ErrUnknownKey", err)
	}
}

func testReceipts(t *testing.T, db *DB) {
	ctx := ctxT(t)
	for _, tc := range []struct {
		source, id string
		first      bool
	}{
		{"upay", "n-1", true},
		{"upay", "n-1", false},
		{"upay", "n-2", true},
		{"shopify", "n-1", true},
		{"shopify", "n-1", false},
	} {
		first, err := db.RecordReceipt(ctx, tc.source, tc.id)
		if err != nil || first != tc.first {
			t.Fatalf("RecordReceipt(%s, %s) = %v, %v; want %v", tc.source, tc.id, first, err, tc.first)
		}
	}
	// Concurrent deliveries of one id: exactly one is first.
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := db.RecordReceipt(ctx, "upay", "race")
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d firsts, want 1", firsts.Load())
	}
	if _, err := db.RecordReceipt(ctx, "", "x"); err == nil {
		t.Fatal("empty source accepted")
	}
	n, err := db.PruneReceipts(ctx, time.Now().Add(time.Minute))
	if err != nil || n != 4 {
		t.Fatalf("PruneReceipts = %d, %v; want 4", n, err)
	}
}

func testOAuthState(t *testing.T, db *DB) {
	ctx := ctxT(t)
	now := time.Now()
	if err := db.PutOAuthState(ctx, "state-ok", checkout.PlatformShopify, "x.myshopify.com", "install", now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutOAuthState(ctx, "state-old", checkout.PlatformShopify, "y.myshopify.com", "install", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutOAuthState(ctx, "state-ok", checkout.PlatformShopify, "", "", now.Add(time.Minute)); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("duplicate state: %v", err)
	}
	var raw string
	if err := db.r.QueryRowContext(ctx, `SELECT state FROM oauth_states WHERE shop_domain = 'x.myshopify.com'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw == "state-ok" {
		t.Fatal("state stored in clear")
	}

	// Twenty concurrent takes of one state: one wins.
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := db.TakeOAuthState(ctx, "state-ok")
			switch {
			case err == nil:
				wins.Add(1)
				if st.Platform != checkout.PlatformShopify || st.ShopDomain != "x.myshopify.com" || st.Purpose != "install" ||
					st.ExpiresAt.Sub(now.Add(10*time.Minute)).Abs() > time.Millisecond {
					t.Errorf("state = %+v", st)
				}
			case !errors.Is(err, checkout.ErrNotFound):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takes succeeded, want 1", wins.Load())
	}
	for _, s := range []string{"state-ok", "state-old", "never-issued", ""} {
		if _, err := db.TakeOAuthState(ctx, s); !errors.Is(err, checkout.ErrNotFound) {
			t.Fatalf("TakeOAuthState(%q) = %v, want ErrNotFound", s, err)
		}
	}
	// Expiry is checked at take time, with the store's clock.
	if err := db.PutOAuthState(ctx, "state-soon", checkout.PlatformShopify, "", "", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	later := *db
	later.now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := later.TakeOAuthState(ctx, "state-soon"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("take after expiry: %v", err)
	}
	if _, err := db.TakeOAuthState(ctx, "state-soon"); err != nil {
		t.Fatalf("take before expiry: %v", err)
	}
	n, err := db.PruneOAuthStates(ctx, now.Add(30*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PruneOAuthStates = %d, %v; want 2", n, err)
	}
}

func testCountPaymentsByStatus(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	for i, st := range []checkout.Status{checkout.StatusPaid, checkout.StatusPaid, checkout.StatusCreated, checkout.StatusFailed} {
		p := basicPayment("s1", fmt.Sprint("p", i), fmt.Sprint("o", i))
		p.Status = st
		mustApply(t, db, checkout.Change{NewPayment: p})
	}
	got, err := db.CountPaymentsByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"created": 1, "redirected": 0, "pending": 0, "paid": 2, "failed": 1, "canceled": 0, "expired": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
}

func testPaymentByGatewayRef(t *testing.T, db *DB) {
	ctx := ctxT(t)
	mustShop(t, db, "s1")
	mustShop(t, db, "s2")
	p := basicPayment("s1", "p1", "o1")
	p.GatewayRef = "track-1"
	mustApply(t, db, checkout.Change{NewPayment: p})
	mustPayment(t, db, "s1", "p2", "o2") // empty ref
	got, err := db.PaymentByGatewayRef(ctx, "upay", "track-1")
	if err != nil || got.ID != "p1" {
		t.Fatalf("PaymentByGatewayRef = %v, %v", got, err)
	}
	for _, tc := range []struct{ gateway, ref string }{{"upay", ""}, {"cko", "track-1"}, {"upay", "track-2"}} {
		if _, err := db.PaymentByGatewayRef(ctx, tc.gateway, tc.ref); !errors.Is(err, checkout.ErrNotFound) {
			t.Fatalf("PaymentByGatewayRef(%s, %q) = %v, want ErrNotFound", tc.gateway, tc.ref, err)
		}
	}
	q := basicPayment("s2", "p3", "o1")
	q.GatewayRef = "track-1"
	mustApply(t, db, checkout.Change{NewPayment: q})
	if _, err := db.PaymentByGatewayRef(ctx, "upay", "track-1"); err == nil || errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("ambiguous ref: %v, want an error", err)
	}
}

// latestMigration is the number of the newest embedded migration.
func latestMigration(t *testing.T) int64 {
	files, err := fs.Glob(migrationsFS, "migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	var n int64
	fmt.Sscanf(path.Base(files[len(files)-1]), "%d_", &n)
	return n
}
