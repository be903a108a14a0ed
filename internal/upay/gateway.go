package upay

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/gatewayhttp"
)

// Config configures a [Gateway]. The zero value is usable.
type Config struct {
	// SandboxURL is the API base for sandbox accounts (default [SandboxURL],
	// https://sandboxapi.upayments.com/api/v1).
	SandboxURL string
	// LiveURL is the API base for live accounts (default [LiveURL],
	// https://apiv2api.upayments.com/api/v1).
	LiveURL string
	// HTTPClient sends the requests (default: a pooled client shared by
	// every UPayments client, see package gatewayhttp).
	HTTPClient *http.Client
	// Timeout bounds each API call (default 15 s).
	Timeout time.Duration
	// Now is the clock for signature freshness (default time.Now).
	Now func() time.Time
}

// Gateway is the UPayments adapter; it implements checkout.Gateway.
// Credentials come from the account: "api_key" (required) and "api_secret"
// (optional; signs our requests and verifies signed notifications).
type Gateway struct {
	cfg     Config
	buttons buttonCache
}

var (
	_ checkout.Gateway  = (*Gateway)(nil)
	_ checkout.Refunder = (*Gateway)(nil)
)

var _ checkout.CustomerTokener = (*Gateway)(nil)

// NewCustomerToken makes a customer's tokens.customerUniqueToken: UPayments
// wants a merchant-chosen number of 8 to 18 digits, registered with
// create-customer-unique-token before use. It is 16 random digits (not a
// phone number or a hash of an e-mail, as the official plugins use, which
// another merchant's customer could share or guess).
func (g *Gateway) NewCustomerToken(ctx context.Context, acct checkout.GatewayAccount) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9e15))
	if err != nil {
		return "", fmt.Errorf("upay: customer token: %w", err)
	}
	tok := strconv.FormatInt(n.Int64()+1e15, 10)
	if _, err := g.Client(acct).CreateCustomerUniqueToken(ctx, tok); err != nil {
		return "", err
	}
	return tok, nil
}

// pluginSources are the platforms whose name UPayments knows as a
// plugin.src (seed 000: opencart, whmcs, cscart, woocommerce, magento,
// ecwid and the mobile SDKs); other platforms send none.
var pluginSources = map[string]bool{checkout.PlatformWooCommerce: true}

// GatewayData keys set from UPayments' answers.
const (
	// DataUpayOrderID is UPayments' order_id of the transaction.
	DataUpayOrderID = "upay_order_id"
	// DataRefundOrderID is the refund_order_id a refund must name.
	DataRefundOrderID = "refund_order_id"
	// DataPaymentType is the method used ("knet", "cc" …).
	DataPaymentType = "payment_type"
	// DataInvoiceID is the invoice_id of a create-invoice charge.
	DataInvoiceID = "invoice_id"
)

