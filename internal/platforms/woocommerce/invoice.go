package woocommerce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/server"
)

// invoiceIn is the plugin's "Send payment link" request body.
type invoiceIn struct {
	OrderID string `json:"order_id"`
	// Notify is the plugin's setting: email, sms, all or link.
	Notify string `json:"notify"`
	// Lang is the store's language ("ar…" gives Arabic); default English.
	Lang string `json:"lang"`
	// Splits are the order's vendor splits, as on the pay link; an invoice
	// cannot carry them (UPayments), so any is refused with the reason.
	Splits json.RawMessage `json:"splits,omitempty"`
}

// InvoiceOut is the answer to the plugin.
type InvoiceOut struct {
	// Status is "sent" (the gateway made the link now) or "already_sent"
	// (an open link for the order exists: nothing was sent again).
	Status    string `json:"status"`
	PaymentID string `json:"payment_id"`
	// URL is the pay link, when the gateway returned one.
	URL string `json:"url,omitempty"`
	// Notify is how the link was to be delivered; SentEmail and SentSMS
	// what the gateway says it sent.
	Notify    string `json:"notify"`
	SentEmail bool   `json:"sent_email"`
	SentSMS   bool   `json:"sent_sms"`
	// Message is for the merchant (a note that could not be written …).
	Message string `json:"message,omitempty"`
}

// invoiceLocks serialise the payment-link requests of one order within
// this process (striped by order, so that their number stays bounded);
// across processes a receipt claim does (invoice).
var invoiceLocks [64]sync.Mutex

func lockOrder(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &invoiceLocks[h.Sum32()%uint32(len(invoiceLocks))]
	m.Lock()
	return m.Unlock
}

// invoiceMade reports whether the gateway already made the payment's
// invoice (it answered with a link or said what it sent).
func invoiceMade(pay *checkout.Payment) bool {
	return pay.GatewayURL != "" || pay.GatewayData[checkout.DataInvoiceSentEmail] != ""
}

