package gatewaytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paybridge/internal/checkout"
)

// Server serves a gateway simulator on a local port and can make its next
// requests stall: the harness's Stall control for simulators that have
// none of their own.
type Server struct {
	*httptest.Server
	stalls atomic.Int64
}

// NewServer starts the handler newHandler returns for the server's base
// URL (a simulator's New) and closes the server when the test ends.
func NewServer(t *testing.T, newHandler func(baseURL string) http.Handler) *Server {
	t.Helper()
	s := &Server{}
	var h http.Handler
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.takeStall() {
			// Reading the body to its end lets the server notice the
			// client hanging up; then answer nothing until it does.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		h.ServeHTTP(w, r)
	}))
	h = newHandler("http://" + s.Listener.Addr().String())
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// takeStall reports whether this request is one StallNext asked for.
func (s *Server) takeStall() bool {
	for {
		n := s.stalls.Load()
		if n <= 0 {
			return false
		}
		if s.stalls.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// StallNext makes the next request to the server hang, unanswered, until
// its client gives up.
func (s *Server) StallNext(*testing.T) { s.stalls.Add(1) }

// Act makes a harness's shopper action (Pay, Decline, Cancel) of a
// simulator's control complete(ref, result), which records result on the
// charge with that gateway reference, sends its notification and returns
// the URL the browser comes back to (the simulators' Complete).
func Act(complete func(ref, result string) (string, error), result string) func(*testing.T, checkout.Charge) string {
	return func(t *testing.T, ch checkout.Charge) string {
		t.Helper()
		ret, err := complete(ch.Ref, result)
		if err != nil {
			t.Fatalf("complete %s as %s: %v", ch.Ref, result, err)
		}
		return ret
	}
}

// NewPayment returns a payment for amount with fresh ids, as the core
// creates one (GatewayOrderID is its id), for a harness's NewPayment.
func NewPayment(amount checkout.Money) *checkout.Payment {
	id := checkout.NewID("pay")
	return &checkout.Payment{ID: id, GatewayOrderID: id, OrderID: "ord-" + id[len(id)-8:], Amount: amount,
		Description: "Conformance order", Language: "en", Status: checkout.StatusCreated,
		Customer:  checkout.Customer{Name: "Conformance Shopper", Email: "shopper@example.com"},
		ReturnURL: "https://shop.example/orders/" + id, CreatedAt: time.Now().UTC().Truncate(time.Second)}
}

// inbox stands for paybridge's public endpoints: it records every
// notification a simulator sends, by the payment it names.
type inbox struct {
	mu      sync.Mutex
	gw      checkout.Gateway // routes account-level notifications
	got     map[string][]checkout.CallbackRequest
	changed chan struct{} // closed and replaced on every arrival
}

func newInbox(t *testing.T) (*inbox, *httptest.Server) {
	in := &inbox{got: map[string][]checkout.CallbackRequest{}, changed: make(chan struct{})}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return in, srv
}

// setGateway sets the adapter whose CallbackRouter routes notifications.
func (in *inbox) setGateway(g checkout.Gateway) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.gw = g
}

// ServeHTTP records the request under the payment id ending its path or,
// for an account-level URL, the one the adapter's CallbackRouter names.
func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req := checkout.CallbackRequest{Method: r.Method, URL: "http://" + r.Host + r.URL.RequestURI(),
		Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	id := path.Base(r.URL.Path)
	in.mu.Lock()
	gw := in.gw
	in.mu.Unlock()
	if router, ok := gw.(checkout.CallbackRouter); ok && !checkout.ValidID("pay", id) {
		id, _ = router.CallbackPaymentID(req)
	}
	in.mu.Lock()
	in.got[id] = append(in.got[id], req)
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// wait returns the first notification about paymentID, waiting for it to
// arrive for at most 10 s.
func (in *inbox) wait(t *testing.T, paymentID string) checkout.CallbackRequest {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		in.mu.Lock()
		got, changed := in.got[paymentID], in.changed
		in.mu.Unlock()
		if len(got) > 0 {
			return got[0]
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no notification about %s arrived in 10 s", paymentID)
		}
	}
}
