package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"paybridge/internal/checkout"
)

// APIs a GraphQL call goes to.
const (
	apiAdmin    = "admin"
	apiPayments = "payments_apps"
)

// GraphQLError is a top-level "errors" entry of a GraphQL answer.
type GraphQLError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// GraphQLErrors is a GraphQL answer's "errors" list.
type GraphQLErrors []GraphQLError

// Error joins the messages with their codes.
func (e GraphQLErrors) Error() string {
	var msgs []string
	for _, x := range e {
		m := x.Message
		if x.Extensions.Code != "" {
			m = x.Extensions.Code + ": " + m
		}
		msgs = append(msgs, m)
	}
	return "shopify graphql: " + strings.Join(msgs, "; ")
}

// has reports whether an entry has the extensions code.
func (e GraphQLErrors) has(code string) bool {
	for _, x := range e {
		if x.Extensions.Code == code {
			return true
		}
	}
	return false
}

// UserError is one of a mutation payload's userErrors.
type UserError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

// UserErrors is a mutation's refusal.
type UserErrors []UserError

// Error joins the messages with their fields.
func (e UserErrors) Error() string {
	var msgs []string
	for _, x := range e {
		m := x.Message
		if len(x.Field) > 0 {
			m = strings.Join(x.Field, ".") + ": " + m
		}
		msgs = append(msgs, m)
	}
	return "shopify user errors: " + strings.Join(msgs, "; ")
}

type gqlAnswer struct {
	Data       json.RawMessage `json:"data"`
	Errors     GraphQLErrors   `json:"errors"`
	Extensions struct {
		Cost struct {
			RequestedQueryCost json.Number `json:"requestedQueryCost"`
			ThrottleStatus     struct {
				CurrentlyAvailable json.Number `json:"currentlyAvailable"`
				RestoreRate        json.Number `json:"restoreRate"`
			} `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

// graphql sends one operation to the shop's Admin or Payments Apps API and
// decodes data into out. Failures are classed for the job ladder: network
// errors and 5xx are retryable; 429 and THROTTLED are *RetryAfterError;
// 401 after a refresh, 403, ACCESS_DENIED and other 4xx are permanent;
// other GraphQL errors come back as GraphQLErrors (permanent).
func (p *Platform) graphql(ctx context.Context, s *checkout.Shop, api, query string, vars map[string]any, out any) error {
	return p.graphqlAt(ctx, s, api, "", query, vars, out)
}

// graphqlAt is graphql on API version (a session's Shopify-Api-Version;
// "" for Config.APIVersion).
func (p *Platform) graphqlAt(ctx context.Context, s *checkout.Shop, api, version, query string, vars map[string]any, out any) error {
	if version == "" {
		version = p.cfg.APIVersion
	}
	rejected := ""
	for attempt := 0; ; attempt++ {
		tok, err := p.accessToken(ctx, s, rejected)
		if err != nil {
			return err
		}
		err = p.graphqlOnce(ctx, s, tok, api, version, query, vars, out)
		var unauth *unauthorizedError
		if errors.As(err, &unauth) && attempt == 0 && s.Secrets[secretRefresh] != "" {
			// The token may have lapsed early: refresh once.
			rejected = tok
			continue
		}
		if errors.As(err, &unauth) {
			return checkout.Permanent("Shopify refused the access token", err)
		}
		return err
	}
}

type unauthorizedError struct{ status int }

func (e *unauthorizedError) Error() string { return fmt.Sprintf("shopify answered HTTP %d", e.status) }

func (p *Platform) graphqlOnce(ctx context.Context, s *checkout.Shop, tok, api, version, query string, vars map[string]any, out any) error {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return checkout.Permanent("encode graphql", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	u := p.origin(s.Domain) + "/" + api + "/api/" + version + "/graphql.json"
	if api == apiAdmin {
		u = p.origin(s.Domain) + "/admin/api/" + version + "/graphql.json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return checkout.Permanent("graphql request", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("shopify %s graphql on %s: %w", api, s.Domain, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return &unauthorizedError{code}
	case code == http.StatusTooManyRequests:
		d := time.Duration(0)
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			d = time.Duration(n) * time.Second
		}
		return &checkout.RetryAfterError{After: max(d, time.Second), Err: fmt.Errorf("shopify %s graphql on %s: HTTP 429", api, s.Domain)}
	case code >= 500:
		return fmt.Errorf("shopify %s graphql on %s: HTTP %d", api, s.Domain, code)
	case code != http.StatusOK:
		return checkout.Permanent(fmt.Sprintf("shopify %s graphql answered HTTP %d", api, code), fmt.Errorf("shop %s", s.Domain))
	}
	var a gqlAnswer
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("shopify %s graphql on %s: undecodable answer: %w", api, s.Domain, err)
	}
	if len(a.Errors) > 0 {
		switch {
		case a.Errors.has("THROTTLED"):
			return &checkout.RetryAfterError{After: throttleWait(a), Err: a.Errors}
		case a.Errors.has("ACCESS_DENIED"):
			return checkout.Permanent("access denied (missing scope or permission)", a.Errors)
		case a.Errors.has("INTERNAL_SERVER_ERROR"):
			return fmt.Errorf("shopify %s graphql on %s: %w", api, s.Domain, a.Errors)
		}
		return checkout.Permanent("Shopify refused the query", a.Errors)
	}
	if out == nil {
		return nil
	}
	dec = json.NewDecoder(bytes.NewReader(a.Data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("shopify %s graphql on %s: decode data: %w", api, s.Domain, err)
	}
	return nil
}

// throttleWait is how long until the bucket holds the cost asked.
func throttleWait(a gqlAnswer) time.Duration {
	req, _ := a.Extensions.Cost.RequestedQueryCost.Float64()
	avail, _ := a.Extensions.Cost.ThrottleStatus.CurrentlyAvailable.Float64()
	rate, _ := a.Extensions.Cost.ThrottleStatus.RestoreRate.Float64()
	d := time.Second
	if rate > 0 && req > avail {
		d = time.Duration((req-avail)/rate*float64(time.Second)) + time.Second
	}
	return min(d, time.Minute)
}
