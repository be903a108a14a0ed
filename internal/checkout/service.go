package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"

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
	// reconciler first re-checks it. Default 2 minutes (the bridge runs
	// with 20 s).
	ReconcileAfter time.Duration
	// ReconcileInterval is how often a reconcile pass runs (the jobs'
	// scheduler runs them). Default 1 minute.
	ReconcileInterval time.Duration
	// ReconcileShopBudget bounds the status calls the reconciler makes for
	// one shop's open payments per minute (per pass, its share of the
	// minute, at least one), so that a burst of abandoned payments stays
	// within the gateway's rate limit; the rest wait for later passes,
	// least recently checked first. Default 15: UPayments reportedly
	// allows 30 requests a minute (UNCONFIRMED), half is left to the
	// shoppers and notifications of the same shop.
	ReconcileShopBudget int
	// ReconcileBatch bounds the rows one reconcile pass looks at per kind.
	// Default 500.
	ReconcileBatch int
	// HotConfirms bounds the notifications confirmed at once in the
	// receiving process, each in a goroutine of its own, ahead of the queue
	// (one queue hop fewer between the notification and the store); past
	// the bound a notification waits for the queue's confirm. Either way
	// the queue keeps a durable fallback. Zero means none: every
	// confirmation goes through the queue (the bridge sets
	// DefaultHotConfirms).
	HotConfirms int
	// HotTimeout bounds one hot confirmation. Default 10 s.
	HotTimeout time.Duration
	// InvoiceLifetime is how long an invoice's pay link (sent by the
	// gateway, paid whenever the customer opens it) is watched for payment
	// before the payment expires. Default 7 days. (UPayments does not say
	// how long its invoice links stay payable: UNCONFIRMED.)
	InvoiceLifetime time.Duration
	// FallbackDelay is how long the queue waits before redoing a hot
	// confirmation (for when this process dies during it): long enough that
	// it finds it done. Default 15 s.
	FallbackDelay time.Duration
	// AllowInsecureURLs accepts http:// and loopback merchant URLs (for
	// development and tests). Default false.
	AllowInsecureURLs bool
	// Clock tells business time: expiry, reconcile ages, event times.
	// Default: the real clock. (The pauses between compare-and-set retries
	// are real time whatever the clock: they pace database writers.)
	Clock clockwork.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultHotConfirms is the Config.HotConfirms the bridge runs with.
const DefaultHotConfirms = 64

// Service is the core: it creates payments, turns gateway answers into
// state transitions, and drives refunds and store syncs. It is safe for
// concurrent use by many web and worker processes sharing one database:
// every write is a compare-and-set.
type Service struct {
	store    Store
	queue    Queue
	cfg      Config
	gateways map[string]Gateway
	// gatewayOrder is the gateways' names in registration order.
	gatewayOrder []string
	syncers      map[string]Syncer
	log          *slog.Logger
	// hot holds a token per hot confirmation running (HotConfirms of
	// them at most); hotWG waits for them.
	hot   chan struct{}
	hotWG sync.WaitGroup
}

