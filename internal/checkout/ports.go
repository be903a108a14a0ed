package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Errors shared by the core and its ports.
var (
	// ErrNotFound: no such payment, refund or shop.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-set lost to another writer; re-read and retry.
	ErrConflict = errors.New("concurrent update")
	// ErrDuplicate: a unique key (shop + order id, receipt id …) exists already.
	ErrDuplicate = errors.New("already exists")
	// ErrBadSignature: a callback's signature did not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnreadable: a callback's body (or the part of it an adapter needs)
	// cannot be parsed. Adapters wrap it; the notify route answers 400 and
	// nothing changes but the audit event recording the bad callback.
	ErrUnreadable = errors.New("unreadable callback")
)

// Gateway is a payment gateway adapter (UPayments, Checkout.com, KuPay):
// what every gateway does. What only some do is an optional interface
// ([Refunder]) plus a declared capability; the core denies a feature whose
// interface the adapter lacks, whatever its Capabilities say.
// Implementations must set timeouts on every call and never retry a charge
// creation on their own.
type Gateway interface {
	// Name is the adapter's name as stored on shops ("upay").
	Name() string
	// Capabilities says what the gateway can do; what it does not declare
	// is refused before any call (the zero value: one-off payments only).
	Capabilities() Capabilities
	// CreatePayment creates the hosted-page charge for p and returns where
	// to send the shopper. URLs holds the return, cancel and notification URLs.
	CreatePayment(ctx context.Context, acct GatewayAccount, p *Payment, urls URLs) (Charge, error)
	// Status asks the gateway for the current state of the transaction ref
	// (p.GatewayRef, or a candidate reference taken from a callback). It is
	// the only source of truth about a payment.
	Status(ctx context.Context, acct GatewayAccount, p *Payment, ref string) (GatewayStatus, error)
	// ParseCallback reads a notification or browser return. What it returns
	// is a claim, never proof. It returns ErrBadSignature (wrapped) when the
	// request carries a signature that does not verify, and ErrUnreadable
	// (wrapped) when the body cannot be parsed.
	ParseCallback(ctx context.Context, acct GatewayAccount, req CallbackRequest) (Callback, error)
}

// Refunder is implemented by adapters whose gateway refunds. Without it
// the core refuses every refund (FeatureRefund), whatever Capabilities says.
type Refunder interface {
	// Refund asks the gateway to refund r on p.
	Refund(ctx context.Context, acct GatewayAccount, p *Payment, r *Refund) (RefundResult, error)
	// RefundStatus asks for the state of a refund already submitted.
	RefundStatus(ctx context.Context, acct GatewayAccount, p *Payment, r *Refund) (RefundResult, error)
}

// CustomerTokener is implemented by adapters whose gateway keeps a
// customer's saved cards under a token the bridge issues (UPayments
// customerUniqueToken, Checkout.com KFast card_token). Without it the core
// refuses saved cards (FeatureSavedCards), whatever Capabilities says. The
// core keeps one token per shop, gateway and customer, sealed, and hands
// it to CreatePayment as Payment.CustomerToken.
type CustomerTokener interface {
	// NewCustomerToken makes a token for a new customer and registers it
	// with the gateway where the gateway needs that.
	NewCustomerToken(ctx context.Context, acct GatewayAccount) (string, error)
}

// MethodLister is implemented by adapters whose gateway says which of its
// payment methods a given account may name (UPayments: only a white-label
// account names one, and only the buttons enabled on it). Without it, an
// account may name every method in Capabilities.Methods.
type MethodLister interface {
	// AccountMethods returns the methods acct may name, nil when it may
	// name none (the gateway page offers its own).
	AccountMethods(ctx context.Context, acct GatewayAccount) ([]string, error)
}

// URLs are the addresses a gateway sends the shopper and its notifications
// to. Each carries our payment id in its path and has no query string.
type URLs struct {
	Return string
	Cancel string
	Notify string
	// Status is the bridge's page showing the payment's status (the
	// waiting page, which moves the shopper on once it is final), for a
	// gateway that links to an order status page (KuPay).
	Status string
}

