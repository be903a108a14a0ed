package simkit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"paybridge/internal/simkit"
)

// receiver records what it is sent and answers status.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []string
	hdrs []http.Header
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, req.Method+" "+req.URL.RequestURI()+" "+string(b))
		r.hdrs = append(r.hdrs, req.Header.Clone())
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestDeliverPolicies(t *testing.T) {
	tests := []struct {
		name   string
		policy simkit.Policy
		want   int
	}{
		{"once", simkit.Policy{}, 1},
		{"drop", simkit.Policy{Drop: true}, 0},
		{"repeat", simkit.Policy{Times: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, http.StatusTeapot)
			d := simkit.NewDeliverer()
			var done []simkit.Attempt
			var mu sync.Mutex
			sent := d.Deliver(tt.policy, simkit.Message{URL: rcv.URL + "/n", Body: []byte("a=1"), Meta: "m",
				Header: http.Header{"X-Test": {"1"}}}, func(last simkit.Attempt) {
				mu.Lock()
				done = append(done, last)
				mu.Unlock()
			})
			d.Wait()
			if sent != (tt.want > 0) {
				t.Errorf("Deliver = %v", sent)
			}
			if got := rcv.received(); len(got) != tt.want || (tt.want > 0 && got[0] != "POST /n a=1") {
				t.Fatalf("received %q", got)
			}
			as := d.Attempts()
			if len(as) != tt.want {
				t.Fatalf("%d attempts logged, want %d", len(as), tt.want)
			}
			for _, a := range as {
				if a.Status != http.StatusTeapot || a.Meta != "m" || a.Method != "POST" || a.Forged || a.Header.Get("X-Test") != "1" {
					t.Errorf("attempt %+v", a)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if (len(done) == 1) != (tt.want > 0) || len(done) > 1 {
				t.Errorf("done called %d times", len(done))
			}
		})
	}
}

// TestDeliverDelayOnFakeClock: a delayed delivery waits for the test's
// clock, not the wall clock.
func TestDeliverDelayOnFakeClock(t *testing.T) {
	rcv := newReceiver(t, 200)
	fc := clockwork.NewFakeClock()
	d := simkit.NewDeliverer()
	d.SetClock(fc)
	d.Deliver(simkit.Policy{Times: 2, Delay: time.Hour}, simkit.Message{URL: rcv.URL, Body: []byte("x"),
		Prepare: func(r *http.Request, now time.Time) { r.Header.Set("X-At", now.Format(time.RFC3339)) }}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.received()); n != 0 {
		t.Fatalf("%d sent before the delay", n)
	}
	start := fc.Now()
	fc.Advance(time.Hour)
	if err := fc.BlockUntilContext(ctx, 1); err != nil { // sent once, waiting again
		t.Fatal(err)
	}
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("%d sent after one delay", n)
	}
	fc.Advance(time.Hour)
	d.Wait()
	as := d.Attempts()
	if len(as) != 2 || !as[0].At.Equal(start.Add(time.Hour)) || !as[1].At.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("attempts %+v", as)
	}
	if h := as[1].Header.Get("X-At"); h != start.Add(2*time.Hour).Format(time.RFC3339) {
		t.Fatalf("Prepare saw %q", h)
	}
}

func TestForgeSendDoAndClose(t *testing.T) {
	rcv := newReceiver(t, 401)
	d := simkit.NewDeliverer()
	if a := d.Forge(simkit.Message{URL: rcv.URL, Body: []byte("f")}); !a.Forged || a.Status != 401 {
		t.Fatalf("forge %+v", a)
	}
	if a := d.Send(simkit.Message{Method: http.MethodGet, URL: rcv.URL + "/?q=1"}); a.Forged || a.Status != 401 || a.Method != "GET" {
		t.Fatalf("send %+v", a)
	}
	if a := d.Do(simkit.Message{URL: rcv.URL}); a.Status != 401 {
		t.Fatalf("do %+v", a)
	}
	if n := len(d.Attempts()); n != 2 {
		t.Fatalf("%d logged; Do is not logged", n)
	}
	if a := simkit.Send(nil, simkit.Message{URL: "http://127.0.0.1:0/"}); a.Err == "" || a.Status != 0 {
		t.Fatalf("unreachable: %+v", a)
	}
	d.Close()
	if d.Deliver(simkit.Policy{}, simkit.Message{URL: rcv.URL}, nil) {
		t.Fatal("delivered after Close")
	}
	if got := rcv.received(); len(got) != 3 || got[1] != "GET /?q=1 " {
		t.Fatalf("received %q", got)
	}
}
