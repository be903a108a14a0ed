package woocommerce

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

// refundIn is the plugin's refund request body.
type refundIn struct {
	OrderID string `json:"order_id"`
	// Amount is a decimal string as WooCommerce formats it.
	Amount string `json:"amount"`
	Reason string `json:"reason"`
	// RefundID is WooCommerce's refund id, the idempotency reference.
	RefundID string `json:"refund_id"`
}

// RefundOut is the answer to the plugin.
type RefundOut struct {
	// Status is "succeeded", "failed" or "pending" (the gateway has not
	// answered within RefundWait; the outcome lands as an order note).
	Status   string `json:"status"`
	RefundID string `json:"refund_id"`
	Message  string `json:"message,omitempty"`
}

// refundMaxSkew bounds the age of a signed plugin request (refund, payment link).
const refundMaxSkew = 5 * time.Minute

// refund is the plugin's process_refund: signed with the shared secret
// over the raw body and a timestamp, it refunds the order's paid payment
// at the gateway and waits briefly for the answer.
func (p *Platform) refund(c *gin.Context) {
	ctx := c.Request.Context()
	shop, body, ok := p.signedRequest(c, RefundSignature, "refund")
	if !ok {
		return
	}
	var in refundIn
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.OrderID == "" || in.Amount == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "bad_request", "want {order_id, amount, reason, refund_id}"))
		return
	}
	pays, err := p.attempts(ctx, shop.ID, in.OrderID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	var paid *checkout.Payment
	for _, pay := range pays {
		if pay.Status == checkout.StatusPaid {
			paid = pay
		}
	}
	if paid == nil {
		server.WriteError(c, server.Error(http.StatusConflict, "payment_not_paid", "no paid payment for this order at the bridge"))
		return
	}
	amount, err := ParseTotal(strings.TrimPrefix(in.Amount, "+"), paid.Amount.Currency)
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_amount", err.Error()))
		return
	}
	ref := ""
	if in.RefundID != "" {
		ref = "wc-refund-" + in.RefundID
	}
	r, _, err := p.svc.CreateRefund(ctx, paid.ID, checkout.RefundRequest{Amount: amount, Reason: in.Reason,
		Source: checkout.PlatformWooCommerce, Reference: ref})
	if err != nil {
		var ve *checkout.ValidationError
		var ue *checkout.UnsupportedError
		switch {
		case errors.As(err, &ue):
			// Refused before any gateway call: the plugin shows Reason
			// ("KuPay does not support refunds") to the merchant.
			server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "unsupported_by_gateway", ue.Reason))
		case errors.Is(err, checkout.ErrRefundExceeds):
			server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "refund_exceeds_captured",
				"the refund is more than what is left to refund on this payment"))
		case errors.Is(err, checkout.ErrIdempotencyConflict):
			server.WriteError(c, server.Wrap(err, http.StatusConflict, "refund_conflict", "this refund id was used for another amount"))
		case errors.As(err, &ve):
			server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_field", ve.Error()))
		default:
			server.WriteError(c, err)
		}
		return
	}
	// Wait a little for the worker to hear from the gateway, so that the
	// plugin can tell the merchant at once.
	deadline := time.Now().Add(p.cfg.RefundWait)
	for !r.Status.Final() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(200 * time.Millisecond):
		}
		if got, err := p.svc.Refund(ctx, r.ID); err == nil {
			r = got
		}
	}
	out := RefundOut{Status: string(r.Status), RefundID: r.ID}
	switch r.Status {
	case checkout.RefundFailed:
		out.Message = "the gateway refused the refund"
		c.JSON(http.StatusUnprocessableEntity, out)
	case checkout.RefundPending:
		out.Message = "the refund was sent to the gateway; its outcome will be added to the order notes"
		c.JSON(http.StatusAccepted, out)
	default:
		c.JSON(http.StatusOK, out)
	}
}

// signedRequest reads a plugin request signed with sign over the shop id,
// the X-Paybridge-Timestamp (within refundMaxSkew) and the raw body, and
// returns the shop and the body; on failure it has answered (404 for an
// unknown shop, 401 for a bad signature or timestamp).
func (p *Platform) signedRequest(c *gin.Context, sign func(secret, shopID string, ts int64, body []byte) string, what string) (*checkout.Shop, []byte, bool) {
	ctx := c.Request.Context()
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return nil, nil, false
	}
	shopID := c.Param("shop")
	if !checkout.ValidID("shop", shopID) {
		server.WriteError(c, server.Error(http.StatusNotFound, "not_found", "unknown shop"))
		return nil, nil, false
	}
	shop, err := p.store.Shop(ctx, shopID)
	if err != nil || shop.Platform != checkout.PlatformWooCommerce || shop.Secrets[SecretPlugin] == "" {
		if err != nil && !errors.Is(err, checkout.ErrNotFound) {
			server.WriteError(c, err)
			return nil, nil, false
		}
		server.WriteError(c, server.Error(http.StatusNotFound, "not_found", "unknown shop"))
		return nil, nil, false
	}
	ts, err := strconv.ParseInt(c.GetHeader("X-Paybridge-Timestamp"), 10, 64)
	now := p.cfg.Now()
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > refundMaxSkew ||
		!verifyHex(sign(shop.Secrets[SecretPlugin], shop.ID, ts, body), c.GetHeader("X-Paybridge-Signature")) {
		server.WriteError(c, server.Error(http.StatusUnauthorized, "bad_signature",
			"the "+what+" request's signature or timestamp did not verify (check the shared secret and the server clock)"))
		return nil, nil, false
	}
	return shop, body, true
}
