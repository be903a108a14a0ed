package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

// receiptSource names Shopify's event ids among webhook receipts.
const receiptSource = "shopify"

// SignWebhook returns the X-Shopify-Hmac-Sha256 value of body: base64 of
// HMAC-SHA256 keyed with the app secret.
func SignWebhook(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks a webhook's signature over the raw body, in
// constant time. Like Shopify's own library it compares the header with
// the base64 HMAC as text: no other spelling of the same bytes (spaces,
// line breaks, missing padding) passes.
func VerifyWebhook(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(SignWebhook(secret, body)), []byte(signature))
}

// WebhookHeaders are the headers a delivery must carry, read in one
// spelling: the unprefixed one (Shopify-Hmac-Sha256, …, Shopify's events
// deliveries) when its HMAC header is present, the classic X-Shopify-…
// one otherwise — as @shopify/shopify-api reads them.
type WebhookHeaders struct {
	HMAC, Topic, Domain, APIVersion, WebhookID, EventID string
}

// Errors of ReadWebhookHeaders.
var (
	// ErrWebhookHeaders: a required header is missing.
	ErrWebhookHeaders = errors.New("shopify: webhook headers")
	// ErrDuplicateHMAC: the HMAC header is given more than once, which no
	// genuine delivery does.
	ErrDuplicateHMAC = errors.New("shopify: webhook hmac header given more than once")
)

// ReadWebhookHeaders reads and checks a delivery's headers: HMAC, topic,
// shop domain, API version and webhook id are required (and the event id
// in the unprefixed spelling); an HMAC header given more than once is
// invalid.
func ReadWebhookHeaders(h http.Header) (WebhookHeaders, error) {
	prefix := "X-Shopify-"
	if len(h.Values("Shopify-Hmac-Sha256")) > 0 {
		prefix = "Shopify-"
	}
	if n := len(h.Values(prefix + "Hmac-Sha256")); n > 1 {
		return WebhookHeaders{}, fmt.Errorf("%w: %sHmac-Sha256 %d times", ErrDuplicateHMAC, prefix, n)
	}
	w := WebhookHeaders{HMAC: h.Get(prefix + "Hmac-Sha256"), Topic: h.Get(prefix + "Topic"), Domain: h.Get(prefix + "Shop-Domain"),
		APIVersion: h.Get(prefix + "Api-Version"), WebhookID: h.Get(prefix + "Webhook-Id"), EventID: h.Get(prefix + "Event-Id")}
	var missing []string
	for name, v := range map[string]string{"Hmac-Sha256": w.HMAC, "Topic": w.Topic, "Shop-Domain": w.Domain,
		"Api-Version": w.APIVersion, "Webhook-Id": w.WebhookID} {
		if v == "" {
			missing = append(missing, prefix+name)
		}
	}
	if prefix == "Shopify-" && w.EventID == "" {
		missing = append(missing, "Shopify-Event-Id")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return WebhookHeaders{}, fmt.Errorf("%w: missing %s", ErrWebhookHeaders, strings.Join(missing, ", "))
	}
	return w, nil
}

