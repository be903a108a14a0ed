package woocommerce

import (
	"context"
	"errors"
	"net/http"

	"paybridge/internal/checkout"
)

var _ checkout.StoreChecker = (*Platform)(nil)

// CheckStore implements checkout.StoreChecker: one GET of the store's REST
// API (the latest order) with the shop's consumer key, which changes
// nothing, and what its answer says in plain words.
func (p *Platform) CheckStore(ctx context.Context, shop *checkout.Shop) checkout.CheckResult {
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		return checkout.CheckResult{Outcome: checkout.CheckIncomplete, Detail: err.Error()}
	}
	err = cl.Ping(ctx)
	if err == nil {
		return checkout.CheckResult{Outcome: checkout.CheckOK, HTTPStatus: http.StatusOK, Detail: "the store's REST API accepted the bridge's key"}
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return checkout.CheckResult{Outcome: checkout.CheckUnreachable, Detail: "the store did not answer (" + ctxReason(err) + ")"}
	}
	r := checkout.CheckResult{HTTPStatus: ae.HTTPStatus, Detail: ae.Error()}
	switch s := ae.HTTPStatus; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		r.Outcome = checkout.CheckRefused
		r.Detail = "the store refused the bridge's REST API key (revoked in WooCommerce → Settings → Advanced → REST API, or without read/write permission): connect the store again; " + ae.Error()
	case s == http.StatusTooManyRequests || s >= 500:
		r.Outcome = checkout.CheckUnreachable
	case s == http.StatusNotFound:
		r.Outcome = checkout.CheckFailed
		r.Detail = "the store has no WooCommerce REST API at this address (WooCommerce deactivated, or plain permalinks): " + ae.Error()
	default:
		r.Outcome = checkout.CheckFailed
	}
	return r
}

// ctxReason names a transport failure without its URL (whose query may
// carry OAuth parameters).
func ctxReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "connection failed"
}
