package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"paybridge/internal/routes"
)

// Errors the Service returns to platforms, which map them to HTTP answers.
var (
	// ErrIdempotencyConflict: a payment for this order id exists with a
	// different request body.
	ErrIdempotencyConflict = errors.New("a payment for this order id exists with different details")
	// ErrNotPaid: the operation needs a paid payment.
	ErrNotPaid = errors.New("payment is not paid")
	// ErrRefundExceeds: the refund would take the refunded total above what
	// was captured.
	ErrRefundExceeds = errors.New("refund exceeds the captured amount not yet refunded")
	// ErrNotSettled: a caller claimed the payment was paid but the gateway
	// has not settled it yet; the confirm job retries on its short ladder.
	ErrNotSettled = errors.New("gateway has not settled the payment yet")
	// ErrUnknownGateway: the shop names a gateway no adapter is registered for.
	ErrUnknownGateway = errors.New("unknown gateway")
)

// ValidationError is a bad field in a request; Field names it as the client
// sent it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Config configures a Service. The zero value is usable except for
// PublicURL.
type Config struct {
	// PublicURL is the bridge's external base URL ("https://pay.example.com"),
	// used to build the pay, return, cancel and notify URLs. Required.
	PublicURL string
	// PageLifetime is how long, per gateway name, a hosted page stays
	// payable; an open payment older than this gets one last status check and
	// then expires. Default: the gateway's Capabilities.PageLifetime plus
	// ExpiryGrace when it reports one, else one hour.
	PageLifetime map[string]time.Duration
	// ReconcileAfter is how long a payment must sit unchanged before the
	// reconciler re-checks it. Default 2 minutes.
	ReconcileAfter time.Duration
	// ReconcileBatch bounds the rows one reconcile pass looks at per kind.
	// Default 500.
	ReconcileBatch int
	// AllowInsecureURLs accepts http:// and loopback merchant URLs (for
	// development and tests). Default false.
	AllowInsecureURLs bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service is the core: it creates payments, turns gateway answers into
// state transitions, and drives refunds and store syncs. It is safe for
// concurrent use by many web and worker processes sharing one database:
// every write is a compare-and-set.
type Service struct {
	store    Store
	queue    Queue
	cfg      Config
	gateways map[string]Gateway
	syncers  map[string]Syncer
	log      *slog.Logger
}

// NewService returns a Service over the store and queue. Register gateways
// and syncers before use.
func NewService(store Store, queue Queue, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = 2 * time.Minute
	}
	if cfg.ReconcileBatch <= 0 {
		cfg.ReconcileBatch = 500
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{store: store, queue: queue, cfg: cfg,
		gateways: map[string]Gateway{}, syncers: map[string]Syncer{}, log: cfg.Logger}
}

// RegisterGateway makes an adapter available to shops naming it.
func (s *Service) RegisterGateway(g Gateway) { s.gateways[g.Name()] = g }

// RegisterSyncer sets the syncer for a platform's shops.
func (s *Service) RegisterSyncer(platform string, sy Syncer) { s.syncers[platform] = sy }

// Gateway returns the registered adapter of that name.
func (s *Service) Gateway(name string) (Gateway, bool) {
	g, ok := s.gateways[name]
	return g, ok
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// PaymentRequest is what a platform asks for: one order to be paid.
type PaymentRequest struct {
	OrderID       string
	Amount        Money
	Description   string
	Language      string
	PaymentMethod string
	Customer      Customer
	Products      []Product
	ReturnURL     string
	CancelURL     string
	CallbackURL   string
	// Metadata is platform data stored with the payment; it is part of the
	// idempotency fingerprint.
	Metadata map[string]string
}

// PayURL is where the shopper is sent to pay: the bridge, which redirects
// to the gateway page.
func (s *Service) PayURL(id string) string { return routes.PayURL(s.cfg.PublicURL, id) }

// URLs returns the gateway-facing URLs of a payment: our id in the path,
// no query string (UPayments appends "?…" even to URLs that have one).
func (s *Service) URLs(p *Payment) URLs {
	return URLs{
		Return: routes.ReturnURL(s.cfg.PublicURL, p.ID),
		Cancel: routes.CancelURL(s.cfg.PublicURL, p.ID),
		Notify: routes.NotifyURL(s.cfg.PublicURL, p.Gateway, p.ID),
	}
}

// Validate checks a request's fields. Money is already parsed.
func (s *Service) Validate(req *PaymentRequest) error {
	switch {
	case strings.TrimSpace(req.OrderID) == "":
		return &ValidationError{"order_id", "is required"}
	case len(req.OrderID) > 100:
		return &ValidationError{"order_id", "is longer than 100 characters"}
	case req.Amount.Currency == "":
		return &ValidationError{"currency", "is required"}
	case req.Amount.Minor <= 0:
		return &ValidationError{"amount", "must be greater than zero"}
	case len(req.Description) > 500:
		return &ValidationError{"description", "is longer than 500 characters"}
	}
	if _, err := Exponent(req.Amount.Currency); err != nil {
		return &ValidationError{"currency", err.Error()}
	}
	switch req.Language {
	case "":
		req.Language = "en"
	case "en", "ar":
	default:
		return &ValidationError{"language", `must be "en" or "ar"`}
	}
	for _, u := range []struct{ field, v string }{
		{"return_url", req.ReturnURL}, {"cancel_url", req.CancelURL}, {"callback_url", req.CallbackURL},
	} {
		if u.v == "" {
			continue
		}
		if err := CheckURL(u.v, s.cfg.AllowInsecureURLs); err != nil {
			return &ValidationError{u.field, err.Error()}
		}
	}
	for i, pr := range req.Products {
		if pr.Quantity <= 0 {
			return &ValidationError{fmt.Sprintf("products[%d].quantity", i), "must be at least 1"}
		}
		if pr.Price.Currency != req.Amount.Currency {
			return &ValidationError{fmt.Sprintf("products[%d].price", i), "must be in the payment's currency"}
		}
	}
	return nil
}

// CheckURL accepts absolute https URLs on public hosts. With allowInsecure
// it also accepts http and loopback or private hosts (development).
func CheckURL(raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("must be an absolute http(s) URL")
	}
	if allowInsecure {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("must use https")
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errors.New("must not point at this machine")
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) {
		return errors.New("must not point at a private or loopback address")
	}
	return nil
}

func fingerprint(req *PaymentRequest) string {
	b, _ := json.Marshal(struct {
		*PaymentRequest
		Amount   string
		Currency string
		Prices   []string
	}{req, req.Amount.String(), req.Amount.Currency, productPrices(req.Products)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func productPrices(ps []Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Price.String()
	}
	return out
}

// CreatePayment returns the payment for the shop's order, creating it and
// the gateway charge if needed. The same order id with the same request
// returns the existing payment (created=false); with a different request it
// fails with ErrIdempotencyConflict. A gateway failure leaves the payment in
// StatusCreated and returns the *GatewayError: the next call, or the
// shopper's visit to the pay URL, tries the charge again.
func (s *Service) CreatePayment(ctx context.Context, shop *Shop, platform string, req PaymentRequest, source string) (p *Payment, created bool, err error) {
	if err := s.Validate(&req); err != nil {
		return nil, false, err
	}
	if _, ok := s.gateways[shop.Gateway.Gateway]; !ok {
		return nil, false, fmt.Errorf("%w %q for shop %s", ErrUnknownGateway, shop.Gateway.Gateway, shop.ID)
	}
	// Refused before anything is stored or sent: a currency or an amount
	// the gateway cannot charge exactly.
	if err := s.CheckPayment(shop.Gateway.Gateway, req.Amount); err != nil {
		return nil, false, err
	}
	hash := fingerprint(&req)
	for range 3 {
		existing, err := s.store.PaymentByOrder(ctx, shop.ID, req.OrderID)
		if err == nil {
			if existing.RequestHash != hash {
				return existing, false, fmt.Errorf("%w (payment %s)", ErrIdempotencyConflict, existing.ID)
			}
			if existing.GatewayURL == "" && !existing.Status.Final() {
				existing, err = s.ensureCharge(ctx, shop, existing)
			}
			return existing, false, err
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		now := s.now()
		p = &Payment{
			ID: NewID("pay"), ShopID: shop.ID, Platform: platform, OrderID: req.OrderID,
			Amount: req.Amount, Refunded: Money{Currency: req.Amount.Currency},
			Description: req.Description, Language: req.Language, PaymentMethod: req.PaymentMethod,
			Customer: req.Customer, Products: req.Products,
			ReturnURL: req.ReturnURL, CancelURL: req.CancelURL, CallbackURL: req.CallbackURL,
			Metadata: req.Metadata, Status: StatusCreated, Gateway: shop.Gateway.Gateway,
			GatewayData: map[string]string{}, RequestHash: hash,
			ExpiresAt: now.Add(s.lifetime(shop.Gateway.Gateway)), CreatedAt: now, UpdatedAt: now,
		}
		p.GatewayOrderID = p.ID
		err = s.store.Apply(ctx, Change{NewPayment: p, Events: []Event{{
			PaymentID: p.ID, At: now, Kind: EventCreated, To: string(StatusCreated), Source: source,
			Detail: detail(map[string]any{"order_id": p.OrderID, "amount": p.Amount.String(), "currency": p.Amount.Currency, "gateway": p.Gateway}),
		}}})
		if errors.Is(err, ErrDuplicate) {
			continue // lost a race with an identical request: read the winner
		}
		if err != nil {
			return nil, false, err
		}
		p, err = s.ensureCharge(ctx, shop, p)
		return p, true, err
	}
	return nil, false, fmt.Errorf("create payment for order %q: %w", req.OrderID, ErrConflict)
}

func (s *Service) lifetime(gateway string) time.Duration {
	if d, ok := s.cfg.PageLifetime[gateway]; ok && d > 0 {
		return d
	}
	if d := s.gatewayLifetime(gateway); d > 0 {
		return d
	}
	return time.Hour
}

// ensureCharge creates the gateway charge for a payment that has none.
func (s *Service) ensureCharge(ctx context.Context, shop *Shop, p *Payment) (*Payment, error) {
	g, ok := s.gateways[p.Gateway]
	if !ok {
		return p, fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway)
	}
	charge, err := g.CreatePayment(ctx, shop.Gateway, p, s.URLs(p))
	if err != nil {
		d := map[string]any{"error": err.Error()}
		var ge *GatewayError
		if errors.As(err, &ge) {
			d = map[string]any{"message": ge.Message, "http_status": ge.HTTPStatus, "temporary": ge.Temporary}
		}
		if aerr := s.store.Apply(ctx, Change{Events: []Event{{PaymentID: p.ID, Kind: EventChargeFailed, Source: "gateway", Detail: detail(d)}}}); aerr != nil {
			s.log.ErrorContext(ctx, "record charge failure", "payment", p.ID, "err", aerr)
		}
		return p, fmt.Errorf("create %s charge for %s: %w", p.Gateway, p.ID, err)
	}
	for range 3 {
		if p.GatewayURL != "" {
			return p, nil // another request stored a charge first; ours is never shown
		}
		p.GatewayURL, p.UpdatedAt = charge.URL, s.now()
		if p.GatewayRef == "" {
			p.GatewayRef = charge.Ref
		}
		mergeData(p, charge.Data)
		err = s.store.Apply(ctx, Change{Payment: p, Events: []Event{{PaymentID: p.ID, Kind: EventChargeCreated, Source: "gateway",
			Detail: detail(map[string]any{"ref": charge.Ref, "answer": charge.Raw})}}})
		if !errors.Is(err, ErrConflict) {
			return p, err
		}
		if p, err = s.store.Payment(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	return p, fmt.Errorf("store charge for %s: %w", p.ID, ErrConflict)
}

func mergeData(p *Payment, data map[string]string) bool {
	changed := false
	for k, v := range data {
		if v == "" || p.GatewayData[k] == v {
			continue
		}
		if p.GatewayData == nil {
			p.GatewayData = map[string]string{}
		}
		p.GatewayData[k] = v
		changed = true
	}
	return changed
}

// Payment returns a payment by id.
func (s *Service) Payment(ctx context.Context, id string) (*Payment, error) {
	return s.store.Payment(ctx, id)
}

// Events returns a payment's audit trail, oldest first.
func (s *Service) Events(ctx context.Context, id string) ([]Event, error) {
	return s.store.Events(ctx, id)
}

// RecordEvents appends audit events that change no state (a platform
// noting that a merchant asked for a customer's data, …) in one atomic
// write. Each event must name its PaymentID; At defaults to now.
func (s *Service) RecordEvents(ctx context.Context, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := s.now()
	for i := range evs {
		if evs[i].PaymentID == "" {
			return fmt.Errorf("record event %q: no payment id", evs[i].Kind)
		}
		if evs[i].At.IsZero() {
			evs[i].At = now
		}
	}
	return s.store.Apply(ctx, Change{Events: evs})
}

// Refunds returns a payment's refunds, oldest first.
func (s *Service) Refunds(ctx context.Context, paymentID string) ([]*Refund, error) {
	return s.store.Refunds(ctx, paymentID)
}

// Redirect is the shopper arriving at the pay URL. It returns the gateway
// page to send them to, creating the charge if an earlier attempt failed,
// and records the redirect. For a payment that is already final it returns
// an empty URL and the payment, and the caller shows its result.
func (s *Service) Redirect(ctx context.Context, id string) (string, *Payment, error) {
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if p.Status.Final() {
		return "", p, nil
	}
	if p.GatewayURL == "" {
		shop, err := s.store.Shop(ctx, p.ShopID)
		if err != nil {
			return "", p, err
		}
		if p, err = s.ensureCharge(ctx, shop, p); err != nil {
			return "", p, err
		}
	}
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return "", p, err
			}
		}
		if p.Status != StatusCreated {
			return p.GatewayURL, p, nil
		}
		from := p.Status
		p.Status, p.UpdatedAt = StatusRedirected, s.now()
		// Gateways count the page's lifetime from when the shopper lands
		// (KNET: 7 minutes), so a link opened late must not expire early.
		if until := p.UpdatedAt.Add(s.lifetime(p.Gateway)); until.After(p.ExpiresAt) {
			p.ExpiresAt = until
		}
		err = s.store.Apply(ctx, Change{Payment: p, Events: []Event{transition(p.ID, from, p.Status, "shopper", nil)}})
		if !errors.Is(err, ErrConflict) {
			return p.GatewayURL, p, err
		}
		if p, err = s.store.Payment(ctx, id); err != nil {
			return "", nil, err
		}
	}
	return p.GatewayURL, p, nil
}

func transition(paymentID string, from, to Status, source string, d json.RawMessage) Event {
	return Event{PaymentID: paymentID, Kind: EventTransition, From: string(from), To: string(to), Source: source, Detail: d}
}

func detail(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshal_error": err.Error()})
	}
	return b
}

// Notify records a gateway notification for payment id as a claim and
// enqueues a confirmation; nothing changes state here. It returns an error
// wrapping ErrBadSignature for a signed notification whose signature fails
// (recorded), ErrNotFound for an unknown payment.
func (s *Service) Notify(ctx context.Context, gateway, id string, req CallbackRequest) error {
	p, err := s.recordTrigger(ctx, gateway, id, EventNotification, "notification", req)
	if err != nil {
		return err
	}
	if !p.Status.Final() {
		if err := s.queue.EnqueueConfirm(ctx, p.ID, 0); err != nil {
			// The notification is recorded; the reconciler will confirm.
			s.log.WarnContext(ctx, "enqueue confirm", "payment", p.ID, "err", err)
		}
	}
	return nil
}

func (s *Service) recordTrigger(ctx context.Context, gateway, id, kind, source string, req CallbackRequest) (*Payment, error) {
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	if gateway != "" && gateway != p.Gateway {
		return nil, fmt.Errorf("payment %s is not a %s payment: %w", id, gateway, ErrNotFound)
	}
	g, ok := s.gateways[p.Gateway]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway)
	}
	shop, err := s.store.Shop(ctx, p.ShopID)
	if err != nil {
		return nil, err
	}
	cb, err := g.ParseCallback(ctx, shop.Gateway, req)
	if err != nil {
		kind := EventNotification
		if errors.Is(err, ErrBadSignature) {
			kind = EventSignatureBad
		}
		if aerr := s.store.Apply(ctx, Change{Events: []Event{{PaymentID: p.ID, Kind: kind, Source: source,
			Detail: detail(map[string]any{"error": err.Error()})}}}); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	err = s.store.Apply(ctx, Change{Events: []Event{{PaymentID: p.ID, Kind: kind, Source: source,
		Detail: detail(map[string]any{"claim": claim{Result: cb.Result, Outcome: cb.Outcome, Ref: cb.Ref, Signed: cb.Signed}, "fields": cb.Fields})}}})
	return p, err
}