// invoice is the order action "Send payment link (paybridge)": signed like
// a refund request, it has the shop's gateway make and send (by e-mail,
// SMS, both, or not at all: "link") a payment link for the order as it
// stands in the store, and notes the link and what was sent on the order,
// once. Pressing again while that link is open sends nothing and answers
// "already_sent".
func (p *Platform) invoice(c *gin.Context) {
	ctx := c.Request.Context()
	shop, body, ok := p.signedRequest(c, InvoiceSignature, "payment link")
	if !ok {
		return
	}
	var in invoiceIn
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.OrderID == "" {
		server.WriteError(c, server.Error(http.StatusBadRequest, "bad_request", "want {order_id, notify, lang, splits}"))
		return
	}
	if _, err := strconv.ParseUint(in.OrderID, 10, 63); err != nil {
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", "order_id: must be a WooCommerce order id"))
		return
	}
	switch in.Notify {
	case checkout.NotifyEmail, checkout.NotifySMS, checkout.NotifyAll, checkout.NotifyLink:
	default:
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invalid_field", `notify: must be "email", "sms", "all" or "link"`))
		return
	}
	if err := p.svc.Supports(shop.Gateway.Gateway, checkout.FeatureInvoices); err != nil {
		writeUnsupported(c, err)
		return
	}
	if s := strings.TrimSpace(string(in.Splits)); s != "" && s != "null" && s != "[]" {
		server.WriteError(c, server.Error(http.StatusUnprocessableEntity, "invoice_with_splits",
			"this order has a vendor split (_paybridge_splits), and a payment link cannot carry one (UPayments invoices do not work with splits): let the shopper pay at checkout instead"))
		return
	}
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		server.WriteError(c, server.Wrap(err, http.StatusServiceUnavailable, "store_not_connected", err.Error()))
		return
	}
	o, err := cl.Order(ctx, in.OrderID)
	switch {
	case IsNotFound(err):
		server.WriteError(c, server.Wrap(err, http.StatusNotFound, "order_not_found", "the store does not know order "+in.OrderID))
		return
	case err != nil:
		server.WriteError(c, server.Wrap(err, http.StatusBadGateway, "store_unreachable", "the bridge could not read the order from the store: "+err.Error()))
		return
	case isPaid(o):
		server.WriteError(c, server.Error(http.StatusConflict, "order_paid", "the order is already paid"))
		return
	case !o.needsPayment():
		server.WriteError(c, server.Error(http.StatusConflict, "order_not_payable", fmt.Sprintf("the order is %s and does not need payment", o.Status)))
		return
	}
	amount, err := ParseTotal(o.Total, strings.ToUpper(o.Currency))
	if err != nil || !amount.Positive() {
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_amount", fmt.Sprintf("the order total %q %s cannot be charged", o.Total, o.Currency)))
		return
	}
	if err := p.svc.CheckPayment(shop.Gateway.Gateway, amount); err != nil {
		writeUnsupported(c, err)
		return
	}
	defer lockOrder(shop.ID + "/" + in.OrderID)()
	prior, err := p.attempts(ctx, shop.ID, in.OrderID)
	if err != nil {
		server.WriteError(c, err)
		return
	}
	n := len(prior) + 1
	claim := "" // the receipt id one request in all processes takes
	if n > maxAttempts {
		server.WriteError(c, server.Error(http.StatusConflict, "too_many_attempts", "the order has too many payment attempts"))
		return
	}
	if len(prior) > 0 {
		last := prior[len(prior)-1]
		switch {
		case last.Status == checkout.StatusPaid:
			server.WriteError(c, server.Error(http.StatusConflict, "order_paid", "the order is already paid at the gateway"))
			return
		case !last.Status.Final() && last.Options.Invoice != nil && invoiceMade(last):
			p.answerInvoice(c, cl, in.OrderID, last, "already_sent")
			return
		case !last.Status.Final() && last.Options.Invoice != nil:
			// No invoice yet: its gateway call is in flight (another
			// request), or failed, when asking again retries it, once
			// per failure.
			failures, err := p.chargeFailures(ctx, last.ID)
			if err != nil {
				server.WriteError(c, err)
				return
			}
			if last.Options.Invoice.Notify != in.Notify {
				break // the setting changed: a new attempt; this one expires unsent
			}
			if failures == 0 {
				server.WriteError(c, server.Error(http.StatusConflict, "invoice_in_progress",
					"a payment link for this order is being made; look at the order notes in a minute"))
				return
			}
			n, claim = len(prior), last.OrderID+":retry-"+strconv.Itoa(failures)
		}
	}
	lang := "en"
	if strings.HasPrefix(strings.ToLower(in.Lang), "ar") {
		lang = "ar"
	}
	returnURL, cancelURL := orderURLs(shop.Domain, o, "")
	req := checkout.PaymentRequest{
		OrderID:     attemptOrderID(in.OrderID, n),
		Amount:      amount,
		Description: "Order #" + firstNonEmpty(o.Number, in.OrderID),
		Language:    lang,
		Customer: checkout.Customer{
			Name:  strings.TrimSpace(o.Billing.FirstName + " " + o.Billing.LastName),
			Email: strings.TrimSpace(o.Billing.Email), Mobile: strings.TrimSpace(o.Billing.Phone),
			UniqueID: customerUniqueID(shop, o.CustomerID),
		},
		Products:  products(o, amount.Currency),
		ReturnURL: returnURL,
		CancelURL: cancelURL,
		Metadata: map[string]string{pmOrderID: in.OrderID, pmOrderKey: o.OrderKey,
			pmAttempt: strconv.Itoa(n), pmChoices: "invoice:" + in.Notify},
		Options: checkout.Options{Invoice: &checkout.Invoice{Notify: in.Notify}},
		Fit:     true,
	}
	// What CreatePayment would refuse is refused before the claim below,
	// which a refused request would otherwise hold.
	probe := req
	probe.Products = slices.Clone(req.Products)
	if _, err := p.svc.Validate(ctx, &probe); err != nil {
		writeInvoiceError(c, err)
		return
	}
	if claim == "" {
		claim = req.OrderID
	}
	// One request in all processes makes a new attempt, or retries a
	// failed one; a request that lost the race answers with the winner's
	// payment. The claim lapses after claimWindow, so that a process that
	// died holding it does not block the order for good.
	bucket := p.cfg.Now().Unix() / int64(claimWindow/time.Second)
	first, err := p.store.RecordReceipt(ctx, "woocommerce-invoice:"+shop.ID, claim+"@"+strconv.FormatInt(bucket, 10))
	if err != nil {
		server.WriteError(c, err)
		return
	}
	if !first {
		if pay, err := p.store.PaymentByOrder(ctx, shop.ID, req.OrderID); err == nil && invoiceMade(pay) {
			p.answerInvoice(c, cl, in.OrderID, pay, "already_sent")
			return
		}
		server.WriteError(c, server.Error(http.StatusConflict, "invoice_in_progress",
			"a payment link for this order is being made; look at the order notes in a minute"))
		return
	}
	pay, _, err := p.svc.CreatePayment(ctx, shop, checkout.PlatformWooCommerce, req, "merchant")
	if err != nil {
		writeInvoiceError(c, err)
		return
	}
	if !invoiceMade(pay) {
		server.WriteError(c, server.Error(http.StatusBadGateway, "gateway_error", "the gateway did not make the link; press again to retry"))
		return
	}
	p.answerInvoice(c, cl, in.OrderID, pay, "sent")
}