// webhook verifies, deduplicates and handles one delivery. The work is
// short (a few store writes; for orders/create one gateway call and one
// Admin API call) and done within WebhookBudget; if it fails, the receipt
// is forgotten and the answer is 503, so Shopify's own retries (8 over
// 4 hours) redeliver it.
func (p *Platform) webhook(c *gin.Context) {
	body, err := server.ReadBody(c)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if len(body) == 0 {
		server.WriteError(c, server.Error(http.StatusBadRequest, "empty_body", "the webhook has no body"))
		return
	}
	wh, err := ReadWebhookHeaders(c.Request.Header)
	if errors.Is(err, ErrDuplicateHMAC) {
		server.WriteError(c, server.Wrap(err, http.StatusUnauthorized, "invalid_hmac", "webhook signature does not verify"))
		return
	}
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusBadRequest, "missing_headers", err.Error()))
		return
	}
	if !VerifyWebhook(p.cfg.APISecret, body, wh.HMAC) {
		server.WriteError(c, server.Error(http.StatusUnauthorized, "invalid_hmac", "webhook signature does not verify"))
		return
	}
	topic, domain := wh.Topic, wh.Domain
	if !ValidShop(domain) {
		server.WriteError(c, server.Error(http.StatusBadRequest, "invalid_shop", "shop domain must be *.myshopify.com"))
		return
	}
	// The event id names the event across its deliveries to every
	// subscription; the webhook id names one delivery.
	eventID := wh.EventID
	if eventID == "" {
		eventID = wh.WebhookID
	}
	log := p.log.With("topic", topic, "shop", domain, "api_version", wh.APIVersion, "webhook_id", wh.WebhookID)
	first, err := p.db.RecordReceipt(c.Request.Context(), receiptSource, eventID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if !first {
		c.JSON(http.StatusOK, gin.H{"duplicate": true})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.cfg.WebhookBudget)
	defer cancel()
	if err := p.handleWebhook(ctx, topic, domain, body); err != nil {
		if ferr := p.db.ForgetReceipt(context.WithoutCancel(c.Request.Context()), receiptSource, eventID); ferr != nil {
			log.ErrorContext(c.Request.Context(), "shopify: forget receipt", "event", eventID, "err", ferr)
		}
		log.WarnContext(c.Request.Context(), "shopify: webhook failed; Shopify redelivers it", "err", err)
		server.WriteError(c, server.Wrap(err, http.StatusServiceUnavailable, "webhook_failed", "the webhook could not be processed; redeliver it"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true})
}

func (p *Platform) handleWebhook(ctx context.Context, topic, domain string, body []byte) error {
	shop, err := p.db.ShopByDomain(ctx, checkout.PlatformShopify, domain)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil // not (or no longer) ours: nothing held about it
	}
	if err != nil {
		return err
	}
	switch topic {
	case "app/uninstalled":
		return p.uninstalled(ctx, shop)
	case "customers/data_request":
		return p.dataRequest(ctx, shop, body)
	case "customers/redact":
		return p.customerRedact(ctx, shop, body)
	case "shop/redact":
		return p.shopRedact(ctx, shop)
	case "orders/create":
		return p.orderCreated(ctx, shop, body)
	}
	return nil
}

// uninstalled wipes the shop's tokens: nothing can call Shopify for it
// any more, and syncs still queued fail permanently.
func (p *Platform) uninstalled(ctx context.Context, shop *checkout.Shop) error {
	shop.Secrets = map[string]string{}
	if err := p.db.UpdateShop(ctx, shop); err != nil {
		return fmt.Errorf("shopify: wipe tokens of %s: %w", shop.Domain, err)
	}
	p.log.InfoContext(ctx, "shopify: app uninstalled; tokens wiped", "shop", shop.Domain)
	return nil
}

type complianceCustomer struct {
	Customer struct {
		ID    json.Number `json:"id"`
		Email string      `json:"email"`
		Phone string      `json:"phone"`
	} `json:"customer"`
	OrdersRequested []json.Number `json:"orders_requested"`
	OrdersToRedact  []json.Number `json:"orders_to_redact"`
	DataRequest     struct {
		ID json.Number `json:"id"`
	} `json:"data_request"`
}

// customerPayments lists the shop's payments that hold data about the
// customer: same e-mail or phone, or one of the named orders.
func (p *Platform) customerPayments(ctx context.Context, shop *checkout.Shop, body []byte) ([]*checkout.Payment, complianceCustomer, error) {
	var in complianceCustomer
	if err := decodeJSON(body, &in); err != nil {
		return nil, in, checkout.Permanent("compliance webhook", err)
	}
	orders := map[string]bool{}
	for _, o := range append(in.OrdersRequested, in.OrdersToRedact...) {
		orders[o.String()] = true
	}
	all, err := p.db.ShopPayments(ctx, shop.ID, 0)
	if err != nil {
		return nil, in, err
	}
	var out []*checkout.Payment
	for _, pay := range all {
		email, phone := strings.TrimSpace(in.Customer.Email), strings.TrimSpace(in.Customer.Phone)
		switch {
		case email != "" && strings.EqualFold(pay.Customer.Email, email),
			phone != "" && pay.Customer.Mobile == phone,
			pay.Metadata[MetaMode] == ModeOrderWebhook && orders[pay.OrderID]:
			out = append(out, pay)
		}
	}
	return out, in, nil
}