// claim is how a trigger event records what a callback said.
type claim struct {
	Result  string  `json:"result"`
	Outcome Outcome `json:"outcome"`
	Ref     string  `json:"ref,omitempty"`
	Signed  bool    `json:"signed"`
}

// Return is the shopper's browser coming back from the gateway page (to
// the return or the cancel URL). It records what the query claims and
// confirms with the gateway within ctx's deadline (callers use a short one);
// if that does not settle it, a confirmation is enqueued. The payment
// returned is the best known state, to pick where the shopper goes next.
func (s *Service) Return(ctx context.Context, id string, req CallbackRequest) (*Payment, error) {
	p, err := s.recordTrigger(ctx, "", id, EventReturn, "shopper", req)
	if err != nil {
		if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if p, err = s.store.Payment(ctx, id); err != nil {
			return nil, err
		}
	}
	if p.Status.Final() {
		return p, nil
	}
	q, err := s.confirm(ctx, id, "shopper")
	if err != nil || !q.Status.Final() {
		if qerr := s.queue.EnqueueConfirm(context.WithoutCancel(ctx), id, 0); qerr != nil {
			s.log.WarnContext(ctx, "enqueue confirm", "payment", id, "err", qerr)
		}
	}
	if q == nil {
		return p, nil
	}
	return q, nil
}

