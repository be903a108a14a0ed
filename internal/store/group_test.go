package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

// Concurrent writes on SQLite share one transaction (groupCommit) and
// keep the guarantees of separate ones: each change is written whole or
// not at all, a failing one (lost compare-and-set, duplicate key, context
// ended) takes nothing of the others with it, and each caller learns its
// own outcome.
func TestGroupCommit(t *testing.T) {
	db := openMigrated(t, sqliteDSN(t))
	ctx := ctxT(t)
	shop := mustShop(t, db, "shop_g")
	// Written first, alone, so that the statements are prepared: the
	// batch below must not wait on a prepare.
	base := basicPayment(shop.ID, "pay_g0", "og0")
	mustApply(t, db, checkout.Change{NewPayment: base, Events: []checkout.Event{{Kind: checkout.EventCreated}}})
	stale := *base
	mustApply(t, db, checkout.Change{Payment: base, Events: []checkout.Event{{Kind: checkout.EventNotification}}})
	for _, q := range []string{"SAVEPOINT change", "RELEASE change", "ROLLBACK TO change", insertEventsSQL(2), insertRefundSQL} {
		if _, err := db.ws.stmt(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	// Hold the one writer connection, so that the writers below queue
	// up behind the first, which waits for the connection with a batch
	// of one; the rest become the next batch together.
	hold, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		name string
		err  error
	}
	const good = 8
	cancelled, cancel := context.WithCancel(ctx)
	writes := []struct {
		name string
		ctx  context.Context
		c    checkout.Change
		want error // nil: written
	}{
		{"stale compare-and-set", ctx, checkout.Change{Payment: &stale, Events: []checkout.Event{{Kind: "lost"}}}, checkout.ErrConflict},
		{"duplicate order", ctx, checkout.Change{NewPayment: basicPayment(shop.ID, "pay_gdup", "og0"), Events: []checkout.Event{{Kind: "dup"}}}, checkout.ErrDuplicate},
		{"half a change", ctx, checkout.Change{NewPayment: basicPayment(shop.ID, "pay_ghalf", "oghalf"),
			NewRefund: &checkout.Refund{ID: "ref_ghalf", PaymentID: "pay_missing", Amount: kwd(1), Status: checkout.RefundPending},
			Events:    []checkout.Event{{Kind: "half"}}}, checkout.ErrNotFound},
		{"context ended", cancelled, checkout.Change{NewPayment: basicPayment(shop.ID, "pay_gctx", "ogctx"), Events: []checkout.Event{{Kind: "ctx"}}}, context.Canceled},
	}
	for i := range good {
		id := fmt.Sprintf("pay_g%d", i+1)
		writes = append(writes, struct {
			name string
			ctx  context.Context
			c    checkout.Change
			want error
		}{id, ctx, checkout.Change{NewPayment: basicPayment(shop.ID, id, "o"+id),
			Events: []checkout.Event{{Kind: checkout.EventCreated}, {Kind: checkout.EventChargeCreated}}}, nil})
	}
	out := make(chan outcome, len(writes)+1)
	var wg sync.WaitGroup
	start := func(name string, ctx context.Context, c checkout.Change) {
		wg.Go(func() { out <- outcome{name, db.Apply(ctx, c)} })
	}
	start("first", ctx, checkout.Change{Events: []checkout.Event{{PaymentID: base.ID, Kind: "first"}}})
	queued := func(n int) {
		testenv.EventuallyTrue(t, 10*time.Second, fmt.Sprintf("%d writers queued", n), func() bool {
			db.group.mu.Lock()
			defer db.group.mu.Unlock()
			return db.group.writing && len(db.group.queue) == n
		})
	}
	queued(0) // the first is writing (waiting for the connection)
	for i, w := range writes {
		start(w.name, w.ctx, w.c)
		queued(i + 1)
	}
	cancel()
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(out)
	got := map[string]error{}
	for o := range out {
		got[o.name] = o.err
	}
	if got["first"] != nil {
		t.Errorf("first: %v", got["first"])
	}
	for _, w := range writes {
		err := got[w.name]
		if (w.want == nil) != (err == nil) || (w.want != nil && !errors.Is(err, w.want)) {
			t.Errorf("%s: %v, want %v", w.name, err, w.want)
		}
		if w.want == nil {
			p := w.c.NewPayment
			if p.Version != 1 || w.c.Events[0].ID == 0 || w.c.Events[1].ID <= w.c.Events[0].ID {
				t.Errorf("%s: version %d, event ids %d, %d: the caller's values do not show the write", w.name, p.Version, w.c.Events[0].ID, w.c.Events[1].ID)
			}
			evs, err := db.Events(ctx, p.ID)
			if err != nil || len(evs) != 2 || evs[0].Kind != checkout.EventCreated || evs[1].Kind != checkout.EventChargeCreated {
				t.Errorf("%s: stored events %+v, %v", w.name, evs, err)
			}
			continue
		}
		if p := w.c.NewPayment; p != nil {
			if p.Version != 0 {
				t.Errorf("%s: failed write set version %d", w.name, p.Version)
			}
			if q, err := db.Payment(ctx, p.ID); !errors.Is(err, checkout.ErrNotFound) {
				t.Errorf("%s: failed write stored %+v (%v)", w.name, q, err)
			}
		}
	}
	// Of the base payment, only the first writer's event is new.
	evs, err := db.Events(ctx, base.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if fmt.Sprint(kinds) != fmt.Sprint([]string{checkout.EventCreated, checkout.EventNotification, "first"}) {
		t.Errorf("base payment events %v", kinds)
	}
	if got, err := db.Payment(ctx, base.ID); err != nil || got.Version != 2 {
		t.Errorf("base payment: %+v, %v", got, err)
	}
	db.group.mu.Lock()
	defer db.group.mu.Unlock()
	if db.group.writing || len(db.group.queue) != 0 {
		t.Errorf("after the writes: writing %v, %d queued", db.group.writing, len(db.group.queue))
	}
}

// A new payment with its events, and events alone, are one statement on
// PostgreSQL (no transaction) and a transaction on SQLite: either way
// they are written whole, with the events' ids in order, or not at all.
func TestOneStatementChanges(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			ctx := ctxT(t)
			shop := mustShop(t, db, "shop_o")
			p := basicPayment(shop.ID, "pay_o1", "oo1")
			evs := []checkout.Event{{Kind: checkout.EventCreated}, {Kind: checkout.EventChargeCreated}, {Kind: checkout.EventNotification}}
			mustApply(t, db, checkout.Change{NewPayment: p, Events: evs})
			stored, err := db.Events(ctx, p.ID)
			if err != nil || len(stored) != 3 {
				t.Fatalf("events %+v, %v", stored, err)
			}
			for i, e := range stored {
				if e.ID != evs[i].ID || e.Kind != evs[i].Kind || e.PaymentID != p.ID {
					t.Errorf("event %d: stored %+v, caller has %+v", i, e, evs[i])
				}
			}
			if counts, err := db.CountPaymentsByStatus(ctx); err != nil || counts[string(checkout.StatusCreated)] != 1 {
				t.Errorf("counts %v, %v", counts, err)
			}
			err = db.Apply(ctx, checkout.Change{Events: []checkout.Event{{PaymentID: "pay_missing", Kind: checkout.EventNotification}}})
			if !errors.Is(err, checkout.ErrNotFound) {
				t.Errorf("event of an unknown payment: %v, want ErrNotFound", err)
			}
			// A duplicate order with its events writes nothing, the
			// events included.
			dup := basicPayment(shop.ID, "pay_o2", "oo1")
			err = db.Apply(ctx, checkout.Change{NewPayment: dup, Events: []checkout.Event{{Kind: checkout.EventCreated}}})
			if !errors.Is(err, checkout.ErrDuplicate) {
				t.Fatalf("duplicate order: %v", err)
			}
			if n := countEvents(t, db, "pay_o2"); n != 0 {
				t.Errorf("%d events of the refused payment written", n)
			}
		})
	}
}