// NewService returns a Service over the store and queue. Register gateways
// and syncers before use.
func NewService(store Store, queue Queue, cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
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
	if cfg.ReconcileShopBudget <= 0 {
		cfg.ReconcileShopBudget = 15
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = time.Minute
	}
	if cfg.HotTimeout <= 0 {
		cfg.HotTimeout = 10 * time.Second
	}
	if cfg.InvoiceLifetime <= 0 {
		cfg.InvoiceLifetime = 7 * 24 * time.Hour
	}
	if cfg.FallbackDelay <= 0 {
		cfg.FallbackDelay = 15 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{store: store, queue: queue, cfg: cfg,
		gateways: map[string]Gateway{}, syncers: map[string]Syncer{}, log: cfg.Logger,
		hot: make(chan struct{}, max(cfg.HotConfirms, 0))}
}

// RegisterGateway makes an adapter available to shops naming it.
func (s *Service) RegisterGateway(g Gateway) {
	if _, ok := s.gateways[g.Name()]; !ok {
		s.gatewayOrder = append(s.gatewayOrder, g.Name())
	}
	s.gateways[g.Name()] = g
}

// RegisterSyncer sets the syncer for a platform's shops.
func (s *Service) RegisterSyncer(platform string, sy Syncer) { s.syncers[platform] = sy }

// Gateway returns the registered adapter of that name.
func (s *Service) Gateway(name string) (Gateway, bool) {
	g, ok := s.gateways[name]
	return g, ok
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

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
	// Options are what the payment asks of the gateway besides the charge;
	// each is refused unless the shop's gateway supports it. (Left out of
	// the idempotency fingerprint when empty, so that fingerprints of
	// requests made before options existed still match.)
	Options Options `json:",omitzero"`
	// Fit is set by store flows, which must never block a shopper: a
	// descriptive field over its limit is cut to fit (ending in "…") and an
	// e-mail or mobile number over its limit is left out, each recorded on
	// the created event. Without Fit (the generic API) such a field is a
	// ValidationError naming the field and the limit.
	Fit bool `json:"-"`
}

// checkOptions refuses what the request asks that the gateway does not do:
// a payment method it does not take, an invoice, a saved card or splits.
func (s *Service) checkOptions(gateway string, req *PaymentRequest) error {
	caps, ok := s.Capabilities(gateway)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownGateway, gateway)
	}
	if err := caps.checkMethod(gateway, req.PaymentMethod); err != nil {
		return err
	}
	for _, f := range []struct {
		asked bool
		f     Feature
	}{{req.Options.Invoice != nil, FeatureInvoices}, {req.Options.SaveCard, FeatureSavedCards}, {len(req.Options.Splits) > 0, FeatureSplits}} {
		if f.asked {
			if err := caps.supports(gateway, f.f); err != nil {
				return err
			}
		}
	}
	return nil
}

// createdDetail is the created event's detail: what was asked, and what
// was fitted to the limits.
func createdDetail(p *Payment, fitted []Fitted) json.RawMessage {
	d := map[string]any{"order_id": p.OrderID, "amount": p.Amount.String(), "currency": p.Amount.Currency, "gateway": p.Gateway}
	if len(fitted) > 0 {
		d["fitted"] = fitted
	}
	return detail(d)
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
		Status: routes.WaitURL(s.cfg.PublicURL, p.ID),
	}
}

// Validate checks a request's fields (money is already parsed), fitting
// over-long fields when req.Fit is set; it returns what it fitted.
func (s *Service) Validate(ctx context.Context, req *PaymentRequest) ([]Fitted, error) {
	switch {
	case strings.TrimSpace(req.OrderID) == "":
		return nil, &ValidationError{"order_id", "is required"}
	case utf8.RuneCountInString(req.OrderID) > MaxOrderIDLen:
		return nil, &ValidationError{"order_id", fmt.Sprintf("is longer than %d characters", MaxOrderIDLen)}
	case req.Amount.Currency == "":
		return nil, &ValidationError{"currency", "is required"}
	case !req.Amount.Positive():
		return nil, &ValidationError{"amount", "must be greater than zero"}
	}
	if _, err := Exponent(req.Amount.Currency); err != nil {
		return nil, &ValidationError{"currency", err.Error()}
	}
	fitted, err := req.checkLimits()
	if err != nil {
		return nil, err
	}
	if err := s.checkFields(ctx, req); err != nil {
		return nil, err
	}
	return fitted, nil
}