// EventDataRequest marks a payment named in a customers/data_request.
const EventDataRequest = "shopify_data_request"

// dataRequest records, on each payment holding the customer's data, that
// the merchant asked for it (the audit trail then lists what to hand
// over: `GET` the payments by id). paybridge holds no customer data
// beyond those payments.
func (p *Platform) dataRequest(ctx context.Context, shop *checkout.Shop, body []byte) error {
	pays, in, err := p.customerPayments(ctx, shop, body)
	if err != nil {
		return err
	}
	var evs []checkout.Event
	ids := make([]string, 0, len(pays))
	for _, pay := range pays {
		ids = append(ids, pay.ID)
		d, _ := json.Marshal(map[string]string{"data_request_id": in.DataRequest.ID.String()})
		evs = append(evs, checkout.Event{PaymentID: pay.ID, Kind: EventDataRequest, Source: "shopify", Detail: d})
	}
	if err := p.svc.RecordEvents(ctx, evs...); err != nil {
		return err
	}
	p.log.InfoContext(ctx, "shopify: customer data request", "shop", shop.Domain, "request", in.DataRequest.ID.String(), "payments", ids)
	return nil
}

// customerRedact erases the customer's details from their payments.
func (p *Platform) customerRedact(ctx context.Context, shop *checkout.Shop, body []byte) error {
	pays, in, err := p.customerPayments(ctx, shop, body)
	if err != nil {
		return err
	}
	for _, pay := range pays {
		if err := p.svc.RedactCustomer(ctx, shop.ID, pay.ID, "shopify customers/redact", "shopify"); err != nil {
			return err
		}
	}
	if id := in.Customer.ID.String(); id != "" {
		if _, err := p.svc.ForgetCustomer(ctx, shop, id, "shopify"); err != nil {
			return err
		}
	}
	p.log.InfoContext(ctx, "shopify: customer redacted", "shop", shop.Domain, "payments", len(pays))
	return nil
}

// shopRedact (48 h after uninstall) erases every shopper's details and the
// shop's credentials. Payment amounts, ids and audit trails stay as the
// merchant's financial record.
func (p *Platform) shopRedact(ctx context.Context, shop *checkout.Shop) error {
	pays, err := p.db.ShopPayments(ctx, shop.ID, 0)
	if err != nil {
		return err
	}
	for _, pay := range pays {
		if err := p.svc.RedactCustomer(ctx, shop.ID, pay.ID, "shopify shop/redact", "shopify"); err != nil {
			return err
		}
	}
	shop.Secrets = map[string]string{}
	shop.Gateway.Credentials = map[string]string{}
	if err := p.db.UpdateShop(ctx, shop); err != nil {
		return err
	}
	p.log.InfoContext(ctx, "shopify: shop redacted", "shop", shop.Domain, "payments", len(pays))
	return nil
}

// orderIn is the part of an orders/create payload order-webhook mode reads.
type orderIn struct {
	ID               json.Number `json:"id"`
	GID              string      `json:"admin_graphql_api_id"`
	Name             string      `json:"name"`
	Email            string      `json:"email"`
	Phone            string      `json:"phone"`
	Note             string      `json:"note"`
	FinancialStatus  string      `json:"financial_status"`
	Gateways         []string    `json:"payment_gateway_names"`
	Currency         string      `json:"currency"`
	Presentment      string      `json:"presentment_currency"`
	Test             bool        `json:"test"`
	TotalPrice       string      `json:"total_price"`
	TotalOutstanding string      `json:"total_outstanding"`
	OrderStatusURL   string      `json:"order_status_url"`
	CustomerLocale   string      `json:"customer_locale"`
	Customer         *struct {
		ID        json.Number `json:"id"`
		FirstName string      `json:"first_name"`
		LastName  string      `json:"last_name"`
		Phone     string      `json:"phone"`
	} `json:"customer"`
}

const noteMutation = `mutation OrderNote($input: OrderInput!) {
  orderUpdate(input: $input) { order { id } userErrors { field message } }
}`

