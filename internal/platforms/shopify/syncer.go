package shopify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

var _ checkout.Syncer = (*Platform)(nil)

// ConfirmStatesSince is the oldest Payments Apps API version known to have
// the CONFIRMING and BUYER_ACTION_REQUIRED session states (and
// paymentSessionConfirm): the oldest of Shopify's schemas shipped in
// @shopify/dev-mcp has them; older versions are not assumed to.
const ConfirmStatesSince = "2025-10"

// sessionSelection is what a session mutation reads back, for the API
// version: the state (with the confirmation states where the version has
// them) and the next action.
func sessionSelection(version string) string {
	states := `... on PaymentSessionStateResolved { code } ... on PaymentSessionStateRejected { code rejectedReason: reason } ... on PaymentSessionStatePending { code pendingReason: reason } ... on PaymentSessionStateRedirecting { code }`
	if version >= ConfirmStatesSince {
		states += ` ... on PaymentSessionStateConfirming { code } ... on PaymentSessionStateBuyerActionRequired { code }`
	}
	return `paymentSession { id state { __typename ` + states + ` } nextAction { action context { ... on PaymentSessionActionsRedirect { redirectUrl } } } }
    userErrors { field message }`
}

func resolveMutation(version string) string {
	return `mutation PaymentSessionResolve($id: ID!) {
  paymentSessionResolve(id: $id) {
    ` + sessionSelection(version) + `
  }
}`
}

func rejectMutation(version string) string {
	return `mutation PaymentSessionReject($id: ID!, $reason: PaymentSessionRejectionReasonInput!) {
  paymentSessionReject(id: $id, reason: $reason) {
    ` + sessionSelection(version) + `
  }
}`
}

const pendingMutation = `mutation PaymentSessionPending($id: ID!, $pendingExpiresAt: DateTime!, $reason: PaymentSessionStatePendingReason!) {
  paymentSessionPending(id: $id, pendingExpiresAt: $pendingExpiresAt, reason: $reason) {
    paymentSession { id nextAction { action context { ... on PaymentSessionActionsRedirect { redirectUrl } } } }
    userErrors { field message code }
  }
}`

const refundResolveMutation = `mutation RefundSessionResolve($id: ID!) {
  refundSessionResolve(id: $id) { refundSession { id } userErrors { field message } }
}`

const configureMutation = `mutation PaymentsAppConfigure($ready: Boolean!, $externalHandle: String) {
  paymentsAppConfigure(ready: $ready, externalHandle: $externalHandle) {
    paymentsAppConfiguration { externalHandle ready }
    userErrors { field message }
  }
}`

// rejectMutations are the session rejections with a reason input, by name.
var rejectMutations = map[string]string{
	"refundSessionReject": `mutation RefundSessionReject($id: ID!, $reason: RefundSessionRejectionReasonInput!) {
  refundSessionReject(id: $id, reason: $reason) { refundSession { id } userErrors { field message } }
}`,
	"captureSessionReject": `mutation CaptureSessionReject($id: ID!, $reason: CaptureSessionRejectionReasonInput!) {
  captureSessionReject(id: $id, reason: $reason) { captureSession { id } userErrors { field message } }
}`,
	"voidSessionReject": `mutation VoidSessionReject($id: ID!, $reason: VoidSessionRejectionReasonInput!) {
  voidSessionReject(id: $id, reason: $reason) { voidSession { id } userErrors { field message } }
}`,
}

type sessionPayload struct {
	PaymentSession *struct {
		ID    string `json:"id"`
		State struct {
			Typename string `json:"__typename"`
		} `json:"state"`
		NextAction *struct {
			Context struct {
				RedirectURL string `json:"redirectUrl"`
			} `json:"context"`
		} `json:"nextAction"`
	} `json:"paymentSession"`
	UserErrors UserErrors `json:"userErrors"`
}

// Session states as MetaSessionState holds them, from Shopify's
// PaymentSessionStates union.
var sessionStates = map[string]string{
	"PaymentSessionStateResolved": "resolved", "PaymentSessionStateRejected": "rejected",
	"PaymentSessionStatePending": "pending", "PaymentSessionStateRedirecting": "redirecting",
	"PaymentSessionStateConfirming": "confirming", "PaymentSessionStateBuyerActionRequired": "buyer_action_required",
}

