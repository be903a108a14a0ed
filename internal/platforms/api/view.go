package api

import (
	"encoding/json"
	"time"

	"paybridge/internal/checkout"
)

// PaymentJSON is the public shape of a payment, in API answers and in
// callbacks. Field names are a contract: never rename them.
type PaymentJSON struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	OrderID          string `json:"order_id"`
	Amount           string `json:"amount"`
	Currency         string `json:"currency"`
	RefundedAmount   string `json:"refunded_amount"`
	PayURL           string `json:"pay_url"`
	Gateway          string `json:"gateway"`
	GatewayReference string `json:"gateway_reference"`
	// InvoiceURL and InvoiceSent are set for an invoice payment: its pay
	// link, and whether the gateway sent it by e-mail and by SMS.
	InvoiceURL  string           `json:"invoice_url,omitempty"`
	InvoiceSent *InvoiceSentJSON `json:"invoice_sent,omitempty"`
	// ExpiresAt is when the gateway page stops being payable (KNET: 7
	// minutes after the shopper lands on it).
	ExpiresAt time.Time   `json:"expires_at"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Events    []EventJSON `json:"events"`
}

// InvoiceSentJSON says how the gateway sent an invoice's link.
type InvoiceSentJSON struct {
	Email bool `json:"email"`
	SMS   bool `json:"sms"`
}

// EventJSON is one audit event in PaymentJSON.
type EventJSON struct {
	At     time.Time       `json:"at"`
	Kind   string          `json:"kind"`
	From   string          `json:"from"`
	To     string          `json:"to"`
	Source string          `json:"source"`
	Detail json.RawMessage `json:"detail"`
}

// RefundJSON is the public shape of a refund.
type RefundJSON struct {
	ID        string `json:"id"`
	PaymentID string `json:"payment_id"`
	Status    string `json:"status"`
	Amount    string `json:"amount"`
	Reason    string `json:"reason"`
	// Splits are the vendors' parts of a refund of a split payment.
	Splits    []RefundSplitJSON `json:"splits,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// RefundSplitJSON is one vendor's part of a refund.
type RefundSplitJSON struct {
	IBAN   string `json:"iban"`
	Amount string `json:"amount"`
}

// NewPaymentJSON renders a payment with its events.
func NewPaymentJSON(p *checkout.Payment, payURL string, events []checkout.Event) PaymentJSON {
	refunded := p.Refunded
	refunded.Currency = p.Amount.Currency
	out := PaymentJSON{
		ID: p.ID, Status: string(p.Status), OrderID: p.OrderID,
		Amount: p.Amount.String(), Currency: p.Amount.Currency, RefundedAmount: refunded.String(),
		PayURL: payURL, Gateway: p.Gateway, GatewayReference: p.GatewayRef,
		ExpiresAt: p.ExpiresAt.UTC(), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(), Events: []EventJSON{},
	}
	if p.Options.Invoice != nil {
		email, sms := p.InvoiceSent()
		out.InvoiceURL, out.InvoiceSent = p.GatewayURL, &InvoiceSentJSON{Email: email, SMS: sms}
	}
	for _, e := range events {
		d := e.Detail
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		out.Events = append(out.Events, EventJSON{At: e.At.UTC(), Kind: e.Kind, From: e.From, To: e.To, Source: e.Source, Detail: d})
	}
	return out
}

// NewRefundJSON renders a refund.
func NewRefundJSON(r *checkout.Refund) RefundJSON {
	out := RefundJSON{ID: r.ID, PaymentID: r.PaymentID, Status: string(r.Status), Amount: r.Amount.String(),
		Reason: r.Reason, CreatedAt: r.CreatedAt.UTC()}
	for _, s := range r.Splits {
		out.Splits = append(out.Splits, RefundSplitJSON{IBAN: s.IBAN, Amount: s.Amount.String()})
	}
	return out
}