// Charge is a gateway's answer to a charge creation.
type Charge struct {
	// Ref is the gateway's transaction reference (UPayments track id), if the
	// answer carried one.
	Ref string
	// URL is the hosted payment page.
	URL string
	// Data is kept on the payment (GatewayData) for later calls.
	Data map[string]string
	// Notes say what the adapter changed in what was asked, for the audit
	// trail ("payment_method": "not sent: the account is not white-label").
	Notes map[string]string
	// Raw is the gateway's answer, for the audit trail (no secrets).
	Raw json.RawMessage
}

// GatewayStatus is a gateway's answer to a status query.
type GatewayStatus struct {
	Outcome Outcome
	// Result is the gateway's own word ("CAPTURED", "NOT CAPTURED" …).
	Result string
	// Ref echoes the transaction reference.
	Ref string
	// OrderID echoes the order id we sent (GatewayOrderID).
	OrderID string
	// Amount is what the gateway says the transaction is for.
	Amount Money
	// TransactionID is the settled transaction's id, for the store.
	TransactionID string
	// Data is merged into the payment's GatewayData when bound.
	Data map[string]string
	Raw  json.RawMessage
}

// RefundResult is a gateway's answer about a refund.
type RefundResult struct {
	// Status is RefundPending while the gateway has not settled it.
	Status RefundStatus
	Ref    string
	Raw    json.RawMessage
}