// orderCreated starts a payment for an unpaid order placed with the shop's
// manual method, and puts where to pay on the order.
func (p *Platform) orderCreated(ctx context.Context, shop *checkout.Shop, body []byte) error {
	if mode(shop) != ModeOrderWebhook {
		return nil
	}
	var o orderIn
	if err := decodeJSON(body, &o); err != nil {
		return checkout.Permanent("orders/create", err)
	}
	method := p.manualMethod(shop)
	if !slices.ContainsFunc(o.Gateways, func(g string) bool { return strings.EqualFold(strings.TrimSpace(g), method) }) {
		return nil
	}
	if o.FinancialStatus != "pending" && o.FinancialStatus != "" {
		return nil // paid, authorized, voided …: not ours to collect
	}
	if o.ID.String() == "" || o.GID == "" {
		return checkout.Permanent("orders/create", errors.New("order has no id"))
	}
	orderID := o.ID.String()
	pay, err := p.db.PaymentByOrder(ctx, shop.ID, orderID)
	if errors.Is(err, checkout.ErrNotFound) {
		// A test order is collected only on a sandbox account and a real
		// one only on a live account (see accountRefusal).
		if reason := p.accountRefusal(shop, o.Test); reason != "" {
			return p.noteRefusal(ctx, shop, o, reason)
		}
		// Never CreatePayment again for an existing payment: for an
		// invoice sent by e-mail it would send a second invoice.
		pay, err = p.createOrderPayment(ctx, shop, o)
	}
	if reason, ok := unsupported(err); ok {
		return p.noteRefusal(ctx, shop, o, reason)
	}
	if errors.Is(err, checkout.ErrShopDisabled) {
		return p.noteRefusal(ctx, shop, o, shopDisabledReason)
	}
	if err != nil {
		return err
	}
	if pay.Metadata[MetaNoted] != "" {
		return nil
	}
	name := p.gatewayName(pay.Gateway)
	line := "Pay with " + name + ": " + p.svc.PayURL(pay.ID)
	switch inv := pay.Options.Invoice; {
	case inv != nil && (inv.Notify == checkout.NotifyEmail || inv.Notify == checkout.NotifySMS):
		line = fmt.Sprintf("%s invoice sent by %s (paybridge payment %s)", name, inv.Notify, pay.ID)
	case inv != nil && inv.Notify == checkout.NotifyLink && pay.GatewayURL != "":
		line = "Pay with " + name + ": " + pay.GatewayURL
	}
	if err := p.addNote(ctx, shop, o.GID, o.Note, line); err != nil {
		return err
	}
	_, err = p.svc.Annotate(ctx, pay.ID, map[string]string{MetaNoted: "true"}, "shopify")
	return err
}

// addNote appends line to the order's note unless the note has it.
func (p *Platform) addNote(ctx context.Context, shop *checkout.Shop, gid, note, line string) error {
	if strings.Contains(note, line) {
		return nil
	}
	note = strings.TrimSpace(note + "\n" + line)
	var data map[string]struct {
		UserErrors UserErrors `json:"userErrors"`
	}
	if err := p.graphql(ctx, shop, apiAdmin, noteMutation, map[string]any{"input": map[string]any{"id": gid, "note": note}}, &data); err != nil {
		return err
	}
	return userErrorsErr("orderUpdate", data["orderUpdate"].UserErrors)
}

const orderNoteQuery = `query OrderNote($id: ID!) { order(id: $id) { id note } }`

// noteRefusal puts on the order why the shop's gateway cannot charge it,
// once: the order's current note is read first (the webhook's copy is the
// note at creation, and Shopify may deliver orders/create more than once).
func (p *Platform) noteRefusal(ctx context.Context, shop *checkout.Shop, o orderIn, reason string) error {
	p.log.InfoContext(ctx, "shopify: order not charged: the gateway cannot take it", "shop", shop.Domain, "order", o.ID.String(), "reason", reason)
	var q struct {
		Order *struct {
			Note string `json:"note"`
		} `json:"order"`
	}
	if err := p.graphql(ctx, shop, apiAdmin, orderNoteQuery, map[string]any{"id": o.GID}, &q); err != nil {
		return err
	}
	if q.Order == nil {
		return checkout.Permanent("the Shopify order is gone", fmt.Errorf("order %s", o.GID))
	}
	line := "paybridge cannot collect this order: " + reason + ". Collect it another way, or change the payment gateway in the app's settings."
	return p.addNote(ctx, shop, o.GID, q.Order.Note, line)
}