// state is the session's state as Shopify answered it ("" if unsaid).
func (s sessionPayload) state() string {
	if s.PaymentSession == nil {
		return ""
	}
	return sessionStates[s.PaymentSession.State.Typename]
}

func (s sessionPayload) redirectURL() string {
	if s.PaymentSession == nil || s.PaymentSession.NextAction == nil {
		return ""
	}
	return s.PaymentSession.NextAction.Context.RedirectURL
}

// userErrorsErr classes a mutation's userErrors: Shopify's "has not
// received the response to start_payment_session" is a race we wait out;
// anything else cannot change by retrying.
func userErrorsErr(what string, ue UserErrors) error {
	if len(ue) == 0 {
		return nil
	}
	if strings.Contains(strings.ToLower(ue.Error()), "has not been received") {
		return fmt.Errorf("%s: %w", what, ue)
	}
	return checkout.Permanent(what+" refused by Shopify", ue)
}

// rejectCode is the PaymentSessionStateRejectedReason for a final payment
// that did not succeed: CONFIRMATION_REJECTED for one withdrawn because
// Shopify refused to confirm the checkout, else PROCESSING_ERROR (valid in
// every API version): the gateways do not say why a payment failed in a
// way that maps to the card-specific codes.
func rejectCode(pay *checkout.Payment) string {
	if pay.Metadata[MetaConfirmation] == confirmRejected {
		return "CONFIRMATION_REJECTED"
	}
	return "PROCESSING_ERROR"
}

// SyncPayment tells Shopify a payment's final state. Payments app:
// paid → paymentSessionResolve, failed or expired → paymentSessionReject
// (PROCESSING_ERROR; for a session declined before any gateway call, its
// Metadata[checkout.MetaDeclineReason] as the merchant message),
// canceled → nothing (the shopper went back to the checkout, which can be
// paid again with a new session; Shopify closes the abandoned one itself).
// The redirect URL Shopify answers is stored on the payment for the
// shopper. Order webhook: paid → a manual payment on the order, once.
func (p *Platform) SyncPayment(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment) error {
	switch pay.Metadata[MetaMode] {
	case ModeOrderWebhook:
		return p.syncOrder(ctx, shop, pay)
	case ModeSessionReject:
		return p.syncRejection(ctx, shop, pay)
	case ModeTestPayment:
		return nil // the settings page's test payment: no session or order to tell
	}
	gid := pay.Metadata[MetaGID]
	if gid == "" {
		return checkout.Permanent("payment has no Shopify session gid", fmt.Errorf("payment %s", pay.ID))
	}
	version := pay.Metadata[MetaAPIVersion]
	if version == "" {
		version = p.cfg.APIVersion
	}
	var (
		data  map[string]sessionPayload
		query string
		vars  = map[string]any{"id": gid}
		field string
		state string
	)
	switch pay.Status {
	case checkout.StatusPaid:
		query, field, state = resolveMutation(version), "paymentSessionResolve", "resolved"
	case checkout.StatusFailed, checkout.StatusExpired:
		query, field, state = rejectMutation(version), "paymentSessionReject", "rejected"
		name := p.gatewayName(pay.Gateway)
		msg := name + " did not capture the payment"
		switch reason := pay.Metadata[checkout.MetaDeclineReason]; {
		case reason != "":
			// Declined before any gateway call (the gateway's reason), or
			// withdrawn unpaid (Shopify did not confirm the checkout).
			msg = reason
		case pay.Status == checkout.StatusExpired:
			msg = "the " + name + " payment page expired without a result"
		}
		vars["reason"] = map[string]any{"code": rejectCode(pay), "merchantMessage": msg}
	default:
		return nil // canceled: never rejected
	}
	if err := p.graphqlAt(ctx, shop, apiPayments, version, query, vars, &data); err != nil {
		return err
	}
	pl := data[field]
	if err := userErrorsErr(field, pl.UserErrors); err != nil {
		return err
	}
	switch got := pl.state(); {
	case got == "" || got == state:
	case got == "confirming" || got == "buyer_action_required" || got == "pending" || got == "redirecting":
		// Shopify is still confirming the session, or waits on the buyer
		// (or on a pending or redirecting step): not final yet. Resolve and reject are idempotent, so the sync
		// ladder sends the same mutation again until Shopify answers a
		// final state.
		if _, err := p.svc.Annotate(ctx, pay.ID, map[string]string{MetaSessionState: got}, "shopify"); err != nil {
			return err
		}
		return fmt.Errorf("shopify: session %s is %s after %s; asking again", gid, got, field)
	case got == "resolved" || got == "rejected":
		// The session ended the other way (one cannot follow the other):
		// nothing paybridge can send changes it; a person must act.
		if _, err := p.svc.Annotate(ctx, pay.ID, map[string]string{MetaSessionState: got}, "shopify"); err != nil {
			return err
		}
		return checkout.Permanent("Shopify's session is "+got+" but the payment is "+string(pay.Status)+": reconcile it by hand (refund a paid payment)",
			fmt.Errorf("session %s, payment %s", gid, pay.ID))
	}
	meta := map[string]string{MetaSessionState: state}
	if u := pl.redirectURL(); u != "" {
		meta[MetaRedirectURL] = u
	}
	if _, err := p.svc.Annotate(ctx, pay.ID, meta, "shopify"); err != nil {
		return fmt.Errorf("shopify: store the redirect URL of %s: %w", pay.ID, err)
	}
	return nil
}

