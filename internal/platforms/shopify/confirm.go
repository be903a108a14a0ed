package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

// The confirmation flow (Payments Apps API, ConfirmStatesSince and later;
// Config.ConfirmSessions). A payments extension with
// supports_oversell_protection asks Shopify, before the shopper pays,
// whether the checkout can still be fulfilled:
//
//  1. The shopper reaches the pay URL. Admit calls paymentSessionConfirm
//     (the session becomes CONFIRMING) and holds the shopper.
//  2. Shopify checks the checkout and POSTs the result to the extension's
//     confirmation_callback_url (routes.ShopifyConfirmSessions):
//     confirmationResult records it on the payment.
//  3. Accepted: the shopper goes on to the gateway's page; the session is
//     resolved or rejected later like any other. Refused: the payment is
//     withdrawn (checkout.Service.Withdraw: the gateway is still asked, so
//     nothing it took is lost) and its sync rejects the session with
//     CONFIRMATION_REJECTED; the shopper follows the rejection's redirect
//     back to Shopify's checkout.
//
// Nothing is marked paid on the confirmation's word: it only decides
// whether the shopper is let through to pay.
//
// The confirmation request's body is not in Shopify's published schemas
// (it is a POST to the app, not GraphQL). Its shape here — the session's
// "id" and "gid" and a boolean "confirmation_result" — follows Shopify's
// request reference ("Confirm a payment (3-D Secure and Inventory
// confirmation)") as quoted by a payments app sample built against it;
// UNCONFIRMED beyond that, so the handler refuses anything else rather
// than guess.

// MetaConfirmation is where a session's confirmation stands:
// "asked", "accepted", "rejected", or "unsupported" (Shopify answered
// CONFIRMATION_NOT_SUPPORTED: the shop's extension does not confirm, and
// the shopper goes on as without confirmation).
const MetaConfirmation = "shopify_confirmation"

// MetaConfirmFirstAsked and MetaConfirmAskedAt are when the bridge first
// and last asked Shopify to confirm the session (RFC 3339).
const (
	MetaConfirmFirstAsked = "shopify_confirm_first_asked"
	MetaConfirmAskedAt    = "shopify_confirm_asked_at"
)

// Confirmation states (MetaConfirmation).
const (
	confirmAsked       = "asked"
	confirmAccepted    = "accepted"
	confirmRejected    = "rejected"
	confirmUnsupported = "unsupported"
)

// Why a payment is withdrawn (the session's merchant message).
const (
	msgConfirmRejected = "Shopify did not confirm the checkout (an item may be out of stock), so the shopper was not sent to pay"
	msgConfirmTimeout  = "Shopify did not answer the confirmation request in time, so the shopper was not sent to pay"
)

// EventConfirmationAsked records a paymentSessionConfirm the bridge sent.
const EventConfirmationAsked = "shopify_confirmation_asked"

const confirmMutation = `mutation PaymentSessionConfirm($id: ID!) {
  paymentSessionConfirm(id: $id) {
    paymentSession { id state { __typename ... on PaymentSessionStateConfirming { code } } }
    userErrors { field message code }
  }
}`

// confirms reports whether a payment's session is to be confirmed.
func (p *Platform) confirms(pay *checkout.Payment) bool {
	if !p.cfg.ConfirmSessions || pay.Metadata[MetaMode] != ModePaymentsApp {
		return false
	}
	v := pay.Metadata[MetaAPIVersion]
	if v == "" {
		v = p.cfg.APIVersion
	}
	return v >= ConfirmStatesSince
}

