package checkout

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// The confirm decision, table-tested: every rule of decide, and every way a
// gateway answer can fail to be about our payment.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	kwd := func(s string) Money {
		m, err := ParseMoney(s, "KWD")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	usd, _ := ParseMoney("12.34", "USD")
	base := func() *Payment {
		return &Payment{ID: "pay_1", GatewayOrderID: "pay_1", GatewayRef: "T1", Amount: kwd("12.345"),
			Status: StatusRedirected, Gateway: "upay", GatewayData: map[string]string{"k": "v"},
			ExpiresAt: now.Add(time.Hour), Version: 3}
	}
	noRef := func() *Payment { p := base(); p.GatewayRef = ""; return p }
	expired := func() *Payment { p := base(); p.ExpiresAt = now.Add(-time.Second); return p }
	st := func(outcome Outcome, result string) GatewayStatus {
		return GatewayStatus{Outcome: outcome, Result: result, Ref: "T1", OrderID: "pay_1", Amount: kwd("12.345"), TransactionID: "P9"}
	}
	with := func(s GatewayStatus, f func(*GatewayStatus)) GatewayStatus { f(&s); return s }
	paidClaim := func(id int64, ref string) trigger {
		return trigger{id: id, claim: claim{Result: "CAPTURED", Outcome: OutcomePaid, Ref: ref}}
	}
	ask := func(ref string, s GatewayStatus) answer { return answer{ref: ref, status: s} }

	type want struct {
		status     Status // "" : the payment is not written
		sync       SyncState
		final      bool
		notSettled bool
		// kinds are the events' kinds, in order; reasons a substring of
		// each binding_mismatch reason, in order.
		kinds   []string
		reasons []string
		// judged are the trigger ids the events answer, in order.
		judged []int64
		ref    string // the payment's GatewayRef afterwards, when written
	}
	for _, tt := range []struct {
		name        string
		p           *Payment
		triggers    []trigger
		answers     []answer
		unreachable bool
		want        want
	}{
		{name: "paid, bound", p: base(), answers: []answer{ask("T1", st(OutcomePaid, "CAPTURED"))},
			want: want{status: StatusPaid, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "paid, with the claim that triggered it", p: base(), triggers: []trigger{paidClaim(7, "T1")},
			answers: []answer{ask("T1", st(OutcomePaid, "CAPTURED"))},
			want:    want{status: StatusPaid, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "declined", p: base(), answers: []answer{ask("T1", st(OutcomeFailed, "NOT CAPTURED"))},
			want: want{status: StatusFailed, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "declined, a success claim is rejected", p: base(), triggers: []trigger{paidClaim(7, "T1")},
			answers: []answer{ask("T1", st(OutcomeFailed, "NOT CAPTURED"))},
			want: want{status: StatusFailed, sync: SyncPending, final: true,
				kinds: []string{EventTransition, EventClaimRejected}, judged: []int64{7}, ref: "T1"}},
		{name: "canceled", p: base(), answers: []answer{ask("T1", st(OutcomeCanceled, "CANCELED"))},
			want: want{status: StatusCanceled, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "in progress is pending", p: base(), answers: []answer{ask("T1", with(st(OutcomePending, "PENDING"), func(s *GatewayStatus) { s.Amount = Money{} }))},
			want: want{status: StatusPending, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "no result yet changes nothing", p: base(), answers: []answer{ask("T1", with(st(OutcomePending, ""), func(s *GatewayStatus) { s.Amount, s.TransactionID = Money{}, "" }))},
			want: want{}},
		{name: "no result yet, a success claim is not settled", p: base(), triggers: []trigger{paidClaim(7, "T1")},
			answers: []answer{ask("T1", with(st(OutcomePending, ""), func(s *GatewayStatus) { s.Amount, s.TransactionID = Money{}, "" }))},
			want:    want{notSettled: true}},
		{name: "another amount", p: base(), triggers: []trigger{paidClaim(7, "T1")},
			answers: []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Amount = kwd("12.340") }))},
			// The claim is answered by the mismatch: it is no longer waited on.
			want: want{kinds: []string{EventBindingMismatch, EventBindingMismatch},
				reasons: []string{"transaction amount 12.340, payment amount 12.345", "transaction amount 12.340"}, judged: []int64{7}}},
		{name: "another currency", p: base(),
			answers: []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Amount = usd }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{`currency "USD", payment currency "KWD"`}}},
		{name: "another order", p: base(),
			answers: []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.OrderID = "pay_2" }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{`belongs to order "pay_2"`}}},
		{name: "another order, even while pending", p: base(),
			answers: []answer{ask("T1", with(st(OutcomePending, "PENDING"), func(s *GatewayStatus) { s.OrderID = "pay_2" }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{`belongs to order "pay_2"`}}},
		{name: "another reference", p: base(),
			answers: []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Ref = "T2" }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{`answered about transaction "T2", asked about "T1"`}}},
		{name: "settled answer naming no order", p: base(),
			answers: []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.OrderID = "" }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{"does not name the order"}}},
		{name: "a callback naming another transaction", p: base(), triggers: []trigger{paidClaim(7, "T2")},
			answers: []answer{ask("T1", with(st(OutcomePending, ""), func(s *GatewayStatus) { s.Amount, s.TransactionID = Money{}, "" }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{"callback names another gateway transaction"}, judged: []int64{7}}},
		{name: "no reference of ours: the newest candidate that binds wins", p: noRef(),
			triggers: []trigger{paidClaim(5, "T1"), paidClaim(6, "TX")},
			answers: []answer{
				ask("TX", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Ref, s.OrderID = "TX", "pay_9" })),
				ask("T1", st(OutcomePaid, "CAPTURED"))},
			want: want{status: StatusPaid, sync: SyncPending, final: true, kinds: []string{EventBindingMismatch, EventTransition},
				reasons: []string{`belongs to order "pay_9"`}, judged: []int64{6}, ref: "T1"}},
		{name: "no reference of ours, none binds", p: noRef(), triggers: []trigger{paidClaim(5, "TX")},
			answers: []answer{ask("TX", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Ref, s.Amount = "TX", kwd("1") }))},
			want:    want{kinds: []string{EventBindingMismatch}, reasons: []string{"transaction amount 1.000"}, judged: []int64{5}}},
		{name: "past its lifetime with no final answer: expired", p: expired(),
			answers: []answer{ask("T1", with(st(OutcomePending, ""), func(s *GatewayStatus) { s.Amount, s.TransactionID = Money{}, "" }))},
			want:    want{status: StatusExpired, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "past its lifetime but paid: paid", p: expired(), answers: []answer{ask("T1", st(OutcomePaid, "CAPTURED"))},
			want: want{status: StatusPaid, sync: SyncPending, final: true, kinds: []string{EventTransition}, ref: "T1"}},
		{name: "past its lifetime, the answer about another amount: expired, and the claim rejected", p: expired(),
			triggers: []trigger{paidClaim(7, "T1")},
			answers:  []answer{ask("T1", with(st(OutcomePaid, "CAPTURED"), func(s *GatewayStatus) { s.Amount = kwd("99") }))},
			want: want{status: StatusExpired, sync: SyncPending, final: true,
				kinds:   []string{EventBindingMismatch, EventBindingMismatch, EventTransition},
				reasons: []string{"transaction amount 99.000", "transaction amount 99.000"}, judged: []int64{7}, ref: "T1"}},
		{name: "past its lifetime with nothing to ask: expired", p: func() *Payment { p := expired(); p.GatewayRef = ""; return p }(),
			want: want{status: StatusExpired, sync: SyncPending, final: true, kinds: []string{EventTransition}}},
		{name: "gateway unreachable: only judgements", p: base(), triggers: []trigger{paidClaim(7, "T2")}, unreachable: true,
			want: want{kinds: []string{EventBindingMismatch}, reasons: []string{"callback names another gateway transaction"}, judged: []int64{7}}},
		{name: "gateway unreachable past expiry: not expired without the gateway's word", p: expired(), unreachable: true,
			want: want{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := *tt.p
			in.GatewayData = map[string]string{"k": "v"}
			d := decide(verdict{payment: tt.p, triggers: tt.triggers, answers: tt.answers, unreachable: tt.unreachable, now: now, source: "worker"})
			if tt.p.Status != in.Status || tt.p.GatewayRef != in.GatewayRef || tt.p.GatewayData["k"] != "v" || len(tt.p.GatewayData) != 1 {
				t.Fatalf("decide changed its input: %+v", tt.p)
			}
			w := tt.want
			if (d.payment != nil) != (w.status != "") {
				t.Fatalf("written: %+v, want status %q", d.payment, w.status)
			}
			if d.payment != nil {
				if d.payment.Status != w.status || d.payment.SyncState != w.sync || d.payment.GatewayRef != w.ref || !d.payment.UpdatedAt.Equal(now) || d.payment.Version != 3 {
					t.Errorf("payment: status %s sync %q ref %q updated %v version %d", d.payment.Status, d.payment.SyncState, d.payment.GatewayRef, d.payment.UpdatedAt, d.payment.Version)
				}
			}
			if d.final != w.final || d.notSettled != w.notSettled {
				t.Errorf("final %v notSettled %v, want %v %v", d.final, d.notSettled, w.final, w.notSettled)
			}
			var kinds, reasons []string
			var judged []int64
			for _, e := range d.events {
				kinds = append(kinds, e.Kind)
				if e.PaymentID != "pay_1" {
					t.Errorf("event for %q", e.PaymentID)
				}
				var dt struct {
					Reason  string `json:"reason"`
					Trigger int64  `json:"trigger"`
				}
				if err := json.Unmarshal(e.Detail, &dt); err != nil {
					t.Fatal(err)
				}
				if e.Kind == EventBindingMismatch {
					reasons = append(reasons, dt.Reason)
				}
				if dt.Trigger != 0 {
					judged = append(judged, dt.Trigger)
				}
			}
			if !slices.Equal(kinds, w.kinds) || !slices.Equal(judged, w.judged) || len(reasons) != len(w.reasons) {
				t.Fatalf("events %v judging %v (reasons %q), want %v judging %v", kinds, judged, reasons, w.kinds, w.judged)
			}
			for i := range reasons {
				if !strings.Contains(reasons[i], w.reasons[i]) {
					t.Errorf("reason %d: %q, want %q", i, reasons[i], w.reasons[i])
				}
			}
		})
	}
}