// MarkPending tells Shopify that a session's result will come later
// (paymentSessionPending, PARTNER_ACTION_REQUIRED, expiring in 3 days) and
// stores the redirect URL it answers, so that a shopper waiting on a
// payment the gateway has not settled can go back to Shopify. The session
// must still be resolved or rejected later, which SyncPayment does once
// the payment is final.
func (p *Platform) MarkPending(ctx context.Context, pay *checkout.Payment) error {
	shop, err := p.db.Shop(ctx, pay.ShopID)
	if err != nil {
		return err
	}
	var data map[string]sessionPayload
	vars := map[string]any{"id": pay.Metadata[MetaGID], "reason": "PARTNER_ACTION_REQUIRED",
		"pendingExpiresAt": p.now().UTC().Add(72 * time.Hour).Format(time.RFC3339)}
	if err := p.graphqlAt(ctx, shop, apiPayments, pay.Metadata[MetaAPIVersion], pendingMutation, vars, &data); err != nil {
		return err
	}
	pl := data["paymentSessionPending"]
	if err := userErrorsErr("paymentSessionPending", pl.UserErrors); err != nil {
		return err
	}
	if u := pl.redirectURL(); u != "" {
		_, err = p.svc.Annotate(ctx, pay.ID, map[string]string{MetaRedirectURL: u, MetaSessionState: "pending"}, "shopify")
	}
	return err
}

// PendingNext is for a shopper waiting on a payments-app payment the
// gateway reports as in progress (StatusPending, e.g. a KNET result not
// settled): it tells Shopify the session is pending, once, and returns the
// redirect URL Shopify answers, so the shopper can go back to the store
// while the worker keeps confirming; SyncPayment resolves or rejects the
// session when the payment becomes final. It returns "" (keep waiting) for
// any other payment, and when Shopify cannot be told now (logged).
func (p *Platform) PendingNext(ctx context.Context, pay *checkout.Payment) (string, error) {
	if pay.Metadata[MetaMode] != ModePaymentsApp || pay.Status != checkout.StatusPending {
		return "", nil
	}
	if u := pay.Metadata[MetaRedirectURL]; u != "" {
		return u, nil
	}
	if err := p.MarkPending(ctx, pay); err != nil {
		p.log.WarnContext(ctx, "shopify: paymentSessionPending", "payment", pay.ID, "err", err)
		return "", nil
	}
	fresh, err := p.svc.Payment(ctx, pay.ID)
	if err != nil {
		return "", err
	}
	return fresh.Metadata[MetaRedirectURL], nil
}

// SyncRefund resolves or rejects the refund session a refund came from.
// Refunds not asked by Shopify have nothing to report.
func (p *Platform) SyncRefund(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment, r *checkout.Refund) error {
	if r.Source != checkout.PlatformShopify || r.Reference == "" || pay.Metadata[MetaMode] == ModeOrderWebhook {
		return nil
	}
	gid := gidOf("RefundSession", r.Reference)
	version := pay.Metadata[MetaAPIVersion]
	if r.Status == checkout.RefundFailed {
		msg := p.gatewayName(pay.Gateway) + " refused the refund"
		if r.Attempts == 0 && r.Reason != "" && !strings.HasPrefix(r.Reason, refundReason) {
			msg = r.Reason // declined before any gateway call (DeclineRefund): why
		}
		return p.paaReject(ctx, shop, version, "refundSessionReject", gid, msg)
	}
	var data map[string]struct {
		UserErrors UserErrors `json:"userErrors"`
	}
	if err := p.graphqlAt(ctx, shop, apiPayments, version, refundResolveMutation, map[string]any{"id": gid}, &data); err != nil {
		return err
	}
	return userErrorsErr("refundSessionResolve", data["refundSessionResolve"].UserErrors)
}