// ConfirmPayment asks the gateway for the payment's state and applies it.
// Jobs call it; it is a no-op for final payments. It returns ErrNotSettled
// (retryable) when a notification claimed success the gateway has not
// confirmed yet.
func (s *Service) ConfirmPayment(ctx context.Context, id string) error {
	_, err := s.confirm(ctx, id, "worker")
	return err
}

// Confirm is ConfirmPayment returning the payment.
func (s *Service) Confirm(ctx context.Context, id, source string) (*Payment, error) {
	return s.confirm(ctx, id, source)
}

func (s *Service) confirm(ctx context.Context, id, source string) (*Payment, error) {
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		p, err := s.store.Payment(ctx, id)
		if err != nil {
			return nil, err
		}
		if p.Status.Final() {
			// Its sync was enqueued by the write that made it final; if that
			// enqueue was lost, the reconciler finds the unsynced row.
			return p, nil
		}
		g, ok := s.gateways[p.Gateway]
		if !ok {
			return p, Permanent("confirm", fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway))
		}
		shop, err := s.store.Shop(ctx, p.ShopID)
		if err != nil {
			return p, err
		}
		events, err := s.store.Events(ctx, p.ID)
		if err != nil {
			return p, err
		}
		triggers := unjudged(events)
		var out []Event

		// The references to ask about: ours when we have one, else the
		// candidates callbacks named. A callback naming another reference
		// than ours is a mismatch by itself.
		var refs []string
		if p.GatewayRef != "" {
			refs = []string{p.GatewayRef}
			for _, t := range triggers {
				if t.claim.Ref != "" && t.claim.Ref != p.GatewayRef {
					out = append(out, judge(p.ID, EventBindingMismatch, t, map[string]any{
						"reason": "callback names another gateway transaction", "ours": p.GatewayRef, "claimed": t.claim.Ref}))
					t.judged = true
				}
			}
		} else {
			seen := map[string]bool{}
			for i := len(triggers) - 1; i >= 0 && len(refs) < 3; i-- {
				if r := triggers[i].claim.Ref; r != "" && !seen[r] {
					seen[r] = true
					refs = append(refs, r)
				}
			}
		}

		now := s.now()
		var st GatewayStatus
		bound := false
		for i, ref := range refs {
			st, err = g.Status(ctx, shop.Gateway, p, ref)
			if err != nil {
				s.applyEvents(ctx, out)
				return p, fmt.Errorf("status of %s at %s: %w", p.ID, p.Gateway, err)
			}
			if i == 0 {
				if err := s.store.MarkChecked(ctx, p.ID, now); err != nil {
					s.log.WarnContext(ctx, "mark checked", "payment", p.ID, "err", err)
				}
			}
			if why := mismatch(p, ref, st); why != "" {
				d := map[string]any{"reason": why, "ref": ref, "gateway_result": st.Result,
					"gateway_order_id": st.OrderID, "gateway_amount": st.Amount.String(), "gateway_currency": st.Amount.Currency}
				for _, t := range triggers {
					if !t.judged && t.claim.Ref == ref {
						out = append(out, judge(p.ID, EventBindingMismatch, t, d))
						t.judged = true
					}
				}
				if p.GatewayRef == ref || !anyTrigger(triggers, ref) {
					out = append(out, Event{PaymentID: p.ID, Kind: EventBindingMismatch, Source: source, Detail: detail(d)})
				}
				continue
			}
			bound = true
			break
		}

		changed := false
		target := p.Status
		var reason map[string]any
		if bound {
			if p.GatewayRef == "" {
				p.GatewayRef, changed = st.Ref, true
			}
			if mergeData(p, st.Data) {
				changed = true
			}
			if st.TransactionID != "" && st.TransactionID != p.TransactionID {
				p.TransactionID, changed = st.TransactionID, true
			}
			// "pending" is a gateway saying "in progress" (3-D Secure, KNET
			// processing); a transaction with no result at all (the shopper
			// is still on the page) changes nothing.
			if st.Outcome != OutcomePending || st.Result != "" {
				target = st.Outcome.Status()
			}
			reason = map[string]any{"result": st.Result, "outcome": st.Outcome, "ref": st.Ref, "answer": st.Raw}
		}
		if !target.Final() && !now.Before(p.ExpiresAt) {
			target = StatusExpired
			reason = map[string]any{"reason": "the gateway page lifetime ended without a final answer", "expired_at": p.ExpiresAt, "last_result": st.Result}
		}
		if CanTransition(p.Status, target) {
			out = append(out, transition(p.ID, p.Status, target, source, detail(reason)))
			p.Status = target
			if target.Final() {
				p.SyncState = SyncPending
			}
			changed = true
		}
		// Claims of success the final truth contradicts are recorded.
		pendingClaim := false
		for _, t := range triggers {
			if t.judged || t.claim.Outcome != OutcomePaid {
				continue
			}
			if p.Status == StatusPaid {
				continue
			}
			if p.Status.Final() {
				out = append(out, judge(p.ID, EventClaimRejected, t, map[string]any{
					"claimed": t.claim.Result, "gateway_result": st.Result, "status": p.Status}))
				continue
			}
			pendingClaim = true
		}
		if !changed && len(out) == 0 {
			if pendingClaim {
				return p, ErrNotSettled
			}
			return p, nil
		}
		c := Change{Events: out}
		if changed {
			p.UpdatedAt = now
			c.Payment = p
		}
		err = s.store.Apply(ctx, c)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return p, err
		}
		if changed && p.Status.Final() {
			s.log.InfoContext(ctx, "payment final", "payment", p.ID, "status", p.Status, "source", source)
			s.enqueueSync(ctx, p.ID, "")
		}
		if pendingClaim {
			return p, ErrNotSettled
		}
		return p, nil
	}
	return nil, fmt.Errorf("confirm %s: %w", id, ErrConflict)
}