const outstandingQuery = `query OrderOutstanding($id: ID!) {
  order(id: $id) { id totalOutstandingSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } } }
}`

// orderAmount is what the shopper owes, in the currency they saw: the
// order's presentment currency. Shopify records a manual payment in that
// currency only (CURRENCY_MISMATCH otherwise), and the webhook gives the
// outstanding balance in the shop's currency only, so a multi-currency
// order's balance is read from the Admin API.
func (p *Platform) orderAmount(ctx context.Context, shop *checkout.Shop, o orderIn) (checkout.Money, error) {
	if o.Presentment == "" || o.Presentment == o.Currency {
		total := o.TotalOutstanding
		if total == "" {
			total = o.TotalPrice
		}
		m, err := checkout.ParseMoneyPadded(total, o.Currency)
		if err != nil {
			return m, checkout.Permanent("orders/create amount", err)
		}
		return m, nil
	}
	var q struct {
		Order *struct {
			TotalOutstandingSet moneyOut `json:"totalOutstandingSet"`
		} `json:"order"`
	}
	if err := p.graphql(ctx, shop, apiAdmin, outstandingQuery, map[string]any{"id": o.GID}, &q); err != nil {
		return checkout.Money{}, err
	}
	if q.Order == nil {
		return checkout.Money{}, checkout.Permanent("the Shopify order is gone", fmt.Errorf("order %s", o.GID))
	}
	m, err := q.Order.TotalOutstandingSet.in(o.Presentment)
	if err != nil {
		return m, checkout.Permanent("orders/create amount", err)
	}
	return m, nil
}

func (p *Platform) createOrderPayment(ctx context.Context, shop *checkout.Shop, o orderIn) (*checkout.Payment, error) {
	amount, err := p.orderAmount(ctx, shop, o)
	if err != nil {
		return nil, err
	}
	cust := checkout.Customer{Email: o.Email, Mobile: o.Phone}
	if o.Customer != nil {
		cust.Name = strings.TrimSpace(o.Customer.FirstName + " " + o.Customer.LastName)
		cust.UniqueID = o.Customer.ID.String()
		if cust.Mobile == "" {
			cust.Mobile = o.Customer.Phone
		}
	}
	meta := map[string]string{MetaMode: ModeOrderWebhook, MetaShop: shop.Domain, MetaGID: o.GID, MetaOrderStatusURL: o.OrderStatusURL}
	req := checkout.PaymentRequest{Fit: true, OrderID: o.ID.String(), Amount: amount, Description: "Shopify order " + o.Name,
		Language: shopperLanguage(shop, o.CustomerLocale), PaymentMethod: shop.Settings[SettingPaymentMethod],
		Customer: cust, Metadata: meta}
	// A gateway invoice when the gateway sends them and the order has where
	// to send it; otherwise the pay link, so that no order is left without
	// a way to pay.
	nt := shop.Settings[SettingInvoice]
	reachable := map[string]bool{checkout.NotifyLink: true, checkout.NotifyEmail: cust.Email != "",
		checkout.NotifySMS: cust.Mobile != "", checkout.NotifyAll: cust.Email != "" && cust.Mobile != ""}
	if reachable[nt] && p.svc.Supports(shop.Gateway.Gateway, checkout.FeatureInvoices) == nil {
		req.Options.Invoice = &checkout.Invoice{Notify: nt}
	}
	pay, _, err := p.svc.CreatePayment(ctx, shop, checkout.PlatformShopify, req, "shopify")
	var ge *checkout.GatewayError
	if errors.As(err, &ge) && pay != nil && req.Options.Invoice == nil {
		// The pay link creates the charge when the shopper arrives.
		p.log.WarnContext(ctx, "shopify: charge not created yet; the pay link will retry", "payment", pay.ID, "err", err)
		return pay, nil
	}
	if err != nil {
		return nil, err
	}
	return pay, nil
}

const orderQuery = `query OrderPayments($id: ID!) {
  order(id: $id) {
    id
    displayFinancialStatus
    totalOutstandingSet { ...Money }
    transactions(first: 50) { id kind status gateway formattedGateway amountSet { ...Money } }
  }
}
` + moneyFragment

