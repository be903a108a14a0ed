package store

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/pressly/goose/v3"

	"paybridge/internal/checkout"
	"paybridge/internal/testenv"
)

// TestShopStatusContract runs the shop lifecycle suite (status, disable,
// enable, remove, key rotation, audit events) against every backend.
func TestShopStatusContract(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name string
				fn   func(t *testing.T, db *DB)
			}{
				{"StatusFollowsConnection", testShopStatusFollowsConnection},
				{"DisableEnable", testShopDisableEnable},
				{"DisableSurvivesPlatformWrite", testShopDisableSurvivesPlatformWrite},
				{"ConcurrentDisable", testShopConcurrentDisable},
				{"RemoveUnused", testShopRemoveUnused},
				{"RemoveKeepsRecord", testShopRemoveKeepsRecord},
				{"RemoveRefusesOpen", testShopRemoveRefusesOpen},
				{"RotateKey", testShopRotateKey},
				{"BadInput", testShopStatusBadInput},
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

var cli = ShopActor{Source: "cli", Reason: "merchant asked"}

func apiShop(t *testing.T, db *DB, id string) *checkout.Shop {
	t.Helper()
	s := &checkout.Shop{ID: id, Name: "Store " + id, Platform: checkout.PlatformAPI,
		Gateway:    checkout.GatewayAccount{Gateway: "upay", Credentials: map[string]string{"api_key": "gw-secret-" + id}},
		APIKeyHash: "hash-" + id, WebhookSecret: "whsec_" + id, Secrets: map[string]string{"token": "tok-" + id}}
	if err := db.CreateShop(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func shopStatus(t *testing.T, db *DB, id string) checkout.ShopStatus {
	t.Helper()
	s, err := db.Shop(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

func shopEventKinds(t *testing.T, db *DB, id string) []string {
	t.Helper()
	evs, err := db.ShopEvents(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind+":"+string(e.From)+">"+string(e.To))
	}
	return out
}

func testShopStatusFollowsConnection(t *testing.T, db *DB) {
	ctx := ctxT(t)
	// The WooCommerce connection's steps, as its platform writes them.
	s := &checkout.Shop{ID: "shop_woo", Name: "Woo", Platform: checkout.PlatformWooCommerce,
		Gateway: checkout.GatewayAccount{Gateway: "upay"}, Settings: map[string]string{checkout.SettingConnection: "pending"}}
	if err := db.CreateShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Status != checkout.ShopConnecting || shopStatus(t, db, s.ID) != checkout.ShopConnecting {
		t.Fatalf("pending shop: %s, stored %s", s.Status, shopStatus(t, db, s.ID))
	}
	for _, step := range []struct {
		setting string
		want    checkout.ShopStatus
	}{{"connecting", checkout.ShopConnecting}, {"connected", checkout.ShopConnected}} {
		s.Settings[checkout.SettingConnection] = step.setting
		if err := db.UpdateShop(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got := shopStatus(t, db, s.ID); got != step.want {
			t.Fatalf("settings %q: status %s, want %s", step.setting, got, step.want)
		}
	}
	if got := shopStatus(t, db, apiShop(t, db, "shop_api").ID); got != checkout.ShopConnected {
		t.Fatalf("api shop: %s", got)
	}
}

func testShopDisableEnable(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_de")
	was, err := db.DisableShop(ctx, s.ID, cli)
	if err != nil || was != checkout.ShopConnected {
		t.Fatalf("DisableShop = %s, %v", was, err)
	}
	if got := shopStatus(t, db, s.ID); got != checkout.ShopDisabled {
		t.Fatalf("status %s", got)
	}
	// Still found by key: the platform must be able to say why it refuses.
	if got, err := db.ShopByAPIKeyHash(ctx, s.APIKeyHash); err != nil || got.Status != checkout.ShopDisabled {
		t.Fatalf("by key: %v, %v", got, err)
	}
	if was, err := db.DisableShop(ctx, s.ID, cli); err != nil || was != checkout.ShopDisabled {
		t.Fatalf("disable again = %s, %v", was, err)
	}
	if to, err := db.EnableShop(ctx, s.ID, ShopActor{Source: "console:ops@example.com"}); err != nil || to != checkout.ShopConnected {
		t.Fatalf("EnableShop = %s, %v", to, err)
	}
	if to, err := db.EnableShop(ctx, s.ID, cli); err != nil || to != checkout.ShopConnected {
		t.Fatalf("enable again = %s, %v", to, err)
	}
	got := shopEventKinds(t, db, s.ID)
	want := []string{"shop_disabled:connected>disabled", "shop_enabled:disabled>connected"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events %v, want %v (a change that changes nothing is not an event)", got, want)
	}
	evs, _ := db.ShopEvents(ctx, s.ID)
	var d map[string]any
	if err := json.Unmarshal(evs[0].Detail, &d); err != nil || d["reason"] != "merchant asked" || evs[0].Source != "cli" ||
		evs[1].Source != "console:ops@example.com" || evs[0].At.IsZero() {
		t.Fatalf("events: %+v (%v)", evs, err)
	}
	// A shop disabled while connecting comes back connecting.
	w := &checkout.Shop{ID: "shop_wc", Name: "W", Platform: checkout.PlatformWooCommerce,
		Gateway: checkout.GatewayAccount{Gateway: "upay"}, Settings: map[string]string{checkout.SettingConnection: "connecting"}}
	if err := db.CreateShop(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DisableShop(ctx, w.ID, cli); err != nil {
		t.Fatal(err)
	}
	if to, err := db.EnableShop(ctx, w.ID, cli); err != nil || to != checkout.ShopConnecting {
		t.Fatalf("enable connecting shop = %s, %v", to, err)
	}
}

// A platform's read-modify-write of a shop (the WooCommerce reconciler
// finishing a connection) does not enable a shop disabled meanwhile, but
// its connection progress still counts once enabled.
func testShopDisableSurvivesPlatformWrite(t *testing.T, db *DB) {
	ctx := ctxT(t)
	w := &checkout.Shop{ID: "shop_race", Name: "W", Platform: checkout.PlatformWooCommerce,
		Gateway: checkout.GatewayAccount{Gateway: "upay"}, Settings: map[string]string{checkout.SettingConnection: "connecting"}}
	if err := db.CreateShop(ctx, w); err != nil {
		t.Fatal(err)
	}
	read, err := db.Shop(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DisableShop(ctx, w.ID, cli); err != nil {
		t.Fatal(err)
	}
	read.Settings[checkout.SettingConnection] = "connected"
	if err := db.UpdateShop(ctx, read); err != nil {
		t.Fatal(err)
	}
	if got := shopStatus(t, db, w.ID); got != checkout.ShopDisabled {
		t.Fatalf("after the platform's write: %s, want disabled", got)
	}
	if to, err := db.EnableShop(ctx, w.ID, cli); err != nil || to != checkout.ShopConnected {
		t.Fatalf("enable = %s, %v", to, err)
	}
}

func testShopConcurrentDisable(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_cc")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = db.DisableShop(ctx, s.ID, cli)
			} else {
				s2 := *s
				s2.Name = "renamed"
				errs[i] = db.UpdateShop(ctx, &s2)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := shopStatus(t, db, s.ID); got != checkout.ShopDisabled {
		t.Fatalf("status %s", got)
	}
	if got := shopEventKinds(t, db, s.ID); len(got) != 1 {
		t.Fatalf("events %v: want one disable", got)
	}
}

func testShopRemoveUnused(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_unused")
	if _, err := db.PutCustomerToken(ctx, s.ID, "upay", "cust1", "tok"); err != nil {
		t.Fatal(err)
	}
	r, err := db.RemoveShop(ctx, s.ID, false, cli)
	if err != nil || !r.Deleted || r.Payments != 0 {
		t.Fatalf("RemoveShop = %+v, %v", r, err)
	}
	if _, err := db.Shop(ctx, s.ID); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("Shop after removal: %v", err)
	}
	if _, err := db.CustomerToken(ctx, s.ID, "upay", "cust1"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("customer token after removal: %v", err)
	}
	// The removal outlives the row.
	if got := shopEventKinds(t, db, s.ID); len(got) != 1 || got[0] != "shop_removed:connected>removed" {
		t.Fatalf("events %v", got)
	}
	if _, err := db.RemoveShop(ctx, s.ID, false, cli); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("removing it again: %v", err)
	}
}

func testShopRemoveKeepsRecord(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_rec")
	s.Domain = "https://rec.example"
	if err := db.UpdateShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	p := mustPayment(t, db, s.ID, "pay_rec1", "o1")
	p.Status = checkout.StatusPaid
	mustApply(t, db, checkout.Change{Payment: p, Events: []checkout.Event{{Kind: checkout.EventTransition, From: "created", To: "paid"}}})
	if _, err := db.PutCustomerToken(ctx, s.ID, "upay", "cust1", "tok"); err != nil {
		t.Fatal(err)
	}
	events := countEvents(t, db, p.ID)
	r, err := db.RemoveShop(ctx, s.ID, false, cli)
	if err != nil || r.Deleted || r.Payments != 1 || r.OpenCount != 0 || r.GatewayKept {
		t.Fatalf("RemoveShop = %+v, %v", r, err)
	}
	got, err := db.Shop(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != checkout.ShopRemoved || got.APIKeyHash != "" || got.Domain != "" || len(got.Secrets) != 0 ||
		len(got.Gateway.Credentials) != 0 || got.WebhookSecret == "" || got.WebhookSecret == s.WebhookSecret || got.Name != s.Name {
		t.Fatalf("removed shop: %+v", got)
	}
	for _, lookup := range []func() (*checkout.Shop, error){
		func() (*checkout.Shop, error) { return db.ShopByAPIKeyHash(ctx, s.APIKeyHash) },
		func() (*checkout.Shop, error) { return db.ShopByDomain(ctx, s.Platform, s.Domain) },
	} {
		if _, err := lookup(); !errors.Is(err, checkout.ErrNotFound) {
			t.Fatalf("a removed shop is found: %v", err)
		}
	}
	if _, err := db.CustomerToken(ctx, s.ID, "upay", "cust1"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("customer token kept: %v", err)
	}
	// The financial record stays whole.
	if kept, err := db.Payment(ctx, p.ID); err != nil || kept.Status != checkout.StatusPaid || countEvents(t, db, p.ID) != events || events == 0 {
		t.Fatalf("payment after removal: %v, %v", kept, err)
	}
	// Nothing brings the secrets back: a platform's stale write, a
	// disable, a rotation.
	if err := db.UpdateShop(ctx, s); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("UpdateShop of a removed shop: %v", err)
	}
	if _, err := db.DisableShop(ctx, s.ID, cli); !errors.Is(err, ErrShopRemoved) {
		t.Fatalf("DisableShop: %v", err)
	}
	if _, err := db.EnableShop(ctx, s.ID, cli); !errors.Is(err, ErrShopRemoved) {
		t.Fatalf("EnableShop: %v", err)
	}
	if err := db.RotateShopKey(ctx, s.ID, "h2", "whsec_2", cli); !errors.Is(err, ErrShopRemoved) {
		t.Fatalf("RotateShopKey: %v", err)
	}
	listed, _ := db.ListShops(ctx)
	for _, l := range listed {
		if l.ID == s.ID {
			t.Fatal("ListShops lists a removed shop")
		}
	}
	all, _ := db.ShopListing(ctx)
	if len(all) != 1 || all[0].Shop.Status != checkout.ShopRemoved || all[0].Err != nil {
		t.Fatalf("ShopListing: %+v", all)
	}
	if r, err := db.RemoveShop(ctx, s.ID, false, cli); err != nil || !r.Unchanged {
		t.Fatalf("removing it again: %+v, %v", r, err)
	}
	// The same store connects again, as a new shop.
	again := apiShop(t, db, "shop_rec2")
	again.Domain = s.Domain
	if err := db.UpdateShop(ctx, again); err != nil {
		t.Fatal(err)
	}
}

func testShopRemoveRefusesOpen(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_open")
	open := mustPayment(t, db, s.ID, "pay_open1", "o1")
	mustPayment(t, db, s.ID, "pay_open2", "o2")
	done := mustPayment(t, db, s.ID, "pay_done", "o3")
	done.Status = checkout.StatusFailed
	mustApply(t, db, checkout.Change{Payment: done})

	_, err := db.RemoveShop(ctx, s.ID, false, cli)
	var oe *OpenPaymentsError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOpenPayments) || oe.Count != 2 || len(oe.Open) != 2 ||
		oe.Open[0].ID != open.ID || oe.Open[0].OrderID != "o1" || oe.Open[0].Status != checkout.StatusCreated || !oe.Open[0].Amount.Positive() {
		t.Fatalf("RemoveShop with open payments: %+v, %v", oe, err)
	}
	if got := shopStatus(t, db, s.ID); got != checkout.ShopConnected || len(shopEventKinds(t, db, s.ID)) != 0 {
		t.Fatal("a refused removal changed the shop")
	}
	// Forced: the gateway account stays so that the open ones can be
	// confirmed; the rest goes.
	r, err := db.RemoveShop(ctx, s.ID, true, cli)
	if err != nil || r.Deleted || r.OpenCount != 2 || !r.GatewayKept || r.Payments != 3 {
		t.Fatalf("forced RemoveShop = %+v, %v", r, err)
	}
	got, err := db.Shop(ctx, s.ID)
	if err != nil || got.Status != checkout.ShopRemoved || got.Gateway.Credentials["api_key"] != "gw-secret-shop_open" || got.APIKeyHash != "" {
		t.Fatalf("force-removed shop: %+v, %v", got, err)
	}
	if r, err := db.RemoveShop(ctx, s.ID, true, cli); err != nil || !r.Unchanged {
		t.Fatalf("again while still open: %+v, %v", r, err)
	}
	// Once they are final, removing again erases the gateway account.
	for _, id := range []string{"pay_open1", "pay_open2"} {
		p, _ := db.Payment(ctx, id)
		p.Status = checkout.StatusExpired
		mustApply(t, db, checkout.Change{Payment: p})
	}
	r, err = db.RemoveShop(ctx, s.ID, false, cli)
	if err != nil || r.Unchanged || r.GatewayKept {
		t.Fatalf("final removal = %+v, %v", r, err)
	}
	if got, _ := db.Shop(ctx, s.ID); len(got.Gateway.Credentials) != 0 {
		t.Fatalf("gateway credentials kept: %v", got.Gateway.Credentials)
	}
	evs, _ := db.ShopEvents(ctx, s.ID)
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	var d map[string]any
	if err := json.Unmarshal(evs[0].Detail, &d); err != nil || d["forced"] != true || d["gateway_account_kept"] != true || d["open_payments"] != float64(2) {
		t.Fatalf("forced removal's event: %s", evs[0].Detail)
	}
}

func testShopRotateKey(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_rot")
	if _, err := db.DisableShop(ctx, s.ID, cli); err != nil {
		t.Fatal(err)
	}
	if err := db.RotateShopKey(ctx, s.ID, "hash-new", "whsec_new", cli); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ShopByAPIKeyHash(ctx, s.APIKeyHash); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("the old key still works: %v", err)
	}
	got, err := db.ShopByAPIKeyHash(ctx, "hash-new")
	if err != nil || got.WebhookSecret != "whsec_new" || got.Status != checkout.ShopDisabled || got.Gateway.Credentials["api_key"] != "gw-secret-shop_rot" {
		t.Fatalf("after rotation: %+v, %v", got, err)
	}
	var raw string
	if err := db.r.QueryRowContext(ctx, `SELECT webhook_secret FROM shops WHERE id = $1`, s.ID).Scan(&raw); err != nil || raw == "whsec_new" || raw == "" {
		t.Fatalf("webhook secret at rest: %q, %v", raw, err)
	}
	evs, _ := db.ShopEvents(ctx, s.ID)
	if len(evs) != 2 || evs[1].Kind != ShopEventKeyRotated {
		t.Fatalf("events %+v", evs)
	}
	for _, e := range evs {
		if b, _ := json.Marshal(e); strings.Contains(string(b), "whsec_new") || strings.Contains(string(b), "hash-new") {
			t.Fatalf("an event holds the new credentials: %s", b)
		}
	}
	other := apiShop(t, db, "shop_rot2")
	if err := db.RotateShopKey(ctx, other.ID, "hash-new", "whsec_x", cli); !errors.Is(err, checkout.ErrDuplicate) {
		t.Fatalf("a taken key hash: %v", err)
	}
}

func testShopStatusBadInput(t *testing.T, db *DB) {
	ctx := ctxT(t)
	s := apiShop(t, db, "shop_bad")
	for name, err := range map[string]error{
		"disable unknown": second(db.DisableShop(ctx, "shop_nope", cli)),
		"enable unknown":  second(db.EnableShop(ctx, "shop_nope", cli)),
		"remove unknown":  second(db.RemoveShop(ctx, "shop_nope", false, cli)),
		"rotate unknown":  db.RotateShopKey(ctx, "shop_nope", "h", "w", cli),
	} {
		if !errors.Is(err, checkout.ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, err := range map[string]error{
		"disable without source": second(db.DisableShop(ctx, s.ID, ShopActor{})),
		"remove without source":  second(db.RemoveShop(ctx, s.ID, false, ShopActor{Source: " "})),
		"rotate without hash":    db.RotateShopKey(ctx, s.ID, "", "w", cli),
	} {
		if err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if got := shopStatus(t, db, s.ID); got != checkout.ShopConnected {
		t.Fatalf("status %s", got)
	}
}

func second[T any](_ T, err error) error { return err }

// TestShopStatusMigration: shops stored before the status column get the
// status their settings say (a WooCommerce connection not finished is
// connecting), on both dialects.
func TestShopStatusMigration(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{{"sqlite", sqliteDSN}, {"postgres", func(t *testing.T) string { return testenv.PostgresURL(t) }}} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			db, err := Open(ctx, be.dsn(t), testKeyring(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
			if db.Dialect() == DialectPostgres {
				dialect, dir = goose.DialectPostgres, "migrations/postgres"
			}
			sub, _ := fs.Sub(migrationsFS, dir)
			p, err := goose.NewProvider(dialect, db.w, sub, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 7); err != nil {
				t.Fatal(err)
			}
			for id, settings := range map[string]map[string]string{
				"shop_pending": {"status": "pending", "store_url": "https://a.example"}, "shop_conn": {"status": "connecting"},
				"shop_done": {"status": "connected", "webhook_id": "7"}, "shop_plain": nil, "shop_other": {"webhook_status": "x"},
			} {
				r, err := db.encodeShop(&checkout.Shop{ID: id, Platform: checkout.PlatformWooCommerce, Settings: settings})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.w.ExecContext(ctx, `INSERT INTO shops (id, name, platform, gateway_credentials, webhook_secret, secrets,
					settings, created_at, updated_at) VALUES ($1, '', 'woocommerce', $2, $3, $4, $5, 1, 1)`,
					id, r.credentials, r.webhookSecret, r.secrets, r.settings); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]checkout.ShopStatus{"shop_pending": checkout.ShopConnecting, "shop_conn": checkout.ShopConnecting,
				"shop_done": checkout.ShopConnected, "shop_plain": checkout.ShopConnected, "shop_other": checkout.ShopConnected} {
				if got := shopStatus(t, db, id); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}
		})
	}
}
