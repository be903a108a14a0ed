package woocommerce

import (
	"context"
	"sync"
	"testing"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/platforms/woocommerce/woocommercetest"
)

// TestEnsureWebhookOne: however many callers register the shop's webhook
// at once, and whatever duplicates the store already holds, one webhook
// is left, the oldest, active.
func TestEnsureWebhookOne(t *testing.T) {
	wc := woocommercetest.NewServer()
	t.Cleanup(wc.Close)
	ck, cs := wc.NewKeys()
	cl := NewClient(wc.Base(), ck, cs, 10*time.Second)
	shop := &checkout.Shop{ID: checkout.NewID("shop"), WebhookSecret: NewSecret(48)}
	const public = "http://127.0.0.1:1"
	ctx := context.Background()

	var wg sync.WaitGroup
	ids := make([]int64, 4)
	for i := range ids {
		wg.Go(func() {
			w, err := ensureWebhook(ctx, cl, public, shop)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = w.ID
		})
	}
	wg.Wait()
	st := wc.WebhookStatuses()
	if len(st) != 1 {
		t.Fatalf("webhooks on the store after concurrent registrations: %v", st)
	}
	for id := range st {
		for _, got := range ids {
			if got != id {
				t.Fatalf("callers were given webhooks %v, the store kept %d", ids, id)
			}
		}
	}

	// Duplicates made outside (an old bridge, a person): the oldest stays.
	for range 2 {
		if _, err := cl.CreateWebhook(ctx, WebhookName, WebhookTopic, webhookURL(public, shop.ID), shop.WebhookSecret); err != nil {
			t.Fatal(err)
		}
	}
	w, err := ensureWebhook(ctx, cl, public, shop)
	if err != nil || w.ID != ids[0] || len(wc.WebhookStatuses()) != 1 {
		t.Fatalf("after duplicates: kept %v (%v), store %v", w, err, wc.WebhookStatuses())
	}
}