// Paid sets the transaction id and merges the gateway's data; a transition
// event records the answer.
func TestDecidePaidRecordsTheAnswer(t *testing.T) {
	now := time.Now()
	m, _ := ParseMoney("5.000", "KWD")
	p := &Payment{ID: "pay_1", GatewayOrderID: "pay_1", GatewayRef: "T1", Amount: m, Status: StatusRedirected, ExpiresAt: now.Add(time.Hour)}
	st := GatewayStatus{Outcome: OutcomePaid, Result: "CAPTURED", Ref: "T1", OrderID: "pay_1", Amount: m, TransactionID: "P1",
		Data: map[string]string{"payment_type": "knet"}, Raw: json.RawMessage(`{"result":"CAPTURED"}`)}
	d := decide(verdict{payment: p, answers: []answer{{ref: "T1", status: st}}, now: now, source: "shopper"})
	if d.payment == nil || d.payment.TransactionID != "P1" || d.payment.GatewayData["payment_type"] != "knet" {
		t.Fatalf("%+v", d.payment)
	}
	e := d.events[0]
	if e.Kind != EventTransition || e.From != "redirected" || e.To != "paid" || e.Source != "shopper" || !strings.Contains(string(e.Detail), `"answer":{"result":"CAPTURED"}`) {
		t.Fatalf("%+v %s", e, e.Detail)
	}
}

