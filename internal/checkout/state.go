package checkout

// Status is where a payment stands. The values are part of the public JSON
// contract: never rename them.
type Status string

// Payment statuses. A payment starts in StatusCreated, becomes
// StatusRedirected when the shopper is sent to the gateway page, may be
// StatusPending while the gateway has not settled, and ends in exactly one of
// the final statuses.
const (
	StatusCreated    Status = "created"
	StatusRedirected Status = "redirected"
	StatusPending    Status = "pending"
	StatusPaid       Status = "paid"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
	StatusExpired    Status = "expired"
)

// Final reports whether the status can never change again.
func (s Status) Final() bool {
	switch s {
	case StatusPaid, StatusFailed, StatusCanceled, StatusExpired:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusCreated, StatusRedirected, StatusPending, StatusPaid, StatusFailed, StatusCanceled, StatusExpired:
		return true
	}
	return false
}

// CanTransition reports whether a payment may move from one status to
// another: forward only, and never out of a final status.
//
//	created → redirected → pending → paid | failed | canceled | expired
//
// Steps may be skipped (a gateway can report paid for a payment we still hold
// as created), but never taken back.
func CanTransition(from, to Status) bool {
	if from.Final() || from == to || !to.Valid() {
		return false
	}
	rank := map[Status]int{StatusCreated: 0, StatusRedirected: 1, StatusPending: 2}
	if to.Final() {
		return true
	}
	return rank[to] > rank[from]
}

// SyncState says whether the payment's final state has reached the store.
// It is kept apart from Status: a payment is paid whether or not the
// store's API was up when it happened.
type SyncState string

// Sync states.
const (
	// SyncNone: nothing to push yet (the payment is still open).
	SyncNone SyncState = ""
	// SyncPending: a final state awaits delivery to the platform.
	SyncPending SyncState = "unsynced"
	// SyncDone: the platform acknowledged the final state.
	SyncDone SyncState = "synced"
	// SyncFailed: delivery was given up (the job is archived and can be
	// replayed); the merchant must look.
	SyncFailed SyncState = "sync_failed"
)

// RefundStatus is where a refund stands; part of the public JSON contract.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Final reports whether the refund status can never change again.
func (s RefundStatus) Final() bool { return s == RefundSucceeded || s == RefundFailed }

// Outcome is a gateway's verdict on a payment, already mapped from the
// gateway's own vocabulary (UPayments "CAPTURED", Checkout.com "Captured" …).
type Outcome string

// Outcomes. Anything a gateway says that an adapter cannot map with
// certainty must be OutcomePending: only an explicit success is paid.
const (
	OutcomePending  Outcome = "pending"
	OutcomePaid     Outcome = "paid"
	OutcomeFailed   Outcome = "failed"
	OutcomeCanceled Outcome = "canceled"
	OutcomeExpired  Outcome = "expired"
)

// Status returns the payment status the outcome leads to.
func (o Outcome) Status() Status {
	switch o {
	case OutcomePaid:
		return StatusPaid
	case OutcomeFailed:
		return StatusFailed
	case OutcomeCanceled:
		return StatusCanceled
	case OutcomeExpired:
		return StatusExpired
	}
	return StatusPending
}