// checkFields checks everything but the length limits.
func (s *Service) checkFields(ctx context.Context, req *PaymentRequest) error {
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
		uctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
		err := CheckURLContext(uctx, u.v, s.cfg.AllowInsecureURLs, merchantResolver)
		cancel()
		if err != nil {
			return &ValidationError{u.field, err.Error()}
		}
	}
	if inv := req.Options.Invoice; inv != nil {
		switch inv.Notify {
		case NotifyEmail, NotifySMS, NotifyLink, NotifyAll:
		default:
			return &ValidationError{"invoice.notify", `must be "email", "sms", "link" or "all"`}
		}
		if len(req.Options.Splits) > 0 {
			// UPayments: create-invoice "does not work when
			// ExtraMerchantsData has any value" (seed 001).
			return &ValidationError{"invoice", "cannot be combined with splits"}
		}
		if (inv.Notify == NotifyEmail || inv.Notify == NotifyAll) && req.Customer.Email == "" {
			return &ValidationError{"customer.email", "is required to send the invoice by e-mail"}
		}
		if (inv.Notify == NotifySMS || inv.Notify == NotifyAll) && req.Customer.Mobile == "" {
			return &ValidationError{"customer.mobile", "is required to send the invoice by SMS"}
		}
	}
	if req.Options.SaveCard && req.Customer.UniqueID == "" {
		return &ValidationError{"customer.unique_id", "is required to save a card"}
	}
	if err := checkSplits(req.Amount, req.Options.Splits); err != nil {
		return err
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
// shopper's visit to the pay URL, tries the charge again. A new order of a
// shop that does not take payments fails with ErrShopDisabled (wrapped).
func (s *Service) CreatePayment(ctx context.Context, shop *Shop, platform string, req PaymentRequest, source string) (p *Payment, created bool, err error) {
	p, _, created, err = s.CreatePaymentEvents(ctx, shop, platform, req, source)
	return p, created, err
}

// CreatePaymentEvents is [Service.CreatePayment] that also returns, when
// it created the payment, the audit events it wrote with it (as stored,
// IDs set), so that an answer showing them need not read them back; for
// a payment that existed, events is nil.
func (s *Service) CreatePaymentEvents(ctx context.Context, shop *Shop, platform string, req PaymentRequest, source string) (p *Payment, events []Event, created bool, err error) {
	if err := s.refuseDisabledShop(ctx, shop, req.OrderID); err != nil {
		return nil, nil, false, err
	}
	fitted, err := s.Validate(ctx, &req)
	if err != nil {
		return nil, nil, false, err
	}
	if _, ok := s.gateways[shop.Gateway.Gateway]; !ok {
		return nil, nil, false, fmt.Errorf("%w %q for shop %s", ErrUnknownGateway, shop.Gateway.Gateway, shop.ID)
	}
	lifetime := s.lifetime(shop.Gateway.Gateway)
	if req.Options.Invoice != nil {
		lifetime = s.cfg.InvoiceLifetime
	}
	// Refused before anything is stored or sent: a currency or an amount
	// the gateway cannot charge exactly.
	if err := s.CheckPayment(shop.Gateway.Gateway, req.Amount); err != nil {
		return nil, nil, false, err
	}
	if err := s.checkOptions(shop.Gateway.Gateway, &req); err != nil {
		return nil, nil, false, err
	}
	hash := fingerprint(&req)
	g := s.gateways[shop.Gateway.Gateway]
	// The order's payment, and the token of a customer whose saved cards
	// the page shows, in one read.
	customer := ""
	if wantsCustomerToken(g, req.Customer.UniqueID) {
		customer = req.Customer.UniqueID
	}
	existing, token, tokenErr, err := s.store.PaymentByOrderWithToken(ctx, shop.ID, req.OrderID, shop.Gateway.Gateway, customer)
	switch {
	case err == nil:
		p, created, err := s.existingPayment(ctx, shop, existing, hash)
		return p, nil, created, err
	case !errors.Is(err, ErrNotFound):
		return nil, nil, false, err
	}
	now := s.now()
	p = &Payment{
		ID: NewID("pay"), ShopID: shop.ID, Platform: platform, OrderID: req.OrderID,
		Amount: req.Amount, Refunded: Money{Currency: req.Amount.Currency},
		Description: req.Description, Language: req.Language, PaymentMethod: req.PaymentMethod,
		Customer: req.Customer, Products: req.Products,
		ReturnURL: req.ReturnURL, CancelURL: req.CancelURL, CallbackURL: req.CallbackURL,
		Metadata: req.Metadata, Options: req.Options, Status: StatusCreated, Gateway: shop.Gateway.Gateway,
		GatewayData: map[string]string{}, RequestHash: hash,
		ExpiresAt: now.Add(lifetime), CreatedAt: now, UpdatedAt: now,
	}
	p.GatewayOrderID = p.ID
	// The charge is made first and the payment stored with it, in one
	// write: no transaction is open across the gateway call, and a
	// payment nobody has seen yet needs no compare-and-set. A process that
	// dies in between leaves a charge at the gateway whose page no shopper
	// was ever sent to (as when two requests race for one order); the
	// merchant's retry creates the payment afresh.
	evs := []Event{{PaymentID: p.ID, At: now, Kind: EventCreated, To: string(StatusCreated), Source: source,
		Detail: createdDetail(p, fitted)}}
	if customer != "" {
		evs = append(evs, s.useCustomerToken(ctx, shop, g, p, token, tokenErr)...)
	}
	charge, chargeErr := g.CreatePayment(ctx, shop.Gateway, p, s.URLs(p))
	p.CustomerToken = ""
	if chargeErr != nil {
		evs = append(evs, chargeFailed(p, chargeErr))
	} else {
		evs = append(evs, storeCharge(p, charge))
	}
	// Once the gateway has a charge it is recorded even if the caller
	// has gone: the merchant's retry then finds it instead of charging
	// again.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	err = s.store.Apply(wctx, Change{NewPayment: p, Events: evs})
	if errors.Is(err, ErrDuplicate) {
		// Lost a race with a request for the same order: its payment is
		// the one, ours is never shown.
		winner, rerr := s.store.PaymentByOrder(ctx, shop.ID, req.OrderID)
		if rerr != nil {
			return nil, nil, false, fmt.Errorf("create payment for order %q: %w (and reading the one stored: %w)", req.OrderID, err, rerr)
		}
		p, created, err := s.existingPayment(ctx, shop, winner, hash)
		return p, nil, created, err
	}
	if err != nil {
		return nil, nil, false, err
	}
	if chargeErr != nil {
		return p, evs, true, fmt.Errorf("create %s charge for %s: %w", p.Gateway, p.ID, chargeErr)
	}
	return p, evs, true, nil
}

// storeTimeout bounds the write that records a charge the gateway made.
const storeTimeout = 10 * time.Second

// existingPayment answers a create for an order that has a payment: the
// payment when the request is the same (charged now if an earlier charge
// failed), ErrIdempotencyConflict when it differs.
func (s *Service) existingPayment(ctx context.Context, shop *Shop, p *Payment, hash string) (*Payment, bool, error) {
	if p.RequestHash != hash {
		return p, false, fmt.Errorf("%w (payment %s)", ErrIdempotencyConflict, p.ID)
	}
	if p.Charged() || p.Status.Final() {
		return p, false, nil
	}
	p, err := s.ensureCharge(ctx, shop, p)
	return p, false, err
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
	s.applyEvents(ctx, s.attachCustomerToken(ctx, shop, g, p))
	charge, err := g.CreatePayment(ctx, shop.Gateway, p, s.URLs(p))
	p.CustomerToken = ""
	if err != nil {
		s.applyEvents(ctx, []Event{chargeFailed(p, err)})
		return p, fmt.Errorf("create %s charge for %s: %w", p.Gateway, p.ID, err)
	}
	return s.updatePayment(ctx, p.ID, p, "store charge for", func(p *Payment) ([]Event, error) {
		if p.Charged() {
			return nil, nil // another request stored a charge first; ours is never shown
		}
		return []Event{storeCharge(p, charge)}, nil
	})
}

// chargeFailed is the audit event of a gateway refusing or failing a
// charge.
func chargeFailed(p *Payment, err error) Event {
	d := map[string]any{"error": err.Error()}
	var ge *GatewayError
	if errors.As(err, &ge) {
		d = map[string]any{"message": ge.Message, "http_status": ge.HTTPStatus, "temporary": ge.Temporary}
	}
	return Event{PaymentID: p.ID, Kind: EventChargeFailed, Source: "gateway", Detail: detail(d)}
}

// storeCharge sets the gateway's new charge on p, which has none, and
// returns the audit event that goes with it.
func storeCharge(p *Payment, charge Charge) Event {
	p.GatewayURL = charge.URL
	if p.GatewayURL == "" {
		// An invoice the gateway only sends (e-mail, SMS) has no page:
		// remember that it exists, so that it is never sent twice.
		mergeData(p, map[string]string{DataCharged: "true"})
	}
	if p.GatewayRef == "" {
		p.GatewayRef = charge.Ref
	}
	mergeData(p, charge.Data)
	d := map[string]any{"ref": charge.Ref, "answer": charge.Raw}
	if len(charge.Notes) > 0 {
		d["notes"] = charge.Notes
	}
	return Event{PaymentID: p.ID, Kind: EventChargeCreated, Source: "gateway", Detail: detail(d)}
}

// EventCustomerTokenFailed records that a saved-card token could not be
// made for the customer: the payment goes ahead without saving the card.
const EventCustomerTokenFailed = "customer_token_failed"

// attachCustomerToken sets p.CustomerToken for a customer the store
// identifies, on a gateway that keeps saved cards: the customer's token if
// they have one (so the page shows their cards), or a new one when they
// asked to save their card. Without a token a request to save is dropped,
// and the audit event it returns says why (the caller writes it); the
// payment itself goes ahead.
func (s *Service) attachCustomerToken(ctx context.Context, shop *Shop, g Gateway, p *Payment) []Event {
	if !wantsCustomerToken(g, p.Customer.UniqueID) {
		return nil
	}
	tok, err := s.store.CustomerToken(ctx, shop.ID, p.Gateway, p.Customer.UniqueID)
	return s.useCustomerToken(ctx, shop, g, p, tok, err)
}

// wantsCustomerToken says whether a payment of the customer the store
// knows as customerID ("" for none) on g goes with a saved-card token.
func wantsCustomerToken(g Gateway, customerID string) bool {
	_, ok := g.(CustomerTokener)
	return ok && customerID != "" && declared(g).SavedCards
}

// useCustomerToken is attachCustomerToken from the token read (tok, or
// err), for a payment that wantsCustomerToken.
func (s *Service) useCustomerToken(ctx context.Context, shop *Shop, g Gateway, p *Payment, tok string, err error) []Event {
	tg := g.(CustomerTokener)
	if err == nil {
		p.CustomerToken = tok
		return nil
	}
	if !errors.Is(err, ErrNotFound) || !p.Options.SaveCard {
		if !errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "customer token", "payment", p.ID, "err", err)
		}
		return nil
	}
	tok, err = tg.NewCustomerToken(ctx, shop.Gateway)
	if err == nil {
		tok, err = s.store.PutCustomerToken(ctx, shop.ID, p.Gateway, p.Customer.UniqueID, tok)
	}
	if err != nil {
		p.Options.SaveCard = false
		return []Event{{PaymentID: p.ID, Kind: EventCustomerTokenFailed, Source: "gateway",
			Detail: detail(map[string]any{"error": err.Error(), "save_card": "dropped"})}}
	}
	p.CustomerToken = tok
	return nil
}