// claimWindow is how long a payment-link claim holds (see invoice).
const claimWindow = 10 * time.Minute

// writeInvoiceError answers why a payment link was not made.
func writeInvoiceError(c *gin.Context, err error) {
	var ve *checkout.ValidationError
	var ge *checkout.GatewayError
	switch {
	case errors.As(err, &ve) && ve.Field == "customer.email":
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "missing_email",
			"to send the link by e-mail the order needs a billing e-mail of at most 50 characters"))
	case errors.As(err, &ve) && ve.Field == "customer.mobile":
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "missing_phone",
			"to send the link by SMS the order needs a billing phone of at most 15 characters"))
	case errors.As(err, &ve):
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "invalid_field", ve.Error()))
	case errors.Is(err, checkout.ErrShopDisabled):
		server.WriteError(c, server.Wrap(err, http.StatusForbidden, "shop_disabled",
			"this shop is disabled on paybridge: it cannot make new payment links (payments started before are still completed)"))
	case errors.Is(err, checkout.ErrIdempotencyConflict):
		server.WriteError(c, server.Wrap(err, http.StatusConflict, "invoice_conflict",
			"an earlier payment link request for this order, with other details, has not reached the gateway; try again later"))
	case errors.As(err, &ge):
		server.WriteError(c, server.Wrap(err, http.StatusBadGateway, "gateway_error", "the gateway did not make the link: "+ge.Message+"; press again to retry"))
	default:
		writeUnsupported(c, err)
	}
}

// chargeFailures counts the payment's failed gateway calls.
func (p *Platform) chargeFailures(ctx context.Context, paymentID string) (int, error) {
	evs, err := p.svc.Events(ctx, paymentID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		if ev.Kind == checkout.EventChargeFailed {
			n++
		}
	}
	return n, nil
}

// writeUnsupported answers what the gateway cannot do with 422 and its
// reason; other errors as they are.
func writeUnsupported(c *gin.Context, err error) {
	var ue *checkout.UnsupportedError
	if errors.As(err, &ue) {
		server.WriteError(c, server.Wrap(err, http.StatusUnprocessableEntity, "unsupported_by_gateway", ue.Reason))
		return
	}
	server.WriteError(c, err)
}

// answerInvoice notes the link on the order (once: the note carries the
// payment's marker) and answers the plugin.
func (p *Platform) answerInvoice(c *gin.Context, cl *Client, orderID string, pay *checkout.Payment, status string) {
	email, sms := pay.InvoiceSent()
	out := InvoiceOut{Status: status, PaymentID: pay.ID, URL: pay.GatewayURL, Notify: pay.Options.Invoice.Notify, SentEmail: email, SentSMS: sms}
	if err := p.noteInvoice(c.Request.Context(), cl, orderID, pay); err != nil {
		_ = c.Error(err)
		out.Message = "the link was made but the order note could not be written: " + err.Error()
	}
	c.JSON(http.StatusOK, out)
}

// noteInvoice adds the one note saying what was sent and the link.
func (p *Platform) noteInvoice(ctx context.Context, cl *Client, orderID string, pay *checkout.Payment) error {
	marker := noteMarker(pay.ID, "invoice")
	notes, err := cl.Notes(ctx, orderID)
	if err != nil {
		return fmt.Errorf("read notes of order %s: %w", orderID, err)
	}
	if hasNote(notes, marker) {
		return nil
	}
	return cl.AddNote(ctx, orderID, InvoiceNote(pay, p.gatewayName(pay))+" "+marker)
}

// InvoiceNote is the order note for an invoice payment: the amount, what
// the gateway sent and to whom, the link, and until when the bridge
// watches for its payment (the payment's expiry).
func InvoiceNote(pay *checkout.Payment, gateway string) string {
	email, sms := pay.InvoiceSent()
	var sent []string
	if email {
		sent = append(sent, "by e-mail to "+pay.Customer.Email)
	}
	if sms {
		sent = append(sent, "by SMS to "+pay.Customer.Mobile)
	}
	amount := pay.Amount.String() + " " + pay.Amount.Currency
	note := fmt.Sprintf("Payment link for %s made at %s", amount, gateway)
	if len(sent) > 0 {
		note += " and sent " + strings.Join(sent, " and ") + "."
	} else {
		note += "; nothing was sent to the customer (setting: " + pay.Options.Invoice.Notify + "): send them the link yourself."
	}
	if pay.GatewayURL != "" {
		note += " Link: " + pay.GatewayURL
	}
	if !pay.ExpiresAt.IsZero() {
		note += " paybridge records a payment through it until " + pay.ExpiresAt.UTC().Format("2006-01-02 15:04") + " UTC."
	}
	return note
}