// mismatch says why a gateway answer is not about our payment, or "".
func mismatch(p *Payment, ref string, st GatewayStatus) string {
	switch {
	case st.Ref != ref:
		return fmt.Sprintf("gateway answered about transaction %q, asked about %q", st.Ref, ref)
	case st.OrderID != "" && st.OrderID != p.GatewayOrderID:
		return fmt.Sprintf("transaction belongs to order %q, not %q", st.OrderID, p.GatewayOrderID)
	case st.Outcome == OutcomePending:
		return "" // nothing settled yet: no amount to bind
	case st.OrderID == "":
		return "gateway answer does not name the order"
	case st.Amount.Currency != p.Amount.Currency:
		return fmt.Sprintf("transaction currency %q, payment currency %q", st.Amount.Currency, p.Amount.Currency)
	case st.Amount.Minor != p.Amount.Minor:
		return fmt.Sprintf("transaction amount %s, payment amount %s", st.Amount, p.Amount)
	}
	return ""
}

type trigger struct {
	id     int64
	claim  claim
	judged bool
}

// unjudged returns the trigger events (notifications, returns) that no
// claim_rejected or binding_mismatch event has answered yet, oldest first.
func unjudged(events []Event) []*trigger {
	judged := map[int64]bool{}
	for _, e := range events {
		if e.Kind == EventClaimRejected || e.Kind == EventBindingMismatch {
			var d struct {
				Trigger int64 `json:"trigger"`
			}
			if json.Unmarshal(e.Detail, &d) == nil && d.Trigger != 0 {
				judged[d.Trigger] = true
			}
		}
	}
	var out []*trigger
	for _, e := range events {
		if (e.Kind != EventNotification && e.Kind != EventReturn) || judged[e.ID] {
			continue
		}
		var d struct {
			Claim claim `json:"claim"`
		}
		if json.Unmarshal(e.Detail, &d) != nil || d.Claim.Outcome == "" {
			continue
		}
		out = append(out, &trigger{id: e.ID, claim: d.Claim})
	}
	return out
}

