package checkout

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// This file is the core's judgement, kept apart from every call that feeds
// it: which gateway references to ask about ([refsToAsk]), whether an answer
// is about our payment ([mismatch]) and, from the payment, the unjudged
// claims and the answers, what to write ([decide]). None of it does I/O,
// reads the clock or changes its inputs, so every case is a table row
// (decide_test.go). [Service.confirm] is the shell around it.

// trigger is a notification or browser return that no judgement
// (claim_rejected, binding_mismatch) has answered yet.
type trigger struct {
	id    int64
	claim claim
}

// answer is one gateway status answer and the reference it was asked for.
type answer struct {
	ref    string
	status GatewayStatus
}

// verdict is what a confirmation decides on.
type verdict struct {
	// payment is the payment as stored; decide works on a copy.
	payment *Payment
	// triggers are the unjudged claims, oldest first (see [unjudged]).
	triggers []trigger
	// answers are the gateway's answers in the order they were asked:
	// every one but the last did not bind.
	answers []answer
	// unreachable is set when the gateway failed before an answer bound:
	// the judgements made so far are recorded, and nothing else changes.
	unreachable bool
	now         time.Time
	// source is who asked ("worker", "shopper", "reconciler").
	source string
}

// decision is what to write for a verdict.
type decision struct {
	// payment is the payment to write with a compare-and-set, nil when it
	// does not change.
	payment *Payment
	// events are appended (in the same write as payment).
	events []Event
	// final is set when payment became final: its sync is to be enqueued.
	final bool
	// notSettled is set when a claim of success awaits the gateway's word:
	// the caller returns ErrNotSettled so the confirm job retries.
	notSettled bool
}

// maxCandidateRefs bounds the references a payment with no reference of
// its own asks about: the newest distinct ones the callbacks named.
const maxCandidateRefs = 3

// refsToAsk returns the gateway references to ask about, in order: ours
// when we have one, else the candidates callbacks named, newest first.
func refsToAsk(p *Payment, triggers []trigger) []string {
	if p.GatewayRef != "" {
		return []string{p.GatewayRef}
	}
	var refs []string
	seen := map[string]bool{}
	for i := len(triggers) - 1; i >= 0 && len(refs) < maxCandidateRefs; i-- {
		if r := triggers[i].claim.Ref; r != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs
}

// mismatch says why a gateway answer to a question about ref is not about
// our payment, or "" when it binds: the same reference, the same order id
// and, once settled, the same currency and amount to the minor unit.
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
	case !st.Amount.Equal(p.Amount):
		return fmt.Sprintf("transaction amount %s, payment amount %s", st.Amount, p.Amount)
	}
	return ""
}

// decide turns a verdict into a decision. The rules, in order:
//
//  1. A callback naming another reference than the payment's own is a
//     binding_mismatch for that callback.
//  2. Each answer that does not bind is a binding_mismatch for the callbacks
//     that named its reference, and one of its own when the reference was
//     ours or no callback named it.
//  3. The answer that binds sets the payment's reference (if it had none),
//     gateway data and transaction id, and its outcome is the target
//     status; an answer with no result at all (the shopper is still on the
//     page) leaves the status alone.
//  4. A payment still open past ExpiresAt expires.
//  5. The payment moves to the target when [CanTransition] allows it; a
//     final status leaves its sync pending.
//  6. Claims of success the final status contradicts are claim_rejected;
//     while the payment is still open they leave it not settled.
//
// With unreachable set only rules 1 and 2 apply.
func decide(v verdict) decision {
	p := *v.payment
	p.GatewayData = maps.Clone(v.payment.GatewayData)
	judged := map[int64]bool{}
	var out []Event
	judge := func(kind string, t trigger, d map[string]any) {
		d = maps.Clone(d)
		d["trigger"] = t.id
		d["claimed_result"] = t.claim.Result
		out = append(out, Event{PaymentID: p.ID, Kind: kind, Source: "worker", Detail: detail(d)})
		judged[t.id] = true
	}
	named := func(ref string) bool {
		for _, t := range v.triggers {
			if t.claim.Ref == ref {
				return true
			}
		}
		return false
	}

	if p.GatewayRef != "" { // rule 1
		for _, t := range v.triggers {
			if t.claim.Ref != "" && t.claim.Ref != p.GatewayRef {
				judge(EventBindingMismatch, t, map[string]any{
					"reason": "callback names another gateway transaction", "ours": p.GatewayRef, "claimed": t.claim.Ref})
			}
		}
	}
	var bound *GatewayStatus
	for _, a := range v.answers { // rule 2
		why := mismatch(&p, a.ref, a.status)
		if why == "" {
			bound = &a.status
			break
		}
		d := map[string]any{"reason": why, "ref": a.ref, "gateway_result": a.status.Result,
			"gateway_order_id": a.status.OrderID, "gateway_amount": a.status.Amount.String(), "gateway_currency": a.status.Amount.Currency}
		for _, t := range v.triggers {
			if !judged[t.id] && t.claim.Ref == a.ref {
				judge(EventBindingMismatch, t, d)
			}
		}
		if p.GatewayRef == a.ref || !named(a.ref) {
			out = append(out, Event{PaymentID: p.ID, Kind: EventBindingMismatch, Source: v.source, Detail: detail(d)})
		}
	}
	if v.unreachable {
		return decision{events: out}
	}

	changed := false
	target := p.Status
	var reason map[string]any
	result := ""
	if bound != nil { // rule 3
		st := *bound
		result = st.Result
		if p.GatewayRef == "" {
			p.GatewayRef, changed = st.Ref, true
		}
		if mergeData(&p, st.Data) {
			changed = true
		}
		if st.TransactionID != "" && st.TransactionID != p.TransactionID {
			p.TransactionID, changed = st.TransactionID, true
		}
		// "pending" is a gateway saying "in progress" (3-D Secure, KNET
		// processing); a transaction with no result at all changes nothing.
		if st.Outcome != OutcomePending || st.Result != "" {
			target = st.Outcome.Status()
		}
		reason = map[string]any{"result": st.Result, "outcome": st.Outcome, "ref": st.Ref, "answer": st.Raw}
	}
	if !target.Final() && !v.now.Before(p.ExpiresAt) { // rule 4
		target = StatusExpired
		reason = map[string]any{"reason": "the gateway page lifetime ended without a final answer", "expired_at": p.ExpiresAt, "last_result": result}
	}
	final := false
	if CanTransition(p.Status, target) { // rule 5
		out = append(out, transition(p.ID, p.Status, target, v.source, detail(reason)))
		p.Status = target
		if target.Final() {
			p.SyncState, final = SyncPending, true
		}
		changed = true
	}
	notSettled := false
	for _, t := range v.triggers { // rule 6
		if judged[t.id] || t.claim.Outcome != OutcomePaid || p.Status == StatusPaid {
			continue
		}
		if p.Status.Final() {
			judge(EventClaimRejected, t, map[string]any{"claimed": t.claim.Result, "gateway_result": result, "status": p.Status})
			continue
		}
		notSettled = true
	}
	d := decision{events: out, final: final, notSettled: notSettled}
	if changed {
		p.UpdatedAt = v.now
		d.payment = &p
	}
	return d
}

// unjudged returns the trigger events (notifications, returns) that no
// claim_rejected or binding_mismatch event has answered yet, oldest first.
func unjudged(events []Event) []trigger {
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
	var out []trigger
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
		out = append(out, trigger{id: e.ID, claim: d.Claim})
	}
	return out
}