// Admit implements shopper.Gate: whether the shopper at the pay URL may go
// on to the gateway's page. Payments that are not confirmed go on at once.
// Otherwise it asks Shopify to confirm (once, and again every
// Config.ConfirmRetry while no answer comes), waits up to
// Config.ConfirmWait for the answer, and withdraws the payment when Shopify
// refused or has not answered within Config.ConfirmTimeout. false keeps
// the shopper on the "checking your order" page, which comes back here.
func (p *Platform) Admit(ctx context.Context, pay *checkout.Payment) (bool, error) {
	if !p.confirms(pay) || pay.Status.Final() {
		return true, nil
	}
	switch pay.Metadata[MetaConfirmation] {
	case confirmAccepted, confirmUnsupported:
		return true, nil
	case confirmRejected:
		_, err := p.svc.Withdraw(ctx, pay.ID, msgConfirmRejected, nil, "shopify")
		return false, err
	}
	now := p.now().UTC()
	first, _ := time.Parse(time.RFC3339Nano, pay.Metadata[MetaConfirmFirstAsked])
	last, _ := time.Parse(time.RFC3339Nano, pay.Metadata[MetaConfirmAskedAt])
	if !first.IsZero() && now.Sub(first) >= p.cfg.ConfirmTimeout {
		_, err := p.svc.Withdraw(ctx, pay.ID, msgConfirmTimeout, nil, "shopify")
		return false, err
	}
	if last.IsZero() || now.Sub(last) >= p.cfg.ConfirmRetry {
		through, err := p.askConfirmation(ctx, pay, first.IsZero(), now)
		if err != nil || through {
			return through, err
		}
	}
	return p.awaitConfirmation(ctx, pay.ID)
}

// askConfirmation sends paymentSessionConfirm and records it. It returns
// true when the shopper may go on without a confirmation (Shopify does not
// confirm this shop's sessions).
func (p *Platform) askConfirmation(ctx context.Context, pay *checkout.Payment, firstTime bool, now time.Time) (bool, error) {
	meta := map[string]string{MetaConfirmation: confirmAsked, MetaConfirmAskedAt: now.Format(time.RFC3339Nano)}
	if firstTime {
		meta[MetaConfirmFirstAsked] = meta[MetaConfirmAskedAt]
	}
	// Recorded before asking, so two tabs of the same checkout ask once
	// per ConfirmRetry, and the timeout counts from the first ask even
	// if Shopify cannot be reached.
	if _, err := p.svc.Annotate(ctx, pay.ID, meta, "shopify"); err != nil {
		return false, err
	}
	shop, err := p.db.Shop(ctx, pay.ShopID)
	if err != nil {
		return false, err
	}
	gid := pay.Metadata[MetaGID]
	var data map[string]sessionPayload
	err = p.graphqlAt(ctx, shop, apiPayments, pay.Metadata[MetaAPIVersion], confirmMutation, map[string]any{"id": gid}, &data)
	if err != nil {
		// Shopify unreachable: the shopper waits and the next page load
		// asks again after ConfirmRetry.
		p.log.WarnContext(ctx, "shopify: paymentSessionConfirm failed; asking again later", "payment", pay.ID, "err", err)
		return false, nil
	}
	ue := data["paymentSessionConfirm"].UserErrors
	code := ""
	if len(ue) > 0 {
		code = ue[0].Code
	}
	if err := p.svc.RecordEvents(ctx, checkout.Event{PaymentID: pay.ID, Kind: EventConfirmationAsked, Source: "shopify",
		Detail: jsonDetail(map[string]any{"gid": gid, "user_error": code, "state": data["paymentSessionConfirm"].state()})}); err != nil {
		return false, err
	}
	switch code {
	case "":
		return false, nil
	case "CONFIRMATION_NOT_SUPPORTED":
		// The extension does not confirm (supports_oversell_protection is
		// off): the bridge's setting is wrong, not the checkout.
		p.log.WarnContext(ctx, "shopify: Shopify does not confirm this shop's sessions; set supports_oversell_protection on the payments extension or turn SHOPIFY_CONFIRM_SESSIONS off",
			"payment", pay.ID, "shop", pay.Metadata[MetaShop])
		_, err := p.svc.Annotate(ctx, pay.ID, map[string]string{MetaConfirmation: confirmUnsupported}, "shopify")
		return err == nil, err
	case "INVALID_STATE_TRANSITION":
		// Shopify is confirming already (an earlier ask went through):
		// its answer is on the way.
		return false, nil
	default:
		return false, checkout.Permanent("paymentSessionConfirm refused by Shopify", ue)
	}
}

// awaitConfirmation polls the payment for Shopify's answer, for up to
// Config.ConfirmWait: the callback may reach another replica, so the
// database, not memory, carries it.
func (p *Platform) awaitConfirmation(ctx context.Context, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ConfirmWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pay, err := p.svc.Payment(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		switch pay.Metadata[MetaConfirmation] {
		case confirmAccepted, confirmUnsupported:
			return true, nil
		case confirmRejected:
			_, err := p.svc.Withdraw(context.WithoutCancel(ctx), id, msgConfirmRejected, nil, "shopify")
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-tick.C:
		}
	}
}