// syncRejection sends a session rejection record's mutation (a capture,
// void or refund session with no row of its own: see rejectDurably) with
// its reason, and marks it told.
func (p *Platform) syncRejection(ctx context.Context, shop *checkout.Shop, rec *checkout.Payment) error {
	m := rec.Metadata
	if _, ok := rejectMutations[m[MetaRejectMutation]]; !ok || m[MetaGID] == "" {
		return checkout.Permanent("session rejection record without its mutation or gid", fmt.Errorf("record %s", rec.ID))
	}
	if err := p.paaReject(ctx, shop, m[MetaAPIVersion], m[MetaRejectMutation], m[MetaGID], m[checkout.MetaDeclineReason]); err != nil {
		return err
	}
	_, err := p.svc.Annotate(ctx, rec.ID, map[string]string{MetaSessionState: "rejected"}, "shopify")
	return err
}

// paaReject sends one of rejectMutations with PROCESSING_ERROR, on API
// version ("" for Config.APIVersion).
func (p *Platform) paaReject(ctx context.Context, shop *checkout.Shop, version, mutation, gid, msg string) error {
	var data map[string]struct {
		UserErrors UserErrors `json:"userErrors"`
	}
	vars := map[string]any{"id": gid, "reason": map[string]any{"code": "PROCESSING_ERROR", "merchantMessage": msg}}
	if err := p.graphqlAt(ctx, shop, apiPayments, version, rejectMutations[mutation], vars, &data); err != nil {
		return err
	}
	return userErrorsErr(mutation, data[mutation].UserErrors)
}

// configurePaymentsApp tells Shopify whether the shop's payments app is
// ready: it is once the shop's gateway has every credential it requires.
func (p *Platform) configurePaymentsApp(ctx context.Context, shop *checkout.Shop) error {
	var data map[string]struct {
		UserErrors UserErrors `json:"userErrors"`
	}
	caps, known := p.svc.Capabilities(shop.Gateway.Gateway)
	ready := known && caps.CheckCredentials(shop.Gateway.Credentials) == nil
	if err := p.graphql(ctx, shop, apiPayments, configureMutation, map[string]any{"ready": ready, "externalHandle": shop.ID}, &data); err != nil {
		return err
	}
	return userErrorsErr("paymentsAppConfigure", data["paymentsAppConfigure"].UserErrors)
}

// Next implements shopper.Destination: where a shopper goes once their
// payment is final. Payments app: a cancel goes back to the session's
// cancel_url; a result goes to the redirect URL Shopify answered when it
// was told, and until then the shopper waits ("") — unless telling Shopify
// was given up, when the checkout's cancel_url is all that is left. Order
// webhook: the order's status page.
func (p *Platform) Next(ctx context.Context, pay *checkout.Payment) (string, error) {
	m := pay.Metadata
	if m[MetaMode] == ModeOrderWebhook {
		if u := m[MetaOrderStatusURL]; u != "" {
			return u, nil
		}
		return "https://" + m[MetaShop], nil
	}
	if pay.Status == checkout.StatusCanceled {
		return m[MetaCancelURL], nil
	}
	if u := m[MetaRedirectURL]; u != "" {
		return u, nil
	}
	if pay.SyncState == checkout.SyncFailed {
		return m[MetaCancelURL], nil
	}
	return "", nil
}

// OrderReference implements shopper.OrderReferencer: a payments-app
// payment's OrderID is Shopify's payment session id, which no shopper has
// seen (the order is numbered only once the session is resolved), so the
// shopper's pages show none; an order-webhook payment's is the order's.
func (p *Platform) OrderReference(pay *checkout.Payment) string {
	if pay.Metadata[MetaMode] == ModePaymentsApp {
		return ""
	}
	return pay.OrderID
}