func TestRefsToAsk(t *testing.T) {
	tr := func(ref string) trigger { return trigger{claim: claim{Ref: ref, Outcome: OutcomePaid}} }
	for _, tt := range []struct {
		ours     string
		triggers []trigger
		want     []string
	}{
		{"T1", []trigger{tr("T2")}, []string{"T1"}},
		{"", nil, nil},
		{"", []trigger{tr("A"), tr(""), tr("B"), tr("A")}, []string{"A", "B"}},
		{"", []trigger{tr("A"), tr("B"), tr("C"), tr("D")}, []string{"D", "C", "B"}},
	} {
		if got := refsToAsk(&Payment{GatewayRef: tt.ours}, tt.triggers); !slices.Equal(got, tt.want) {
			t.Errorf("ours %q: %v, want %v", tt.ours, got, tt.want)
		}
	}
}

// A judgement answers its trigger for good; triggers without a claim are
// not triggers.
func TestUnjudged(t *testing.T) {
	c := func(id int64, kind, detail string) Event {
		return Event{ID: id, Kind: kind, Detail: json.RawMessage(detail)}
	}
	events := []Event{
		c(1, EventNotification, `{"claim":{"result":"CAPTURED","outcome":"paid","ref":"T1"}}`),
		c(2, EventReturn, `{"claim":{"result":"CAPTURED","outcome":"paid"}}`),
		c(3, EventNotification, `{"error":"unreadable"}`),
		c(4, EventBindingMismatch, `{"trigger":1}`),
		c(5, EventTransition, `{}`),
		c(6, EventNotification, `{"claim":{"result":"NOT CAPTURED","outcome":"failed"}}`),
		c(7, EventClaimRejected, `{"trigger":6}`),
	}
	got := unjudged(events)
	if len(got) != 1 || got[0].id != 2 || got[0].claim.Outcome != OutcomePaid {
		t.Fatalf("%+v", got)
	}
}
