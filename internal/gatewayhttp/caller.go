// Package gatewayhttp is the one HTTP caller of paybridge's gateway clients
// (UPayments, Checkout.com, KuPay): it builds a request with a JSON body
// ([wire.EncodeJSON]), authenticates it, bounds it with a per-call timeout,
// sends it over a pooled transport, reads a bounded answer, records the
// call's latency and outcome ([metrics.ObserveGateway]) and turns whatever
// went wrong into a *checkout.GatewayError.
//
// What differs between gateways stays in their packages and reaches the
// caller as hooks: the Bearer token and an optional request signer
// ([Request.Sign], UPayments' X-Signature), an idempotency key
// ([Gateway.IdempotencyHeader], Checkout.com), and the function that reads
// an answer and maps an HTTP error status and body to the gateway's own
// message (the read argument of [Call]).
//
// It is written on net/http rather than a retrying client library
// (go-retryablehttp): gateway calls are never retried here, because a
// repeated charge or refund can take money twice; what is shared is the
// plumbing around one attempt.
package gatewayhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/metrics"
	"paybridge/internal/wire"
)

// SnippetBytes is how much of an answer's body errors quote.
const SnippetBytes = 512

// Gateway describes one gateway to its [Caller]: the names its errors and
// metrics carry and what every request sends.
type Gateway struct {
	// Name is the adapter name ("upay"): GatewayError.Gateway and the
	// gateway label of the latency metric.
	Name string
	// Display is the gateway's name for people ("UPayments"), used in
	// messages.
	Display string
	// UserAgent is sent on every request ("paybridge-upay/1").
	UserAgent string
	// Credential is what the Bearer token is called ("API key"). A request
	// without a token then fails before anything is sent, with the message
	// "<Display> <Credential> is not configured". Empty: requests need no
	// token.
	Credential string
	// IdempotencyHeader is the header that carries Request.IdempotencyKey
	// ("Cko-Idempotency-Key"); empty when the gateway has none.
	IdempotencyHeader string
}

// Caller sends the requests of one gateway over its own pooled transport.
// It is safe for concurrent use; make one per gateway and share it.
type Caller struct {
	gw     Gateway
	cfg    Config
	client *http.Client
}

// New returns the caller of gw; see [Config] for the defaults of cfg.
func New(gw Gateway, cfg Config) *Caller {
	cfg = cfg.withDefaults()
	return &Caller{gw: gw, cfg: cfg, client: &http.Client{Transport: cfg.transport()}}
}

// Gateway returns the gateway c calls.
func (c *Caller) Gateway() Gateway { return c.gw }

// Config returns c's configuration with its defaults filled in.
func (c *Caller) Config() Config { return c.cfg }

// CloseIdleConnections closes the pool's idle connections (for example
// before a process exits or a test ends).
func (c *Caller) CloseIdleConnections() { c.client.CloseIdleConnections() }

// Request is one call to a gateway.
type Request struct {
	// Op names the call ("charge", "status", "refund"): GatewayError.Op
	// and the op label of the latency metric.
	Op     string
	Method string
	// URL is the full address of the endpoint.
	URL string
	// Body, when not nil, is sent as JSON ([wire.EncodeJSON]: exact
	// json.Number literals, no HTML escaping) with Content-Type
	// application/json.
	Body any
	// Token is sent as "Authorization: Bearer <Token>". It never appears
	// in errors.
	Token string
	// Sign, when set, adds the gateway's signature headers; it sees the
	// headers already set and the exact body bytes sent (nil without a body).
	Sign func(h http.Header, body []byte)
	// IdempotencyKey is sent in the gateway's IdempotencyHeader when both
	// are set.
	IdempotencyKey string
	// Timeout bounds this call instead of Config.Timeout when positive.
	Timeout time.Duration
	// Client sends this call instead of the caller's pooled client when
	// set (tests, a custom transport).
	Client *http.Client
}

// Answer is what a gateway answered, for the read function of [Call].
type Answer struct {
	StatusCode int
	Header     http.Header
	// Body is at most Config.MaxResponseBytes long.
	Body []byte
}

// Snippet is the answer's body cut for an error message.
func (a *Answer) Snippet() string { return Snippet(a.Body) }

// Call sends r with c and hands the answer, whatever its status, to read,
// which returns the call's result or the gateway's refusal (a
// *checkout.GatewayError carrying the HTTP status and the gateway's own
// words). Calls that get no answer fail with checkout.TransportError
// (temporary: for a charge the outcome is unknown), requests that cannot be
// built with checkout.RequestError. Every call is observed with
// metrics.ObserveGateway under the gateway's name and r.Op, read's error
// included.
func Call[T any](ctx context.Context, c *Caller, r Request, read func(op string, a *Answer) (T, error)) (out T, err error) {
	start := time.Now()
	defer func() { metrics.ObserveGateway(c.gw.Name, r.Op, start, err) }()
	a, err := c.send(ctx, r)
	if err != nil {
		return out, err
	}
	return read(r.Op, a)
}

// send does everything of a call but reading the answer.
func (c *Caller) send(ctx context.Context, r Request) (*Answer, error) {
	if c.gw.Credential != "" && r.Token == "" {
		return nil, &checkout.GatewayError{Gateway: c.gw.Name, Op: r.Op,
			Message: c.gw.Display + " " + c.gw.Credential + " is not configured"}
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = wire.EncodeJSON(r.Body); err != nil {
			return nil, c.RequestError(r.Op, fmt.Errorf("encode request: %w", err))
		}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = c.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, c.RequestError(r.Op, fmt.Errorf("build request: %w", err))
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.gw.UserAgent != "" {
		req.Header.Set("User-Agent", c.gw.UserAgent)
	}
	if c.gw.IdempotencyHeader != "" && r.IdempotencyKey != "" {
		req.Header.Set(c.gw.IdempotencyHeader, r.IdempotencyKey)
	}
	if r.Sign != nil {
		r.Sign(req.Header, body)
	}
	hc := r.Client
	if hc == nil {
		hc = c.client
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, checkout.TransportError(c.gw.Name, c.gw.Display, r.Op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes))
	if err != nil {
		return nil, checkout.TransportError(c.gw.Name, c.gw.Display, r.Op, fmt.Errorf("read answer: %w", err))
	}
	return &Answer{StatusCode: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// RequestError is the GatewayError of a request to c's gateway that could
// not be built or was refused before sending (checkout.RequestError).
func (c *Caller) RequestError(op string, err error) *checkout.GatewayError {
	return checkout.RequestError(c.gw.Name, c.gw.Display, op, err)
}

// AnswerError is the GatewayError of an answer from c's gateway that could
// not be read (checkout.AnswerError).
func (c *Caller) AnswerError(op string, err error) *checkout.GatewayError {
	return checkout.AnswerError(c.gw.Name, c.gw.Display, op, err)
}

// RetryAfter wraps err in a *checkout.RetryAfterError when a carries a
// readable Retry-After header (a 429 or 503), and returns err otherwise.
func RetryAfter(a *Answer, err error) error {
	if d, ok := wire.RetryAfter(a.Header.Get("Retry-After"), time.Now()); ok {
		return &checkout.RetryAfterError{After: d, Err: err}
	}
	return err
}

// Snippet returns b cut to [SnippetBytes] on a rune boundary, for error
// messages quoting a gateway's answer.
func Snippet(b []byte) string { return wire.Snippet(b, SnippetBytes) }