// ForgetCustomer deletes the saved-card tokens the bridge keeps for a
// shop's customer (customerID is the store's id for them), at every
// gateway: the gateway page no longer shows their saved cards. It returns
// how many tokens went.
func (s *Service) ForgetCustomer(ctx context.Context, shop *Shop, customerID, source string) (int64, error) {
	n, err := s.store.ForgetCustomer(ctx, shop.ID, customerID)
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "customer tokens forgotten", "shop", shop.ID, "tokens", n, "source", source)
	return n, nil
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

// logTransitions writes one line per status transition in evs, with the
// payment's ids and how long the step that made it took: a payment's story
// can be read from the log alone.
func (s *Service) logTransitions(ctx context.Context, p *Payment, evs []Event, took time.Duration) {
	for _, e := range evs {
		if e.Kind != EventTransition {
			continue
		}
		s.log.InfoContext(ctx, "payment transition", "payment", p.ID, "shop", p.ShopID, "order", p.OrderID,
			"gateway", p.Gateway, "from", e.From, "to", e.To, "source", e.Source, "took_ms", took.Milliseconds())
	}
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

// EventCustomerRedacted records that a payment's customer details and
// order lines were erased (a privacy request).
const EventCustomerRedacted = "customer_redacted"

// RedactCustomer erases the customer's details and the order lines of shop's
// payment id, keeping amounts, ids and the audit trail as the merchant's
// financial record; why is recorded with the event. A payment of another
// shop is ErrNotFound. Erasing what is already erased writes nothing.
func (s *Service) RedactCustomer(ctx context.Context, shopID, paymentID, why, source string) error {
	_, err := s.updatePayment(ctx, paymentID, nil, "redact customer of", func(p *Payment) ([]Event, error) {
		if p.ShopID != shopID {
			return nil, fmt.Errorf("payment %s of shop %s: %w", paymentID, shopID, ErrNotFound)
		}
		if p.Customer == (Customer{}) && p.Products == nil {
			return nil, nil
		}
		p.Customer, p.Products = Customer{}, nil
		return []Event{{PaymentID: p.ID, Kind: EventCustomerRedacted, Source: source, Detail: detail(map[string]any{"reason": why})}}, nil
	})
	return err
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
	if !p.Charged() {
		shop, err := s.store.Shop(ctx, p.ShopID)
		if err != nil {
			return "", p, err
		}
		if p, err = s.ensureCharge(ctx, shop, p); err != nil {
			return "", p, err
		}
	}
	p, err = s.updatePayment(ctx, id, p, "redirect", func(p *Payment) ([]Event, error) {
		if p.Status != StatusCreated {
			return nil, nil
		}
		from := p.Status
		p.Status = StatusRedirected
		// Gateways count the page's lifetime from when the shopper lands
		// (KNET: 7 minutes), so a link opened late must not expire early.
		if until := s.now().Add(s.lifetime(p.Gateway)); until.After(p.ExpiresAt) {
			p.ExpiresAt = until
		}
		return []Event{transition(p.ID, from, p.Status, "shopper", nil)}, nil
	})
	if errors.Is(err, ErrConflict) {
		// Others kept writing the row: the shopper goes to the page anyway,
		// only the redirect goes unrecorded.
		err = nil
	}
	return p.GatewayURL, p, err
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

// Notify records a gateway notification for payment id as a claim; nothing
// changes state in the call. The claim is then confirmed with the gateway:
// at once, in this process (the hot path, up to Config.HotConfirms at a
// time, with a confirm enqueued after Config.FallbackDelay in case this
// process dies), or by the queue when the hot path is full or off. It
// returns an error wrapping ErrBadSignature for a signed notification whose
// signature fails (recorded), ErrNotFound for an unknown payment.
func (s *Service) Notify(ctx context.Context, gateway, id string, req CallbackRequest) error {
	p, shop, err := s.recordTrigger(ctx, gateway, id, EventNotification, "notification", req)
	if err != nil {
		return err
	}
	if p.Status.Final() {
		return nil
	}
	delay := time.Duration(0)
	hot := s.takeHot()
	if hot {
		delay = s.cfg.FallbackDelay
	}
	if err := s.queue.EnqueueConfirm(ctx, p.ID, delay); err != nil {
		// The notification is recorded; the reconciler will confirm.
		s.log.WarnContext(ctx, "enqueue confirm", "payment", p.ID, "err", err)
	}
	if hot {
		go s.hotConfirm(context.WithoutCancel(ctx), &loaded{payment: p, shop: shop})
	}
	return nil
}

// takeHot reserves a hot confirmation, or reports that none is free.
func (s *Service) takeHot() bool {
	select {
	case s.hot <- struct{}{}:
		s.hotWG.Add(1)
		return true
	default:
		return false
	}
}

// hotConfirm confirms a notified payment at once (a final payment's store
// sync is then enqueued, as always), starting from the payment and shop
// the notification read; it holds a token takeHot gave.
func (s *Service) hotConfirm(ctx context.Context, from *loaded) {
	defer s.hotWG.Done()
	defer func() { <-s.hot }()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HotTimeout)
	defer cancel()
	if _, err := s.confirmFrom(ctx, from.payment.ID, "notification", from); err != nil && !errors.Is(err, ErrNotSettled) {
		s.log.WarnContext(ctx, "hot confirm", "payment", from.payment.ID, "err", err)
	}
}

// loaded is a payment and its shop as a caller just read them: a
// confirmation's first attempt starts from them instead of reading them
// again (a later attempt, after a lost compare-and-set, reads afresh).
type loaded struct {
	payment *Payment
	shop    *Shop
}

// Wait waits for the hot confirmations under way (on shutdown, before the
// store closes).
func (s *Service) Wait() { s.hotWG.Wait() }

func (s *Service) recordTrigger(ctx context.Context, gateway, id, kind, source string, req CallbackRequest) (*Payment, *Shop, error) {
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if gateway != "" && gateway != p.Gateway {
		return nil, nil, fmt.Errorf("payment %s is not a %s payment: %w", id, gateway, ErrNotFound)
	}
	g, ok := s.gateways[p.Gateway]
	if !ok {
		return nil, nil, fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway)
	}
	shop, err := s.store.Shop(ctx, p.ShopID)
	if err != nil {
		return nil, nil, err
	}
	cb, err := g.ParseCallback(ctx, shop.Gateway, req)
	if err != nil {
		kind := EventNotification
		if errors.Is(err, ErrBadSignature) {
			kind = EventSignatureBad
		}
		if aerr := s.store.Apply(ctx, Change{Events: []Event{{PaymentID: p.ID, Kind: kind, Source: source,
			Detail: detail(map[string]any{"error": err.Error()})}}}); aerr != nil {
			return nil, nil, aerr
		}
		return nil, nil, err
	}
	err = s.store.Apply(ctx, Change{Events: []Event{{PaymentID: p.ID, Kind: kind, Source: source,
		Detail: detail(map[string]any{"claim": claim{Result: cb.Result, Outcome: cb.Outcome, Ref: cb.Ref, Signed: cb.Signed}, "fields": cb.Fields})}}})
	return p, shop, err
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
	p, _, err := s.recordTrigger(ctx, "", id, EventReturn, "shopper", req)
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
	return s.confirmFrom(ctx, id, source, nil)
}

