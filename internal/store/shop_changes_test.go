package store

import (
	"errors"
	"strings"
	"testing"

	"paybridge/internal/checkout"
)

// TestShopChanges: new gateway credentials are sealed, leave the rest of
// the shop alone and are recorded by field name only; a free event is
// appended to the shop's trail; on every backend.
func TestShopChanges(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ctx := ctxT(t)
			s := apiShop(t, db, "shop_c")
			by := ShopActor{Source: "console:ops@example.com", Reason: "new key from the gateway"}
			creds := map[string]string{"api_key": "gw-new-secret", "api_secret": "sig-secret"}
			changed, err := db.SetShopCredentials(ctx, s.ID, creds, by)
			if err != nil || !changed {
				t.Fatalf("set: %v %v", changed, err)
			}
			got, err := db.Shop(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Gateway.Credentials["api_key"] != "gw-new-secret" || got.Gateway.Credentials["api_secret"] != "sig-secret" ||
				got.APIKeyHash != s.APIKeyHash || got.WebhookSecret != s.WebhookSecret || got.Secrets["token"] != s.Secrets["token"] ||
				got.Status != checkout.ShopConnected {
				t.Fatalf("after set: %+v", got)
			}
			var raw string
			if err := db.r.QueryRowContext(ctx, `SELECT gateway_credentials FROM shops WHERE id = $1`, s.ID).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(raw, "gw-new-secret") {
				t.Fatal("credentials stored in the clear")
			}
			// The same again changes nothing and records nothing.
			if changed, err := db.SetShopCredentials(ctx, s.ID, creds, by); err != nil || changed {
				t.Fatalf("same again: %v %v", changed, err)
			}
			if err := db.RecordShopEvent(ctx, ShopEvent{ShopID: s.ID, Kind: ShopEventConnectionChecked, From: got.Status, To: got.Status,
				Source: by.Source, Detail: []byte(`{"gateway":{"outcome":"ok"}}`)}); err != nil {
				t.Fatal(err)
			}
			evs, err := db.ShopEvents(ctx, s.ID)
			if err != nil || len(evs) != 2 {
				t.Fatalf("events: %v %v", evs, err)
			}
			if e := evs[0]; e.Kind != ShopEventCredentialsChanged || e.Source != by.Source ||
				string(e.Detail) != `{"fields":["api_key","api_secret"],"reason":"new key from the gateway"}` {
				t.Errorf("credentials event: %+v %s", e, e.Detail)
			}
			if e := evs[1]; e.Kind != ShopEventConnectionChecked || string(e.Detail) != `{"gateway":{"outcome":"ok"}}` {
				t.Errorf("check event: %+v %s", e, e.Detail)
			}
			// Refusals.
			if _, err := db.SetShopCredentials(ctx, "shop_none", creds, by); !errors.Is(err, checkout.ErrNotFound) {
				t.Errorf("unknown shop: %v", err)
			}
			if _, err := db.SetShopCredentials(ctx, s.ID, creds, ShopActor{}); err == nil {
				t.Error("no source accepted")
			}
			if err := db.RecordShopEvent(ctx, ShopEvent{ShopID: s.ID, Kind: "x"}); err == nil {
				t.Error("an event without a source accepted")
			}
			// A removed shop keeps its record, not its credentials.
			p := mustPayment(t, db, s.ID, "pay_c1", "o1")
			p.Status = checkout.StatusPaid
			mustApply(t, db, checkout.Change{Payment: p, Events: []checkout.Event{{Kind: checkout.EventTransition, From: "created", To: "paid"}}})
			if _, err := db.RemoveShop(ctx, s.ID, false, by); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SetShopCredentials(ctx, s.ID, creds, by); !errors.Is(err, ErrShopRemoved) {
				t.Errorf("removed shop: %v", err)
			}
		})
	}
}