func anyTrigger(ts []*trigger, ref string) bool {
	for _, t := range ts {
		if t.claim.Ref == ref {
			return true
		}
	}
	return false
}

func judge(paymentID, kind string, t *trigger, d map[string]any) Event {
	d["trigger"] = t.id
	d["claimed_result"] = t.claim.Result
	return Event{PaymentID: paymentID, Kind: kind, Source: "worker", Detail: detail(d)}
}

func (s *Service) applyEvents(ctx context.Context, evs []Event) {
	if len(evs) == 0 {
		return
	}
	if err := s.store.Apply(ctx, Change{Events: evs}); err != nil {
		s.log.ErrorContext(ctx, "record events", "err", err)
	}
}

func (s *Service) enqueueSync(ctx context.Context, paymentID, refundID string) {
	if err := s.queue.EnqueueSync(context.WithoutCancel(ctx), paymentID, refundID); err != nil {
		// The row says unsynced; the reconciler enqueues it again.
		s.log.WarnContext(ctx, "enqueue sync", "payment", paymentID, "refund", refundID, "err", err)
	}
}

// SyncPayment pushes a final payment's state to its platform. It does
// nothing for open or already synced payments. A payment whose sync was
// given up (sync_failed) is tried again: that is how a replayed job works.
func (s *Service) SyncPayment(ctx context.Context, id string) error {
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return err
	}
	if !p.Status.Final() || (p.SyncState != SyncPending && p.SyncState != SyncFailed) {
		return nil
	}
	sy, shop, err := s.syncTarget(ctx, p)
	if err != nil {
		return err
	}
	if err := sy.SyncPayment(ctx, shop, p); err != nil {
		return fmt.Errorf("sync %s to %s: %w", p.ID, p.Platform, err)
	}
	for range 3 {
		if p.SyncState == SyncDone {
			return nil
		}
		p.SyncState, p.UpdatedAt = SyncDone, s.now()
		err = s.store.Apply(ctx, Change{Payment: p, Events: []Event{{PaymentID: p.ID, Kind: EventSyncSucceeded, Source: "worker",
			Detail: detail(map[string]any{"status": p.Status, "platform": p.Platform})}}})
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if p, err = s.store.Payment(ctx, id); err != nil {
			return err
		}
	}
	return fmt.Errorf("record sync of %s: %w", id, ErrConflict)
}