const manualPaymentMutation = `mutation ManualPayment($id: ID!, $amount: MoneyInput!, $method: String!) {
  orderCreateManualPayment(id: $id, amount: $amount, paymentMethodName: $method) {
    order { id transactions(first: 50) { id kind status gateway formattedGateway amountSet { ...Money } } }
    userErrors { field message code }
  }
}
` + moneyFragment

const markAsPaidMutation = `mutation MarkAsPaid($input: OrderMarkAsPaidInput!) {
  orderMarkAsPaid(input: $input) {
    order { id transactions(first: 50) { id kind status gateway formattedGateway amountSet { ...Money } } }
    userErrors { field message }
  }
}
` + moneyFragment

const moneyFragment = `fragment Money on MoneyBag {
  shopMoney { amount currencyCode }
  presentmentMoney { amount currencyCode }
}`

type moneyV2 struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

// moneyOut is a MoneyBag: an amount in the shop's and in the presentment
// currency.
type moneyOut struct {
	ShopMoney        moneyV2 `json:"shopMoney"`
	PresentmentMoney moneyV2 `json:"presentmentMoney"`
}

// in returns the bag's amount in currency: the presentment amount, or
// the shop amount (payments recorded before paybridge charged in the
// presentment currency).
func (m moneyOut) in(currency string) (checkout.Money, error) {
	for _, v := range []moneyV2{m.PresentmentMoney, m.ShopMoney} {
		if v.CurrencyCode == currency && v.Amount != "" {
			return checkout.ParseMoneyPadded(v.Amount, v.CurrencyCode)
		}
	}
	return checkout.Money{}, fmt.Errorf("no amount in %s (shop %s, presentment %s)", currency, m.ShopMoney.CurrencyCode, m.PresentmentMoney.CurrencyCode)
}

type transactionOut struct {
	ID               string   `json:"id"`
	Kind             string   `json:"kind"`
	Status           string   `json:"status"`
	Gateway          string   `json:"gateway"`
	FormattedGateway string   `json:"formattedGateway"`
	AmountSet        moneyOut `json:"amountSet"`
}

type orderOut struct {
	ID                     string           `json:"id"`
	DisplayFinancialStatus string           `json:"displayFinancialStatus"`
	TotalOutstandingSet    moneyOut         `json:"totalOutstandingSet"`
	Transactions           []transactionOut `json:"transactions"`
}

// ours finds a successful payment recorded by paybridge for amount,
// under method (the shop's manual method) or MethodName.
func (o *orderOut) ours(amount checkout.Money, method string) string {
	for i := len(o.Transactions) - 1; i >= 0; i-- {
		t := o.Transactions[i]
		if (t.Kind != "SALE" && t.Kind != "CAPTURE") || t.Status != "SUCCESS" {
			continue
		}
		if !slices.Contains([]string{method, MethodName}, t.Gateway) && !slices.Contains([]string{method, MethodName}, t.FormattedGateway) {
			continue
		}
		if m, err := t.AmountSet.in(amount.Currency); err == nil && m.Equal(amount) {
			return t.ID
		}
	}
	return ""
}

