package checkout

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// CheckOutcome is the verdict of one side of a connection check.
type CheckOutcome string

// Outcomes of a connection check. The values are recorded in audit
// events: never rename them.
const (
	// CheckOK: the other side answered and accepted our credentials.
	CheckOK CheckOutcome = "ok"
	// CheckIncomplete: credentials are missing (no call was made).
	CheckIncomplete CheckOutcome = "incomplete"
	// CheckRefused: the other side answered and refused our credentials
	// (HTTP 401 or 403, a revoked token, a missing permission).
	CheckRefused CheckOutcome = "refused"
	// CheckUnreachable: no answer, a timeout, a 5xx or a rate limit: the
	// credentials were not judged; try again later.
	CheckUnreachable CheckOutcome = "unreachable"
	// CheckFailed: an answer that is neither an acceptance nor a refusal
	// of the credentials (an unknown gateway, an unreadable page).
	CheckFailed CheckOutcome = "failed"
	// CheckNotOffered: there is nothing to check on this side (an API
	// shop has no store of ours to call).
	CheckNotOffered CheckOutcome = "not_offered"
)

// CheckResult is one side of a [ConnectionCheck].
type CheckResult struct {
	Outcome CheckOutcome
	// HTTPStatus is the answer's status code, 0 when none came.
	HTTPStatus int
	// Detail is the other side's own explanation or ours, in English,
	// safe to show a merchant (no secret).
	Detail string
	// Took is how long the check took.
	Took time.Duration
}

// OK reports whether the check passed.
func (r CheckResult) OK() bool { return r.Outcome == CheckOK }

// ConnectionCheck is what [Service.CheckConnection] found.
type ConnectionCheck struct {
	// Gateway is the answer of the shop's gateway to its stored
	// credentials.
	Gateway CheckResult
	// Store is the answer of the shop's store to the keys its platform
	// keeps (WooCommerce REST keys, a Shopify access token).
	Store CheckResult
}

// StoreChecker is implemented by platforms (their [Syncer]) that can ask a
// shop's store whether the keys the bridge keeps for it still work, with a
// read that changes nothing. Without it the store side is
// [CheckNotOffered].
type StoreChecker interface {
	CheckStore(ctx context.Context, shop *Shop) CheckResult
}

// probeRef is the gateway reference a connection check asks the status
// of: no gateway issued it, so an authenticated gateway answers "not
// found" while one refusing our credentials answers 401 or 403 first.
const probeRef = "paybridge-connection-check"

// CheckConnection asks the shop's gateway, with the stored credentials,
// and the shop's store, through its platform, whether they accept the
// bridge. It changes nothing on either side and records nothing; the
// caller records who asked and what was found.
//
// The gateway is asked the cheapest authenticated questions it has: the
// account's methods when it lists them ([MethodLister]), then the status
// of a reference no gateway issued, where "not found" (404) proves the
// credentials were accepted and 401/403 that they were not.
// Both are asked at once, so the check takes as long as the slower.
func (s *Service) CheckConnection(ctx context.Context, shop *Shop) ConnectionCheck {
	var (
		out ConnectionCheck
		wg  sync.WaitGroup
	)
	wg.Go(func() { out.Store = s.checkStore(ctx, shop) })
	out.Gateway = s.checkGateway(ctx, shop)
	wg.Wait()
	return out
}

// CheckGateway is the gateway half of CheckConnection, for a page that
// asks the store its own way (Shopify's settings page tells Shopify the
// account's readiness at the same time).
func (s *Service) CheckGateway(ctx context.Context, shop *Shop) CheckResult {
	return s.checkGateway(ctx, shop)
}

func (s *Service) checkGateway(ctx context.Context, shop *Shop) (r CheckResult) {
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	g, ok := s.gateways[shop.Gateway.Gateway]
	if !ok {
		return CheckResult{Outcome: CheckFailed, Detail: "no gateway adapter named " + strconv.Quote(shop.Gateway.Gateway) + " is configured"}
	}
	caps := declared(g)
	if err := caps.CheckCredentials(shop.Gateway.Credentials); err != nil {
		return CheckResult{Outcome: CheckIncomplete, Detail: err.Error()}
	}
	// An adapter may cache what the account lists (UPayments does, for
	// minutes): the status probe that follows always reaches the gateway,
	// so a key revoked since is seen.
	listed := false
	if ml, ok := g.(MethodLister); ok {
		if _, err := ml.AccountMethods(ctx, shop.Gateway); err != nil {
			return ClassifyGatewayError(caps.DisplayName, err)
		}
		listed = true
	}
	probe := &Payment{ID: probeRef, ShopID: shop.ID, Gateway: g.Name(), GatewayRef: probeRef}
	_, err := g.Status(ctx, shop.Gateway, probe, probeRef)
	var ge *GatewayError
	switch {
	case err == nil:
		return CheckResult{Outcome: CheckOK, Detail: caps.DisplayName + " accepted the credentials"}
	case errors.As(err, &ge) && ge.HTTPStatus == http.StatusNotFound:
		return CheckResult{Outcome: CheckOK, HTTPStatus: ge.HTTPStatus,
			Detail: caps.DisplayName + " accepted the credentials (it knows no payment by the test reference, as expected)"}
	}
	r = ClassifyGatewayError(caps.DisplayName, err)
	if listed && r.Outcome == CheckFailed {
		// The account's methods were read with these credentials; the
		// gateway answers an unknown reference its own way (UPayments'
		// answer is UNCONFIRMED): say what it said.
		return CheckResult{Outcome: CheckOK, HTTPStatus: r.HTTPStatus,
			Detail: caps.DisplayName + " accepted the credentials; asked about a test payment, it answered: " + r.Detail}
	}
	return r
}

// ClassifyGatewayError says what a gateway's error means for the
// credentials it was called with (refused, unreachable, or failed), with a
// detail safe to show a merchant; display is the gateway's display name.
// Connection checks use it, and so does any page that reports a gateway
// call to a merchant.
func ClassifyGatewayError(display string, err error) CheckResult {
	var ge *GatewayError
	if !errors.As(err, &ge) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return CheckResult{Outcome: CheckUnreachable, Detail: display + " did not answer in time"}
		}
		return CheckResult{Outcome: CheckFailed, Detail: display + " could not be asked"}
	}
	r := CheckResult{HTTPStatus: ge.HTTPStatus, Detail: ge.Message}
	switch {
	case ge.Temporary || ge.HTTPStatus == http.StatusTooManyRequests || ge.HTTPStatus >= 500:
		r.Outcome = CheckUnreachable
	case ge.HTTPStatus == http.StatusUnauthorized || ge.HTTPStatus == http.StatusForbidden:
		r.Outcome = CheckRefused
	default:
		r.Outcome = CheckFailed
	}
	if r.Detail == "" {
		r.Detail = display + " refused the request"
	}
	return r
}

func (s *Service) checkStore(ctx context.Context, shop *Shop) CheckResult {
	sc, ok := s.syncers[shop.Platform].(StoreChecker)
	if !ok {
		return CheckResult{Outcome: CheckNotOffered, Detail: "the " + shop.Platform + " platform has no store to ask"}
	}
	start := time.Now()
	r := sc.CheckStore(ctx, shop)
	r.Took = time.Since(start)
	return r
}