// syncTarget returns the syncer and shop a payment's states go to.
func (s *Service) syncTarget(ctx context.Context, p *Payment) (Syncer, *Shop, error) {
	sy, ok := s.syncers[p.Platform]
	if !ok {
		return nil, nil, Permanent("sync", fmt.Errorf("no syncer for platform %q", p.Platform))
	}
	shop, err := s.store.Shop(ctx, p.ShopID)
	if err != nil {
		return nil, nil, err
	}
	return sy, shop, nil
}

// SyncGaveUp records that pushing a final state was given up after the
// retries ran out or on a permanent error: sync_failed plus an event with
// the reason, so the merchant's list and the archive agree.
func (s *Service) SyncGaveUp(ctx context.Context, paymentID, refundID, reason string) error {
	for range 3 {
		var c Change
		if refundID != "" {
			r, err := s.store.Refund(ctx, refundID)
			if err != nil {
				return err
			}
			if r.SyncState != SyncPending {
				return nil
			}
			r.SyncState, r.UpdatedAt = SyncFailed, s.now()
			c = Change{Refund: r, Events: []Event{{PaymentID: r.PaymentID, RefundID: r.ID, Kind: EventSyncFailed, Source: "worker", Detail: detail(map[string]any{"reason": reason})}}}
		} else {
			p, err := s.store.Payment(ctx, paymentID)
			if err != nil {
				return err
			}
			if p.SyncState != SyncPending {
				return nil
			}
			p.SyncState, p.UpdatedAt = SyncFailed, s.now()
			c = Change{Payment: p, Events: []Event{{PaymentID: p.ID, Kind: EventSyncFailed, Source: "worker", Detail: detail(map[string]any{"reason": reason})}}}
		}
		err := s.store.Apply(ctx, c)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// maxRecheckSpacing caps how long an old open payment waits between two
// reconciler checks.
const maxRecheckSpacing = 15 * time.Minute

// recheckDue says whether the reconciler should ask the gateway about an
// open payment again: never asked, past its expiry (one last check), or
// last asked longer ago than a quarter of its age (at least ReconcileAfter,
// at most 15 minutes). A payment abandoned on the gateway page is asked
// about some 10 times in its first hour instead of 60, which keeps the
// polling well inside a gateway's rate limit (UPayments: 30 a minute, per
// research, UNCONFIRMED) while a fresh payment is still checked quickly.
func (s *Service) recheckDue(p *Payment, now time.Time) bool {
	if p.CheckedAt.IsZero() || !now.Before(p.ExpiresAt) {
		return true
	}
	spacing := min(max(now.Sub(p.CreatedAt)/4, s.cfg.ReconcileAfter), maxRecheckSpacing)
	return now.Sub(p.CheckedAt) >= spacing
}

// Reconcile is one pass of the periodic reconciler: open payments left
// alone longer than ReconcileAfter are confirmed (and expired past their
// page lifetime), final payments and refunds whose sync is pending are
// enqueued again, and refunds still pending at the gateway are re-processed.
// It is what makes a lost notification or a lost queue harmless.
func (s *Service) Reconcile(ctx context.Context) error {
	before := s.now().Add(-s.cfg.ReconcileAfter)
	open, err := s.store.OpenPayments(ctx, before, s.cfg.ReconcileBatch)
	if err != nil {
		return fmt.Errorf("list open payments: %w", err)
	}
	var errs []error
	now := s.now()
	due := 0
	for _, p := range open {
		if !s.recheckDue(p, now) {
			continue
		}
		due++
		if err := s.queue.EnqueueConfirm(ctx, p.ID, 0); err != nil {
			errs = append(errs, err)
		}
	}
	unsynced, err := s.store.UnsyncedPayments(ctx, before, s.cfg.ReconcileBatch)
	if err != nil {
		return fmt.Errorf("list unsynced payments: %w", err)
	}
	for _, p := range unsynced {
		if err := s.queue.EnqueueSync(ctx, p.ID, ""); err != nil {
			errs = append(errs, err)
		}
	}
	refunds, err := s.store.OpenRefunds(ctx, before, s.cfg.ReconcileBatch)
	if err != nil {
		return fmt.Errorf("list open refunds: %w", err)
	}
	for _, r := range refunds {
		if r.Status == RefundPending {
			err = s.queue.EnqueueRefund(ctx, r.ID)
		} else {
			err = s.queue.EnqueueSync(ctx, r.PaymentID, r.ID)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if due+len(unsynced)+len(refunds) > 0 {
		s.log.InfoContext(ctx, "reconcile", "open", len(open), "rechecked", due, "unsynced", len(unsynced), "refunds", len(refunds), "enqueue_errors", len(errs))
	}
	return errors.Join(errs...)
}

// EventAnnotated records platform data added to a payment after creation.
const EventAnnotated = "annotated"

// Annotate merges non-secret platform data into a payment's Metadata (a
// Shopify redirect URL learned when the session was resolved, a store note
// id …) with a compare-and-set and an audit event. Keys already holding the
// same value are left alone; nothing is written when nothing changes.
func (s *Service) Annotate(ctx context.Context, paymentID string, meta map[string]string, source string) (*Payment, error) {
	for attempt := range casAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		p, err := s.store.Payment(ctx, paymentID)
		if err != nil {
			return nil, err
		}
		changed := map[string]string{}
		for k, v := range meta {
			if p.Metadata[k] != v {
				changed[k] = v
			}
		}
		if len(changed) == 0 {
			return p, nil
		}
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		for k, v := range changed {
			p.Metadata[k] = v
		}
		p.UpdatedAt = s.now()
		err = s.store.Apply(ctx, Change{Payment: p, Events: []Event{{PaymentID: p.ID, Kind: EventAnnotated, Source: source,
			Detail: detail(map[string]any{"metadata": changed})}}})
		if errors.Is(err, ErrConflict) {
			continue
		}
		return p, err
	}
	return nil, fmt.Errorf("annotate %s: %w", paymentID, ErrConflict)
}
