// Package checkout is paybridge's core: payments, refunds, their states and
// money, and the [Service] that moves them. It imports none of its
// neighbours; it declares the ports it needs ([Gateway] and its optional
// [Refunder] and [CallbackRouter], [Store], [Queue], [Syncer]) and the
// gateway, store, queue and platform packages implement them.
//
// # A payment's life
//
//	                  ┌──────────────── gateway: paid | failed | canceled ───────────────┐
//	                  │                                                                   ▼
//	created ──shopper at /pay──▶ redirected ──gateway: in progress──▶ pending ──▶ paid | failed | canceled
//	   │                              │                                  │
//	   └──────────────────────────────┴──── past ExpiresAt, no final ────┴──▶ expired
//	                                        answer from the gateway
//
// Statuses only move forward ([CanTransition]) and the four on the right are
// final. A payment declined before any gateway call ([Service.Decline]) is
// failed from the start. Apart from the status, a final payment carries a
// [SyncState]: unsynced until its platform has been told, then synced (or
// sync_failed when the retries ran out; a replay tries again).
//
// # Who may move it
//
// Only the gateway's own status answer moves a payment to paid, failed or
// canceled, and only when that answer is bound to the payment: the same
// gateway reference, the order id we sent, and once settled the same
// currency and amount to the minor unit. Notifications and browser returns
// are recorded as claims (events) and only trigger the question. The
// judgement is one pure function, decide (decide.go), table-tested on
// every case; [Service.Confirm] is the shell that reads the payment and its
// unjudged claims, asks the gateway, and writes what decide returns.
//
// # How it is written
//
// Every change of a payment or refund is one [Store.Apply]: a
// compare-and-set on the row's Version plus the audit events, or nothing.
// A lost race is retried by one policy (retryCAS: re-read, decide again,
// jittered pauses, bounded). The database is the outbox: every enqueue
// follows a committed row that records the need for it, and
// [Service.Reconcile] finds rows whose work was lost and enqueues them
// again.
//
// # Money
//
// [Money] is an int64 count of minor units and an ISO 4217 code whose
// exponent comes from a table (KWD has 3 decimals). Amounts are parsed from
// decimal strings ([ParseMoney], [ParseMoneyPadded]) and never pass through
// a float.
package checkout
