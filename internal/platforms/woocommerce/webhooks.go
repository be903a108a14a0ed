package woocommerce

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

var pingBody = regexp.MustCompile(`^webhook_id=[0-9]+$`)

// webhook receives WooCommerce deliveries. The ping WooCommerce sends when
// a webhook is created is unsigned (`webhook_id=N`, no X-WC headers) and
// must get exactly 200. Deliveries are verified on the raw body, deduped on
// the body's hash (X-WC-Webhook-Delivery-ID is not unique) and only used as
// hints: an order cancelled or refunded in the store triggers a check with
// the gateway and is recorded on the payment.
func (p *Platform) webhook(c *gin.Context) {
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	sig := c.GetHeader("X-WC-Webhook-Signature")
	if sig == "" && pingBody.Match(bytes.TrimSpace(body)) {
		c.Status(http.StatusOK)
		return
	}
	ctx := c.Request.Context()
	shopID := c.Param("shop")
	if !checkout.ValidID("shop", shopID) {
		server.WriteError(c, server.Error(http.StatusNotFound, "not_found", "unknown shop"))
		return
	}
	shop, err := p.store.Shop(ctx, shopID)
	if err != nil || shop.Platform != checkout.PlatformWooCommerce {
		if err != nil && !errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, err)
			return
		}
		server.WriteError(c, server.Error(http.StatusNotFound, "not_found", "unknown shop"))
		return
	}
	if shop.WebhookSecret == "" || !VerifyWebhook(shop.WebhookSecret, body, sig) {
		server.WriteError(c, server.Error(http.StatusUnauthorized, "bad_signature", "X-WC-Webhook-Signature did not verify"))
		return
	}
	topic := c.GetHeader("X-WC-Webhook-Topic")
	if topic != "order.updated" && topic != "order.created" {
		c.Status(http.StatusOK) // not ours to act on
		return
	}
	sum := sha256.Sum256(body)
	first, err := p.store.RecordReceipt(ctx, "woocommerce:"+shop.ID, hex.EncodeToString(sum[:]))
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if !first {
		c.Status(http.StatusOK)
		return
	}
	var o Order
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil || o.ID == 0 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "bad_payload", "the body is not a WooCommerce order"))
		return
	}
	p.orderChanged(ctx, shop, &o)
	c.Status(http.StatusOK)
}

// orderChanged notes what the store did to an order we hold a payment
// for. A cancellation while our payment is open triggers a gateway check
// (so a payment made at the last second is found at once); refunds made in
// the store are recorded on the payment. Errors are logged, not answered:
// WooCommerce never retries, and the reconciler covers what this misses.
func (p *Platform) orderChanged(ctx context.Context, shop *checkout.Shop, o *Order) {
	id := strconv.FormatInt(o.ID, 10)
	pays, err := p.attempts(ctx, shop.ID, id)
	if err != nil {
		p.log.WarnContext(ctx, "woocommerce webhook: list payments", "shop", shop.ID, "order", id, "err", err)
		return
	}
	if len(pays) == 0 {
		return
	}
	last := pays[len(pays)-1]
	meta := map[string]string{"wc_status": o.Status}
	if len(o.Refunds) > 0 {
		var sum int64
		for _, r := range o.Refunds {
			amt := r.Total
			if len(amt) > 0 && amt[0] == '-' {
				amt = amt[1:]
			}
			if m, err := ParseTotal(amt, last.Amount.Currency); err == nil {
				sum += m.Minor
			}
		}
		exp, _ := checkout.Exponent(last.Amount.Currency)
		meta["wc_refunded"] = checkout.FormatMinor(sum, exp)
	}
	if _, err := p.svc.Annotate(ctx, last.ID, meta, "store"); err != nil {
		p.log.WarnContext(ctx, "woocommerce webhook: annotate", "payment", last.ID, "err", err)
	}
	if (o.Status == "cancelled" || o.Status == "failed") && !last.Status.Final() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := p.svc.Confirm(cctx, last.ID, "store"); err != nil {
			p.log.InfoContext(ctx, "woocommerce webhook: confirm after store cancel", "payment", last.ID, "err", err)
		}
	}
}