// confirmFrom is confirm whose first attempt starts from what the caller
// loaded (nil: it reads the payment and the shop itself).
func (s *Service) confirmFrom(ctx context.Context, id, source string, from *loaded) (*Payment, error) {
	began := time.Now()
	var p *Payment
	var d decision
	err := s.retryCAS(ctx, "confirm "+id, func(attempt int) error {
		var err error
		if attempt == 0 && from != nil {
			p = from.payment
		} else if p, err = s.store.Payment(ctx, id); err != nil {
			return err
		}
		if p.Status.Final() {
			// Its sync was enqueued by the write that made it final; if that
			// enqueue was lost, the reconciler finds the unsynced row.
			d = decision{}
			return nil
		}
		g, ok := s.gateways[p.Gateway]
		if !ok {
			return Permanent("confirm", fmt.Errorf("%w %q", ErrUnknownGateway, p.Gateway))
		}
		var shop *Shop
		if attempt == 0 && from != nil {
			shop = from.shop
		} else if shop, err = s.store.Shop(ctx, p.ShopID); err != nil {
			return err
		}
		events, err := s.store.Events(ctx, p.ID)
		if err != nil {
			return err
		}
		v := verdict{payment: p, triggers: unjudged(events), now: s.now(), source: source}
		var statusErr error
		for i, ref := range refsToAsk(p, v.triggers) {
			st, err := g.Status(ctx, shop.Gateway, p, ref)
			if err != nil {
				v.unreachable = true
				statusErr = fmt.Errorf("status of %s at %s: %w", p.ID, p.Gateway, err)
				break
			}
			if i == 0 {
				if err := s.store.MarkChecked(ctx, p.ID, v.now); err != nil {
					s.log.WarnContext(ctx, "mark checked", "payment", p.ID, "err", err)
				}
			}
			v.answers = append(v.answers, answer{ref: ref, status: st})
			if mismatch(p, ref, st) == "" {
				break
			}
		}
		d = decide(v)
		if statusErr != nil {
			s.applyEvents(ctx, d.events)
			return statusErr
		}
		if d.payment == nil && len(d.events) == 0 {
			return nil
		}
		err = s.store.Apply(ctx, Change{Payment: d.payment, Events: d.events})
		if err == nil && d.payment != nil {
			p = d.payment
			s.logTransitions(ctx, p, d.events, time.Since(began))
		}
		return err
	})
	if err != nil {
		return p, err
	}
	if d.final {
		s.enqueueSync(ctx, p.ID, "")
	}
	if d.notSettled {
		return p, ErrNotSettled
	}
	return p, nil
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
	start := time.Now()
	err = sy.SyncPayment(ctx, shop, p)
	attrs := []any{"payment", p.ID, "shop", p.ShopID, "order", p.OrderID, "platform", p.Platform, "status", p.Status,
		"took_ms", time.Since(start).Milliseconds()}
	if err != nil {
		s.log.WarnContext(ctx, "store sync failed", append(attrs, "err", err)...)
		s.recordSyncAttempt(ctx, p.ID, "", err)
		return fmt.Errorf("sync %s to %s: %w", p.ID, p.Platform, err)
	}
	s.log.InfoContext(ctx, "store synced", attrs...)
	_, err = s.updatePayment(ctx, id, p, "record sync of", func(p *Payment) ([]Event, error) {
		if p.SyncState == SyncDone {
			return nil, nil
		}
		p.SyncState = SyncDone
		return []Event{{PaymentID: p.ID, Kind: EventSyncSucceeded, Source: "worker",
			Detail: detail(map[string]any{"status": p.Status, "platform": p.Platform})}}, nil
	})
	return err
}