// syncOrder records a paid order-webhook payment on its order exactly
// once: our own record (MetaTransaction) first, then the order's
// transactions re-read (a crash between Shopify's write and ours), and
// only then orderCreateManualPayment for the exact amount — or, on an API
// version without it, orderMarkAsPaid when the outstanding balance is
// exactly our amount.
func (p *Platform) syncOrder(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment) error {
	if pay.Status != checkout.StatusPaid || pay.Metadata[MetaTransaction] != "" {
		return nil
	}
	gid := pay.Metadata[MetaGID]
	var q struct {
		Order *orderOut `json:"order"`
	}
	if err := p.graphql(ctx, shop, apiAdmin, orderQuery, map[string]any{"id": gid}, &q); err != nil {
		return err
	}
	if q.Order == nil {
		return checkout.Permanent("the Shopify order is gone", fmt.Errorf("order %s", gid))
	}
	record := func(txn string) error {
		_, err := p.svc.Annotate(ctx, pay.ID, map[string]string{MetaTransaction: txn}, "shopify")
		return err
	}
	method := p.manualMethod(shop)
	if txn := q.Order.ours(pay.Amount, method); txn != "" {
		return record(txn)
	}
	if q.Order.DisplayFinancialStatus == "PAID" {
		return checkout.Permanent("the order is already paid by other means; paybridge's payment is not recorded on it",
			fmt.Errorf("order %s, payment %s", gid, pay.ID))
	}
	var m struct {
		Payload struct {
			Order      *orderOut  `json:"order"`
			UserErrors UserErrors `json:"userErrors"`
		} `json:"orderCreateManualPayment"`
	}
	vars := map[string]any{"id": gid, "method": method,
		"amount": map[string]any{"amount": pay.Amount.String(), "currencyCode": pay.Amount.Currency}}
	err := p.graphql(ctx, shop, apiAdmin, manualPaymentMutation, vars, &m)
	var gerrs GraphQLErrors
	if errors.As(err, &gerrs) && missingField(gerrs, "orderCreateManualPayment") {
		return p.markAsPaid(ctx, shop, pay, q.Order, record)
	}
	if err != nil {
		return err
	}
	if err := manualPaymentErr(m.Payload.UserErrors); err != nil {
		return err
	}
	txn := ""
	if m.Payload.Order != nil {
		txn = m.Payload.Order.ours(pay.Amount, method)
	}
	if txn == "" {
		txn = "recorded"
	}
	return record(txn)
}

// manualPaymentErr classes orderCreateManualPayment's userErrors by their
// code (OrderCreateManualPaymentOrderCreateManualPaymentErrorCode in the
// Admin schema): ORDER_IS_TEMPORARILY_UNAVAILABLE (the order is being
// edited) is retried; AMOUNT_EXCEEDS_BALANCE, AMOUNT_NOT_POSITIVE,
// CURRENCY_MISMATCH, GATEWAY_NOT_FOUND, ORDER_NOT_FOUND and
// PROCESSED_AT_INVALID cannot change by retrying.
func manualPaymentErr(ue UserErrors) error {
	if len(ue) == 0 {
		return nil
	}
	for _, e := range ue {
		if e.Code != "ORDER_IS_TEMPORARILY_UNAVAILABLE" {
			return checkout.Permanent("orderCreateManualPayment refused by Shopify", ue)
		}
	}
	return fmt.Errorf("orderCreateManualPayment: the order is temporarily unavailable: %w", ue)
}

// missingField reports whether Shopify said the API version lacks field.
func missingField(errs GraphQLErrors, field string) bool {
	for _, e := range errs {
		if strings.Contains(e.Message, field) && (e.Extensions.Code == "undefinedField" ||
			strings.Contains(e.Message, "doesn't exist") || strings.Contains(e.Message, "Cannot query field")) {
			return true
		}
	}
	return false
}

func (p *Platform) markAsPaid(ctx context.Context, shop *checkout.Shop, pay *checkout.Payment, o *orderOut, record func(string) error) error {
	out, err := o.TotalOutstandingSet.in(pay.Amount.Currency)
	if err != nil || !out.Equal(pay.Amount) {
		return checkout.Permanent("orderMarkAsPaid would record the whole outstanding balance, which differs from the payment",
			fmt.Errorf("outstanding %s %s (presentment %s %s), paid %s %s", o.TotalOutstandingSet.ShopMoney.Amount, o.TotalOutstandingSet.ShopMoney.CurrencyCode,
				o.TotalOutstandingSet.PresentmentMoney.Amount, o.TotalOutstandingSet.PresentmentMoney.CurrencyCode, pay.Amount, pay.Amount.Currency))
	}
	var m struct {
		Payload struct {
			Order      *orderOut  `json:"order"`
			UserErrors UserErrors `json:"userErrors"`
		} `json:"orderMarkAsPaid"`
	}
	if err := p.graphql(ctx, shop, apiAdmin, markAsPaidMutation, map[string]any{"input": map[string]any{"id": o.ID}}, &m); err != nil {
		return err
	}
	if err := userErrorsErr("orderMarkAsPaid", m.Payload.UserErrors); err != nil {
		return err
	}
	txn := "marked_as_paid"
	if m.Payload.Order != nil && len(m.Payload.Order.Transactions) > 0 {
		txn = m.Payload.Order.Transactions[len(m.Payload.Order.Transactions)-1].ID
	}
	return record(txn)
}
