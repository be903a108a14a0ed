package simkit_test

import (
	"net/http/httptest"
	"testing"

	"paybridge/internal/simkit"
)

// TestFaultsOrder pins the documented order: the longest matching rule
// key first, then registration order; same-key rules queue up.
func TestFaultsOrder(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *simkit.Faults[string])
		calls []string
		want  []string // "" for no fault
	}{
		{"no rules", func(*simkit.Faults[string]) {}, []string{"charge"}, []string{""}},
		{"prefix match", func(f *simkit.Faults[string]) { f.Add("get-payment-status", 1, "a") },
			[]string{"charge", "get-payment-status/abc", "get-payment-status/abc"}, []string{"", "a", ""}},
		{"same prefix queues in registration order", func(f *simkit.Faults[string]) {
			f.Add("charge", 1, "first")
			f.Add("charge", 1, "second")
		}, []string{"charge", "charge", "charge"}, []string{"first", "second", ""}},
		{"longer prefix first, whatever the registration order", func(f *simkit.Faults[string]) {
			f.Add("GET /payments", 1, "short")
			f.Add("GET /payments/", 1, "long")
		}, []string{"GET /payments/pay_1", "GET /payments/pay_1", "GET /payments/pay_1"}, []string{"long", "short", ""}},
		{"longer prefix first, registered first", func(f *simkit.Faults[string]) {
			f.Add("GET /payments/", 1, "long")
			f.Add("GET /payments", 1, "short")
		}, []string{"GET /payments/pay_1", "GET /payments/pay_1"}, []string{"long", "short"}},
		{"a longer rule that does not match is skipped", func(f *simkit.Faults[string]) {
			f.Add("POST /payments", 1, "short")
			f.Add("POST /payments/x/refunds", 1, "refund")
		}, []string{"POST /payments", "POST /payments"}, []string{"short", ""}},
		{"n uses", func(f *simkit.Faults[string]) { f.Add("x", 2, "twice") },
			[]string{"x", "x", "x"}, []string{"twice", "twice", ""}},
		{"exact matches only the key", func(f *simkit.Faults[string]) { f.AddExact("paymentSession", 1, "exact") },
			[]string{"paymentSessionResolve", "paymentSession", "paymentSession"}, []string{"", "exact", ""}},
		{"exact and prefix of the same key: registration order", func(f *simkit.Faults[string]) {
			f.Add("op", 1, "prefix")
			f.AddExact("op", 1, "exact")
		}, []string{"op", "op"}, []string{"prefix", "exact"}},
		{"empty prefix matches everything, last", func(f *simkit.Faults[string]) {
			f.Add("", 1, "any")
			f.Add("charge", 1, "charge")
		}, []string{"charge", "charge", "charge"}, []string{"charge", "any", ""}},
		{"Clear drops a key's rules", func(f *simkit.Faults[string]) {
			f.Add("a", 3, "a")
			f.Add("ab", 1, "ab")
			f.Clear("a")
		}, []string{"abc", "abc"}, []string{"ab", ""}},
		{"n <= 0 adds nothing", func(f *simkit.Faults[string]) { f.Add("x", 0, "never") },
			[]string{"x"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f simkit.Faults[string]
			tt.setup(&f)
			for i, key := range tt.calls {
				got, ok := f.Take(key)
				if ok != (tt.want[i] != "") || got != tt.want[i] {
					t.Errorf("call %d (%q) = %q, %v; want %q", i, key, got, ok, tt.want[i])
				}
			}
		})
	}
}

// TestFaultsDeterministic repeats the case the maps of the old simulators
// got wrong (two matching prefixes): the answer never varies.
func TestFaultsDeterministic(t *testing.T) {
	for range 200 {
		var f simkit.Faults[int]
		f.Add("get-payment-status", 1, 1)
		f.Add("get-payment-status/", 1, 2)
		f.Add("get", 1, 3)
		for want := 2; want >= 1; want-- {
			if got, _ := f.Take("get-payment-status/x"); got != want {
				t.Fatalf("got %d, want %d", got, want)
			}
		}
		if got, _ := f.Take("get-payment-status/x"); got != 3 {
			t.Fatalf("got %d, want 3", got)
		}
	}
}

func TestFaultWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	simkit.Fault{Status: 200, Body: "<html>whitelist</html>"}.Write(rec)
	if rec.Code != 200 || rec.Body.String() != "<html>whitelist</html>" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
}