// CallbackRequest is an incoming notification or browser return, with the
// raw body kept for signature checks.
type CallbackRequest struct {
	Method string
	// URL is the full URL as the gateway called it (scheme and host from
	// BRIDGE_PUBLIC_URL), for signatures that cover it.
	URL    string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// Callback is what a notification or return claims.
type Callback struct {
	// Ref is the gateway reference the caller names (a candidate only).
	Ref string
	// Result is the gateway word the caller claims ("CAPTURED").
	Result string
	// Outcome is Result mapped; a claim, not a fact.
	Outcome Outcome
	// Signed is true when the request carried a signature that verified.
	Signed bool
	// Fields are the parsed fields, for the audit trail.
	Fields map[string]string
}

// Store persists shops, payments, refunds and their events. Every update is
// a compare-and-set on the row's Version.
type Store interface {
	// Apply writes one Change atomically, or nothing. It returns ErrConflict
	// when a compare-and-set fails and ErrDuplicate when a new payment's
	// (shop, order id) exists. On success the versions of the written rows
	// are incremented in place, and the events get their IDs.
	Apply(ctx context.Context, c Change) error
	Payment(ctx context.Context, id string) (*Payment, error)
	PaymentByOrder(ctx context.Context, shopID, orderID string) (*Payment, error)
	// PaymentByOrderWithToken is PaymentByOrder and, when customerID is
	// not "", CustomerToken of the shop's customer at gateway, in one read
	// (what a create needs before it charges). err is PaymentByOrder's;
	// token and tokenErr are CustomerToken's (tokenErr wraps ErrNotFound
	// when customerID is "").
	PaymentByOrderWithToken(ctx context.Context, shopID, orderID, gateway, customerID string) (p *Payment, token string, tokenErr, err error)
	Events(ctx context.Context, paymentID string) ([]Event, error)
	// OpenPayments lists payments not in a final status whose last update is
	// older than before, least recently checked first.
	OpenPayments(ctx context.Context, before time.Time, limit int) ([]*Payment, error)
	// MarkChecked records when the gateway was last asked about a payment
	// (bookkeeping, not a state change: no version bump, no event).
	MarkChecked(ctx context.Context, id string, at time.Time) error
	// UnsyncedPayments lists final payments whose SyncState is SyncPending
	// and whose last update is older than before.
	UnsyncedPayments(ctx context.Context, before time.Time, limit int) ([]*Payment, error)
	Refund(ctx context.Context, id string) (*Refund, error)
	Refunds(ctx context.Context, paymentID string) ([]*Refund, error)
	// OpenRefunds lists refunds pending at the gateway, or final but unsynced,
	// last updated before before.
	OpenRefunds(ctx context.Context, before time.Time, limit int) ([]*Refund, error)
	Shop(ctx context.Context, id string) (*Shop, error)
	// CustomerToken returns the saved-card token of a shop's customer at
	// a gateway, or ErrNotFound.
	CustomerToken(ctx context.Context, shopID, gateway, customerID string) (string, error)
	// PutCustomerToken keeps token unless the customer has one already,
	// and returns the one kept.
	PutCustomerToken(ctx context.Context, shopID, gateway, customerID, token string) (string, error)
	// ForgetCustomer deletes a customer's tokens at every gateway and
	// returns how many went.
	ForgetCustomer(ctx context.Context, shopID, customerID string) (int64, error)
}

// Change is one atomic write.
type Change struct {
	// NewPayment is inserted (Version 0 → 1).
	NewPayment *Payment
	// Payment is updated if the stored version equals its Version.
	Payment *Payment
	// NewRefund is inserted.
	NewRefund *Refund
	// Refund is updated if the stored version equals its Version.
	Refund *Refund
	// Events are appended.
	Events []Event
}

// Queue carries work to the workers. The database records the need for
// every job before it is enqueued, so a lost enqueue is redone by the
// reconciler: implementations may fail, but must not block for long.
type Queue interface {
	// EnqueueConfirm asks for a gateway status check after delay.
	EnqueueConfirm(ctx context.Context, paymentID string, delay time.Duration) error
	// EnqueueSync asks for the payment's final state, or the refund's when
	// refundID is set, to be pushed to the platform.
	EnqueueSync(ctx context.Context, paymentID, refundID string) error
	// EnqueueRefund asks for the refund to be processed at the gateway.
	EnqueueRefund(ctx context.Context, refundID string) error
}

// Syncer pushes final states to one platform's store.
type Syncer interface {
	// SyncPayment tells the platform that p reached its final status. It
	// must be idempotent: it may be called again after it succeeded.
	SyncPayment(ctx context.Context, shop *Shop, p *Payment) error
	// SyncRefund tells the platform that r reached its final status.
	SyncRefund(ctx context.Context, shop *Shop, p *Payment, r *Refund) error
}

// PermanentError marks a failure that retrying cannot fix (a 4xx from the
// store, a rejected credential). Jobs archive it at once with Reason.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a [PermanentError].
func Permanent(reason string, err error) error { return &PermanentError{Reason: reason, Err: err} }

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// RetryAfterError asks the job to try again no sooner than After (a 429 or
// 503 with Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// GatewayError is a gateway's refusal or failure. Message is safe to show a
// merchant; Err (logged, not shown) is the underlying cause.
type GatewayError struct {
	Gateway string
	// Op is the call ("charge", "status", "refund").
	Op string
	// HTTPStatus is the gateway's status code, 0 when no answer came.
	HTTPStatus int
	// Message is the gateway's own explanation, or ours when it gave none.
	Message string
	// Temporary is true for timeouts, connection errors and 5xx: the call
	// may succeed later. For a charge it also means the outcome is unknown.
	Temporary bool
	Err       error
}

func (e *GatewayError) Error() string {
	s := fmt.Sprintf("%s %s", e.Gateway, e.Op)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	s += ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *GatewayError) Unwrap() error { return e.Err }

// TransportError is the GatewayError of a call that got no answer (a
// connection failure, a timeout, a cancellation): temporary, and for a
// charge an unknown outcome. display is the gateway's name for people.
func TransportError(gateway, display, op string, err error) *GatewayError {
	ge := &GatewayError{Gateway: gateway, Op: op, Temporary: true, Err: err, Message: "could not reach " + display}
	if errors.Is(err, context.DeadlineExceeded) {
		ge.Message = display + " did not answer in time"
	} else if errors.Is(err, context.Canceled) {
		ge.Message = "the call to " + display + " was canceled"
	}
	return ge
}

// RequestError is the GatewayError of a request we could not build.
func RequestError(gateway, display, op string, err error) *GatewayError {
	return &GatewayError{Gateway: gateway, Op: op, Message: "invalid request to " + display + ": " + err.Error(), Err: err}
}

// AnswerError is the GatewayError of an answer we could not read.
func AnswerError(gateway, display, op string, err error) *GatewayError {
	return &GatewayError{Gateway: gateway, Op: op, Message: display + " sent an answer we cannot read", Err: err}
}