// ConfirmationRequest is the body of Shopify's confirmation result (see
// the flow above: UNCONFIRMED beyond id, gid and confirmation_result).
type ConfirmationRequest struct {
	ID                 string `json:"id"`
	GID                string `json:"gid"`
	ConfirmationResult *bool  `json:"confirmation_result"`
}

// EventConfirmationResult records Shopify's confirmation result.
const EventConfirmationResult = "shopify_confirmation_result"

// confirmationResult receives Shopify's confirmation result for a payment
// session: 201 once recorded (again for a repeat), 400 for a body that is
// not one, 404 for a session the shop never sent, 409 for a result that
// contradicts the one recorded.
func (p *Platform) confirmationResult(c *gin.Context) {
	r, ok := p.sessionShop(c, "confirm")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var in ConfirmationRequest
	if err := decodeJSON(r.body, &in); err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusBadRequest, "invalid_json", "the confirmation is not valid JSON"))
		return
	}
	const prefix = "gid://shopify/PaymentSession/"
	switch {
	case in.GID == "" && in.ID == "":
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_field", "gid (or id) is required"))
		return
	case in.GID == "":
		in.GID = prefix + in.ID
	case in.ID == "":
		in.ID = strings.TrimPrefix(in.GID, prefix)
	}
	if !strings.HasPrefix(in.GID, prefix) || in.GID != prefix+in.ID || len(in.ID) > 100 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_field", "gid must be the payment session's gid, and id its id"))
		return
	}
	if in.ConfirmationResult == nil {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_field", "confirmation_result (true or false) is required"))
		return
	}
	pay, err := p.db.PaymentByOrder(ctx, r.shop.ID, in.ID)
	if errors.Is(err, checkout.ErrNotFound) || (err == nil && (pay.Metadata[MetaGID] != in.GID || pay.Metadata[MetaMode] != ModePaymentsApp)) {
		server.WriteError(c, server.Error(http.StatusNotFound, "unknown_session", "no payment session "+in.GID+" for this shop"))
		return
	}
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if err := p.recordRequest(ctx, r, pay, "confirm", in.ID); err != nil {
		server.WriteError(c, err)
		return
	}
	result := confirmRejected
	if *in.ConfirmationResult {
		result = confirmAccepted
	}
	switch had := pay.Metadata[MetaConfirmation]; {
	case had == result:
	case had == confirmAccepted || had == confirmRejected:
		r.log.WarnContext(ctx, "shopify: confirmation result contradicts the one recorded; keeping the first", "payment", pay.ID, "had", had, "got", result)
		server.WriteError(c, server.Error(http.StatusConflict, "confirmation_conflict", "this session's confirmation result was "+had))
		return
	default:
		if err := p.svc.RecordEvents(ctx, checkout.Event{PaymentID: pay.ID, Kind: EventConfirmationResult, Source: "shopify",
			Detail: jsonDetail(map[string]any{"gid": in.GID, "confirmation_result": *in.ConfirmationResult, "shopify_request_id": r.requestID})}); err != nil {
			server.WriteError(c, err)
			return
		}
		if pay, err = p.svc.Annotate(ctx, pay.ID, map[string]string{MetaConfirmation: result}, "shopify"); err != nil {
			server.WriteError(c, err)
			return
		}
	}
	r.log.InfoContext(ctx, "shopify: confirmation result", "payment", pay.ID, "result", result)
	if result == confirmRejected && !pay.Status.Final() {
		// Withdrawn at once, so the session is rejected even when the
		// shopper has closed the tab; bounded, and if the gateway cannot
		// be asked now, the shopper's next page load or the reconciler
		// (the lifetime has ended) finishes it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Timeout)
		defer cancel()
		if _, err := p.svc.Withdraw(wctx, pay.ID, msgConfirmRejected, nil, "shopify"); err != nil {
			r.log.WarnContext(ctx, "shopify: withdraw after a refused confirmation; the reconciler finishes it", "payment", pay.ID, "err", err)
		}
	}
	c.JSON(http.StatusCreated, gin.H{})
}

// jsonDetail is an event detail from a map.
func jsonDetail(m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		return []byte(fmt.Sprintf(`{"marshal_error":%q}`, err.Error()))
	}
	return b
}