// recordSyncAttempt puts a failed store sync on the payment's audit trail
// (EventSyncAttemptFailed), so that every attempt and what the store
// answered can be read later, not only the last one. Best effort: the sync
// is retried whether or not this is recorded.
func (s *Service) recordSyncAttempt(ctx context.Context, paymentID, refundID string, err error) {
	d := map[string]any{"error": err.Error(), "permanent": IsPermanent(err)}
	s.applyEvents(ctx, []Event{{PaymentID: paymentID, RefundID: refundID, Kind: EventSyncAttemptFailed, Source: "worker", Detail: detail(d)}})
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
	gaveUp := []Event{{PaymentID: paymentID, RefundID: refundID, Kind: EventSyncFailed, Source: "worker", Detail: detail(map[string]any{"reason": reason})}}
	if refundID != "" {
		_, err := s.updateRefund(ctx, refundID, nil, "record sync failure of", func(r *Refund) ([]Event, error) {
			if r.SyncState != SyncPending {
				return nil, nil
			}
			r.SyncState, gaveUp[0].PaymentID = SyncFailed, r.PaymentID
			return gaveUp, nil
		})
		return err
	}
	_, err := s.updatePayment(ctx, paymentID, nil, "record sync failure of", func(p *Payment) ([]Event, error) {
		if p.SyncState != SyncPending {
			return nil, nil
		}
		p.SyncState = SyncFailed
		return gaveUp, nil
	})
	return err
}