// New returns the adapter; see [Config] for defaults.
func New(cfg Config) *Gateway {
	if cfg.SandboxURL == "" {
		cfg.SandboxURL = SandboxURL
	}
	if cfg.LiveURL == "" {
		cfg.LiveURL = LiveURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Gateway{cfg: cfg}
}

// Name returns "upay".
func (g *Gateway) Name() string { return GatewayName }

// Client returns the API client for the account.
func (g *Gateway) Client(acct checkout.GatewayAccount) *Client {
	base := g.cfg.LiveURL
	if acct.Sandbox {
		base = g.cfg.SandboxURL
	}
	return &Client{BaseURL: base, APIKey: acct.Credentials["api_key"], APISecret: acct.Credentials["api_secret"],
		HTTPClient: g.cfg.HTTPClient, Timeout: g.cfg.Timeout, Now: g.cfg.Now}
}

// MapResult maps UPayments' result word to an outcome. Only "CAPTURED" is
// paid; anything not known for certain (PENDING, APPROVED, empty, unknown)
// is pending. Matching is exact: final outcomes cannot be undone, so a word
// in another spelling ("captured", " CAPTURED") stays pending too.
func MapResult(result string) checkout.Outcome {
	switch result {
	case "CAPTURED":
		return checkout.OutcomePaid
	case "NOT CAPTURED", "FAILED", "DECLINED":
		return checkout.OutcomeFailed
	case "CANCELED", "CANCELLED":
		return checkout.OutcomeCanceled
	}
	return checkout.OutcomePending
}

// ChargeRequestFor builds the charge body CreatePayment sends for p.
func ChargeRequestFor(p *checkout.Payment, urls checkout.URLs) (ChargeRequest, error) {
	if _, err := checkout.Exponent(p.Amount.Currency); err != nil {
		return ChargeRequest{}, fmt.Errorf("payment amount: %w", err)
	}
	desc := p.Description
	if desc == "" {
		desc = "Order " + p.OrderID
	}
	req := ChargeRequest{
		Order: Order{ID: p.GatewayOrderID, Reference: cmp.Or(p.Options.Reference, p.OrderID), Description: desc,
			Currency: p.Amount.Currency, Amount: json.Number(p.Amount.String())},
		Reference: Reference{ID: p.ID},
		Customer: Customer{UniqueID: p.Customer.UniqueID, Name: p.Customer.Name,
			Email: p.Customer.Email, Mobile: p.Customer.Mobile},
		CustomerExtraData: p.Options.ExtraData,
		Tokens:            Tokens{CustomerUniqueToken: json.Number(p.CustomerToken)},
		Language:          "en",
		IsSaveCard:        p.Options.SaveCard,
		ReturnURL:         urls.Return,
		CancelURL:         urls.Cancel,
		NotificationURL:   urls.Notify,
	}
	if req.Order.ID == "" {
		req.Order.ID = p.ID
	}
	if req.Customer.UniqueID == "" {
		req.Customer.UniqueID = p.ID
	}
	if p.Language == "ar" {
		req.Language = "ar"
	}
	if p.PaymentMethod != "" {
		req.PaymentGateway = &PaymentGateway{Src: p.PaymentMethod}
	}
	if pluginSources[p.Platform] {
		req.Plugin = &Plugin{Src: p.Platform}
	}
	for i, pr := range p.Products {
		line := Product{Name: pr.Name, Description: pr.Description, Quantity: pr.Quantity}
		switch {
		case pr.Price.Currency == "" && pr.Price.Minor == 0:
			// no price given: omit it
		case pr.Price.Currency != p.Amount.Currency:
			return ChargeRequest{}, fmt.Errorf("product %d: %w: %s in a %s payment", i, checkout.ErrCurrencyMismatch, pr.Price.Currency, p.Amount.Currency)
		default:
			line.Price = json.Number(pr.Price.String())
		}
		req.Products = append(req.Products, line)
	}
	for _, sp := range p.Options.Splits {
		req.ExtraMerchantData = append(req.ExtraMerchantData, ExtraMerchant{
			Amount: json.Number(sp.Amount.String()), IBANNumber: sp.IBAN,
			KnetCharge: json.Number(sp.KNETCharge.Value), KnetChargeType: sp.KNETCharge.Type,
			CCCharge: json.Number(sp.CardCharge.Value), CCChargeType: sp.CardCharge.Type})
	}
	if inv := p.Options.Invoice; inv != nil {
		req.PaymentGateway = &PaymentGateway{Src: "create-invoice"}
		req.NotificationType = inv.Notify
		if req.NotificationType == "" {
			req.NotificationType = checkout.NotifyLink
		}
	}
	return req, nil
}

// CreatePayment creates the charge (or, for a payment with an Invoice
// option, the invoice) and
// returns the hosted page. It is never retried here.
func (g *Gateway) CreatePayment(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, urls checkout.URLs) (checkout.Charge, error) {
	req, err := ChargeRequestFor(p, urls)
	if err != nil {
		return checkout.Charge{}, api.RequestError("charge", err)
	}
	c := g.Client(acct)
	if req.PaymentGateway != nil && req.PaymentGateway.Src == "create-invoice" {
		inv, err := c.CreateInvoice(ctx, req)
		if err != nil {
			return checkout.Charge{}, err
		}
		ch := checkout.Charge{URL: inv.URL, Raw: inv.Raw}
		ch.Data = map[string]string{checkout.DataInvoiceSentEmail: strconv.FormatBool(inv.Email), checkout.DataInvoiceSentSMS: strconv.FormatBool(inv.SMS)}
		if inv.InvoiceID != "" {
			ch.Data[DataInvoiceID] = inv.InvoiceID
		}
		if ch.URL == "" && (req.NotificationType == "link" || req.NotificationType == "all") {
			return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "invoice",
				HTTPStatus: http.StatusCreated, Message: "UPayments created the invoice but returned no link", Err: &APIError{StatusCode: http.StatusCreated, Body: gatewayhttp.Snippet(inv.Raw)}}
		}
		return ch, nil
	}
	var notes map[string]string
	if req.PaymentGateway != nil {
		methods, err := g.AccountMethods(ctx, acct)
		switch {
		case err != nil:
			// Unknown: the method is sent (a non-white-label account
			// ignores it, seed 000's second answer).
		case methods == nil:
			req.PaymentGateway = nil
			notes = map[string]string{"payment_method": p.PaymentMethod + " not sent: the UPayments account is not white-label, its page offers the methods"}
		case !slices.Contains(methods, req.PaymentGateway.Src):
			return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "charge",
				Message: fmt.Sprintf("this UPayments account does not offer %s (it offers %s)", req.PaymentGateway.Src, strings.Join(methods, ", "))}
		}
	}
	res, err := c.Charge(ctx, req)
	if err != nil {
		return checkout.Charge{}, err
	}
	if res.Link == "" {
		return checkout.Charge{}, &checkout.GatewayError{Gateway: GatewayName, Op: "charge",
			HTTPStatus: http.StatusCreated, Message: "UPayments accepted the charge but returned no payment link",
			Err: &APIError{StatusCode: http.StatusCreated, Body: gatewayhttp.Snippet(res.Raw)}}
	}
	return checkout.Charge{Ref: res.TrackID, URL: res.Link, Raw: res.Raw, Notes: notes}, nil
}