// BenchmarkApplyClaims measures notification claims (one event each)
// written by 32 writers at once, as the notify path writes them. Run:
//
//	go test ./internal/store -run '^$' -bench ApplyClaims -benchtime 20000x
func BenchmarkApplyClaims(b *testing.B) {
	forBenchStores(b, func(b *testing.B, ctx context.Context, db *DB, shop *checkout.Shop) {
		p := basicPayment(shop.ID, "pay_b", "ob")
		if err := db.Apply(ctx, checkout.Change{NewPayment: p}); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(16) // 32 writers on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				err := db.Apply(ctx, checkout.Change{Events: []checkout.Event{{PaymentID: p.ID, Kind: checkout.EventNotification,
					Source: "notification", Detail: []byte(`{"claim":{"result":"CAPTURED","signed":true}}`)}}})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkApplyCreates measures creates' one write (a new payment with
// its created and charge_created events) by 32 writers at once: the store's
// part of a create, alone. Run:
//
//	go test ./internal/store -run '^$' -bench ApplyCreates -benchtime 20000x
func BenchmarkApplyCreates(b *testing.B) {
	forBenchStores(b, func(b *testing.B, ctx context.Context, db *DB, shop *checkout.Shop) {
		var n atomic.Int64
		b.SetParallelism(16) // 32 writers on 2 cores
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				p := basicPayment(shop.ID, checkout.NewID("pay"), fmt.Sprintf("order-%d", i))
				err := db.Apply(ctx, checkout.Change{NewPayment: p, Events: []checkout.Event{
					{Kind: checkout.EventCreated, To: string(checkout.StatusCreated), Source: "api",
						Detail: []byte(`{"amount":"12.345","currency":"KWD","gateway":"upay","order_id":"order"}`)},
					{Kind: checkout.EventChargeCreated, Source: "gateway",
						Detail: []byte(`{"ref":"9VBlLVjG2WRoCyYDPrL5bqT6gTe2CGck","answer":{"status":true,"message":"Payment link generated successfully","data":{"link":"http://127.0.0.1:44547/pay/9VBlLVjG2WRoCyYDPrL5bqT6gTe2CGck"}}}`)},
				}})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// forBenchStores runs fn on a fresh, migrated store of each backend with
// one API shop.
func forBenchStores(b *testing.B, fn func(b *testing.B, ctx context.Context, db *DB, shop *checkout.Shop)) {
	for _, be := range []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + b.TempDir() + "/bridge.db" }},
		{"postgres", func(b *testing.B) string { return testenv.PostgresURL(b) }},
	} {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, be.dsn(b), testKeyring(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			shop := &checkout.Shop{ID: "shop_b", Name: "Bench", Platform: checkout.PlatformAPI,
				Gateway:    checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "sk_b"}},
				APIKeyHash: "hash-b", WebhookSecret: "whsec_b", CreatedAt: t0}
			if err := db.CreateShop(ctx, shop); err != nil {
				b.Fatal(err)
			}
			fn(b, ctx, db, shop)
		})
	}
}
