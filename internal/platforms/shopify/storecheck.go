package shopify

import (
	"context"
	"errors"
	"net/http"

	"paybridge/internal/checkout"
)

var _ checkout.StoreChecker = (*Platform)(nil)

// shopQuery is the connection check's question: the smallest Admin API
// read there is, answered only with a valid access token.
const shopQuery = `query ConnectionCheck { shop { name } }`

// CheckStore implements checkout.StoreChecker: the Admin API's shop query
// with the shop's access token (refreshed first if it has expired), and
// what the answer says in plain words.
func (p *Platform) CheckStore(ctx context.Context, shop *checkout.Shop) checkout.CheckResult {
	if shop.Secrets[secretToken] == "" {
		return checkout.CheckResult{Outcome: checkout.CheckIncomplete,
			Detail: "the bridge holds no Shopify access token for this store (the app was uninstalled, or never installed): install the app again"}
	}
	var out struct {
		Shop *struct {
			Name string `json:"name"`
		} `json:"shop"`
	}
	err := p.graphql(ctx, shop, apiAdmin, shopQuery, nil, &out)
	var (
		unauth *unauthorizedError
		gqlErr GraphQLErrors
		retry  *checkout.RetryAfterError
	)
	switch {
	case err == nil:
		return checkout.CheckResult{Outcome: checkout.CheckOK, HTTPStatus: http.StatusOK, Detail: "Shopify accepted the bridge's access token"}
	case errors.As(err, &unauth):
		return checkout.CheckResult{Outcome: checkout.CheckRefused, HTTPStatus: unauth.status,
			Detail: "Shopify refused the bridge's access token (the app was uninstalled or its access revoked): install the app again"}
	case errors.As(err, &gqlErr) && gqlErr.has("ACCESS_DENIED"):
		return checkout.CheckResult{Outcome: checkout.CheckRefused, HTTPStatus: http.StatusOK,
			Detail: "Shopify denied the query: the app lacks a permission it needs; approve the app's updated permissions in the Shopify admin"}
	case errors.As(err, &retry):
		return checkout.CheckResult{Outcome: checkout.CheckUnreachable, HTTPStatus: http.StatusTooManyRequests,
			Detail: "Shopify is rate limiting the app; try again in a minute"}
	case checkout.IsPermanent(err):
		return checkout.CheckResult{Outcome: checkout.CheckFailed, Detail: err.Error()}
	}
	return checkout.CheckResult{Outcome: checkout.CheckUnreachable, Detail: "Shopify did not answer properly (" + errText(err) + ")"}
}

// errText is err's text for a merchant: a timeout named as one.
func errText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