var _ checkout.MethodLister = (*Gateway)(nil)

// buttonsTTL is how long an account's set-up (check-payment-button-status)
// is reused before UPayments is asked again.
const buttonsTTL = 10 * time.Minute

// buttonCache remembers each account's methods for buttonsTTL, so a
// checkout does not ask UPayments twice. It holds no secret: entries are
// keyed by a hash of the API base and key.
type buttonCache struct {
	mu sync.Mutex
	m  map[[32]byte]buttonEntry
}

type buttonEntry struct {
	methods []string
	at      time.Time
}

// AccountMethods implements checkout.MethodLister: a white-label
// account's enabled methods (check-payment-button-status), nil for another
// account.
func (g *Gateway) AccountMethods(ctx context.Context, acct checkout.GatewayAccount) ([]string, error) {
	c := g.Client(acct)
	k := sha256.Sum256([]byte(c.BaseURL + "\x00" + c.APIKey))
	now := g.cfg.Now()
	g.buttons.mu.Lock()
	e, ok := g.buttons.m[k]
	g.buttons.mu.Unlock()
	if ok && now.Sub(e.at) < buttonsTTL {
		return e.methods, nil
	}
	b, err := c.CheckPayButtons(ctx)
	if err != nil {
		return nil, err
	}
	var methods []string
	if b.WhiteLabel {
		methods = append([]string{}, b.Methods...)
	}
	g.buttons.mu.Lock()
	if g.buttons.m == nil {
		g.buttons.m = map[[32]byte]buttonEntry{}
	}
	g.buttons.m[k] = buttonEntry{methods: methods, at: now}
	g.buttons.mu.Unlock()
	return methods, nil
}

// Status asks get-payment-status/{ref}. Fields UPayments did not send are
// left empty; binding them to p is the core's job.
func (g *Gateway) Status(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, ref string) (checkout.GatewayStatus, error) {
	t, err := g.Client(acct).PaymentStatus(ctx, ref)
	if err != nil {
		return checkout.GatewayStatus{}, err
	}
	return statusFrom(t)
}

func statusFrom(t Transaction) (checkout.GatewayStatus, error) {
	st := checkout.GatewayStatus{
		Outcome:       MapResult(t.Result),
		Result:        t.Result,
		Ref:           t.TrackID,
		OrderID:       t.MerchantRequestedOrderID,
		TransactionID: t.PaymentID,
		Raw:           t.Raw,
	}
	if t.TotalPrice != "" || t.CurrencyType != "" {
		m, err := t.Amount()
		if err != nil {
			return checkout.GatewayStatus{}, api.AnswerError("status", fmt.Errorf("total_price %q %q: %w", t.TotalPrice, t.CurrencyType, err))
		}
		st.Amount = m
	}
	data := map[string]string{}
	for k, v := range map[string]string{DataUpayOrderID: t.OrderID, DataRefundOrderID: t.RefundOrderID, DataPaymentType: t.PaymentType} {
		if v != "" {
			data[k] = v
		}
	}
	if len(data) > 0 {
		st.Data = data
	}
	return st, nil
}