// minRecheckSpacing and maxRecheckSpacing bound how long an open payment
// waits between two reconciler checks after the first.
const (
	minRecheckSpacing = 2 * time.Minute
	maxRecheckSpacing = 15 * time.Minute
)

// recheckDue says whether the reconciler should ask the gateway about an
// open payment again: never asked, past its expiry (one last check), or
// last asked longer ago than a quarter of its age (at least 2, at most 15
// minutes). A payment abandoned on the gateway page is asked
// about some 10 times in its first hour instead of 60, which keeps the
// polling well inside a gateway's rate limit (UPayments: 30 a minute, per
// research, UNCONFIRMED) while a fresh payment is still checked quickly.
func (s *Service) recheckDue(p *Payment, now time.Time) bool {
	if p.CheckedAt.IsZero() || !now.Before(p.ExpiresAt) {
		return true
	}
	spacing := min(max(now.Sub(p.CreatedAt)/4, minRecheckSpacing), maxRecheckSpacing)
	return now.Sub(p.CheckedAt) >= spacing
}

// shopBudgetPerPass is ReconcileShopBudget's share of one pass.
func (s *Service) shopBudgetPerPass() int {
	return max(1, int(int64(s.cfg.ReconcileShopBudget)*int64(s.cfg.ReconcileInterval)/int64(time.Minute)))
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
	due, deferred := 0, 0
	perShop := map[string]int{}
	for _, p := range open {
		if !s.recheckDue(p, now) {
			continue
		}
		if perShop[p.ShopID] >= s.shopBudgetPerPass() {
			deferred++
			continue
		}
		perShop[p.ShopID]++
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
		s.log.InfoContext(ctx, "reconcile", "open", len(open), "rechecked", due, "deferred_by_shop_budget", deferred,
			"unsynced", len(unsynced), "refunds", len(refunds), "enqueue_errors", len(errs))
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
	return s.updatePayment(ctx, paymentID, nil, "annotate", func(p *Payment) ([]Event, error) {
		changed := map[string]string{}
		for k, v := range meta {
			if p.Metadata[k] != v {
				changed[k] = v
			}
		}
		if len(changed) == 0 {
			return nil, nil
		}
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		maps.Copy(p.Metadata, changed)
		return []Event{{PaymentID: p.ID, Kind: EventAnnotated, Source: source, Detail: detail(map[string]any{"metadata": changed})}}, nil
	})
}