// Refund submits r (POST create-refund) and answers RefundPending with the
// refund's refund_order_id as Ref: UPayments settles refunds later.
// UNCONFIRMED: whether orderId must be the payment's refund_order_id or its
// order_id (refund_order_id is preferred, as Magento does). Never retried
// here: UPayments has no idempotency key.
func (g *Gateway) Refund(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, r *checkout.Refund) (checkout.RefundResult, error) {
	orderID := p.GatewayData[DataRefundOrderID]
	if orderID == "" {
		orderID = p.GatewayData[DataUpayOrderID]
	}
	if orderID == "" {
		return checkout.RefundResult{}, &checkout.GatewayError{Gateway: GatewayName, Op: "refund",
			Message: "no UPayments order id is recorded for this payment; check its status first"}
	}
	if r.Amount.Currency != p.Amount.Currency {
		return checkout.RefundResult{}, api.RequestError("refund", fmt.Errorf("%w: refund in %s of a %s payment", checkout.ErrCurrencyMismatch, r.Amount.Currency, p.Amount.Currency))
	}
	if !r.Amount.Positive() {
		return checkout.RefundResult{}, api.RequestError("refund", errors.New("refund amount must be positive"))
	}
	if len(r.Splits) > 0 {
		return g.refundVendors(ctx, acct, orderID, r)
	}
	res, err := g.Client(acct).CreateRefund(ctx, RefundRequest{
		OrderID:              orderID,
		TotalPrice:           r.Amount.String(),
		CustomerFirstName:    p.Customer.Name,
		CustomerEmail:        p.Customer.Email,
		CustomerMobileNumber: p.Customer.Mobile,
		Reference:            r.ID,
	})
	if err != nil {
		return checkout.RefundResult{}, err
	}
	return checkout.RefundResult{Status: checkout.RefundPending, Ref: res.RefundOrderID, Raw: res.Raw}, nil
}

// refundVendors refunds a split payment vendor by vendor
// (create-multivendor-refund). Entries UPayments refuses (tampered data,
// a refund issue, a vendor's insufficient balance) fail the refund with
// UPayments' words; the vendors' refund_order_ids, comma-separated, are
// the refund's reference.
func (g *Gateway) refundVendors(ctx context.Context, acct checkout.GatewayAccount, orderID string, r *checkout.Refund) (checkout.RefundResult, error) {
	req := MultivendorRefundRequest{OrderID: orderID, IsMultivendorRefund: true}
	for i, s := range r.Splits {
		left, err := s.Paid.Sub(s.Before)
		if err != nil {
			return checkout.RefundResult{}, api.RequestError("refund", err)
		}
		req.RefundPayload = append(req.RefundPayload, VendorRefund{RefundRequestID: fmt.Sprintf("%s-%d", r.ID, i+1), IBANNumber: s.IBAN,
			TotalPaid: s.Paid.String(), RefundedAmount: s.Before.String(), RemainingLimit: left.String(),
			AmountToRefund: s.Amount.String(), MerchantType: "vendor"})
	}
	res, err := g.Client(acct).CreateMultivendorRefund(ctx, req)
	if err != nil {
		return checkout.RefundResult{}, err
	}
	if len(res.Problems) > 0 || len(res.Generated) != len(r.Splits) {
		why := strings.Join(res.Problems, "; ")
		if why == "" {
			why = fmt.Sprintf("%d of %d vendor refunds made", len(res.Generated), len(r.Splits))
		}
		return checkout.RefundResult{}, &checkout.GatewayError{Gateway: GatewayName, Op: "refund", HTTPStatus: http.StatusCreated,
			Message: "UPayments refused the multi-vendor refund: " + why, Err: &APIError{StatusCode: http.StatusCreated, Body: gatewayhttp.Snippet(res.Raw)}}
	}
	refs := make([]string, len(res.Generated))
	for i, gr := range res.Generated {
		refs[i] = gr.RefundOrderID
	}
	return checkout.RefundResult{Status: checkout.RefundPending, Ref: strings.Join(refs, ","), Raw: res.Raw}, nil
}

// RefundStatus asks check-refund-status/{r.GatewayRef} (for a multi-vendor
// refund, for each vendor's refund_order_id): is_refunded true (for every
// vendor) is RefundSucceeded, anything else RefundPending. UNCONFIRMED
// semantics: the docs name the path parameter order_id and do not say
// whether a refused refund ever reports failure, so this adapter never
// answers RefundFailed.
func (g *Gateway) RefundStatus(ctx context.Context, acct checkout.GatewayAccount, p *checkout.Payment, r *checkout.Refund) (checkout.RefundResult, error) {
	res := checkout.RefundResult{Status: checkout.RefundSucceeded, Ref: r.GatewayRef}
	for _, ref := range strings.Split(r.GatewayRef, ",") {
		st, err := g.Client(acct).CheckRefundStatus(ctx, ref)
		if err != nil {
			return checkout.RefundResult{}, err
		}
		res.Raw = st.Raw
		if !st.IsRefunded {
			res.Status = checkout.RefundPending
		}
	}
	return res, nil
}
