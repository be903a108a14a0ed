package simkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Timeout bounds one delivery attempt, as real senders give up on a slow
// receiver (UPayments, Checkout.com and WooCommerce all stop waiting).
const Timeout = 10 * time.Second

// Policy says how a Deliverer delivers a notification. The zero Policy
// sends it once, at once.
type Policy struct {
	// Drop never sends it (real notifications do get lost).
	Drop bool
	// Times sends it this many times (0 means 1): a duplicated delivery.
	Times int
	// Delay waits this long, on the Deliverer's clock, before each send.
	Delay time.Duration
}

// Message is one notification to send.
type Message struct {
	// Method defaults to POST.
	Method string
	URL    string
	Body   []byte
	// Header is sent with every attempt (cloned, never modified).
	Header http.Header
	// Prepare, when set, runs on each attempt's request just before it is
	// sent, with the clock's time: for signatures over a timestamp.
	Prepare func(r *http.Request, now time.Time)
	// Meta is the simulator's own detail (the fields, the event type),
	// copied into every Attempt.
	Meta any
}

// Attempt is one delivery attempt and what came of it.
type Attempt struct {
	Method string
	URL    string
	Body   []byte
	// Header is what was sent, signature included.
	Header http.Header
	// Status is the HTTP status the receiver answered (0 if none); Err the
	// transport error.
	Status int
	Err    string
	// Forged is true for Forge.
	Forged bool
	At     time.Time
	Meta   any
}

// Send sends m once with hc (http.DefaultClient if nil), on the real
// clock, and reports the attempt; nothing is logged.
func Send(hc *http.Client, m Message) Attempt {
	return send(hc, clockwork.NewRealClock(), m)
}

func send(hc *http.Client, clock clockwork.Clock, m Message) Attempt {
	if hc == nil {
		hc = http.DefaultClient
	}
	method := m.Method
	if method == "" {
		method = http.MethodPost
	}
	now := clock.Now()
	a := Attempt{Method: method, URL: m.URL, Body: m.Body, At: now, Meta: m.Meta}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var body io.Reader
	if m.Body != nil {
		body = bytes.NewReader(m.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.URL, body)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	for k, vs := range m.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if m.Prepare != nil {
		m.Prepare(req, now)
	}
	a.Header = req.Header.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	a.Status = resp.StatusCode
	return a
}

// Deliverer sends a simulator's notifications in the background, per
// Policy, and logs every attempt. The zero value is not usable; call
// NewDeliverer. Its methods are safe for concurrent use.
type Deliverer struct {
	mu     sync.Mutex
	clock  clockwork.Clock
	client *http.Client
	log    []Attempt
	closed bool
	wg     sync.WaitGroup
}

// NewDeliverer returns a Deliverer on the real clock whose client times
// out after Timeout.
func NewDeliverer() *Deliverer {
	return &Deliverer{clock: clockwork.NewRealClock(), client: &http.Client{Timeout: Timeout}}
}

// SetClock replaces the clock delays wait on and attempts are stamped
// with. With a clockwork.FakeClock a delayed delivery waits until the test
// advances the clock past the delay (BlockUntilContext tells when it is
// waiting).
func (d *Deliverer) SetClock(c clockwork.Clock) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock = c
}

// Clock returns the clock in use.
func (d *Deliverer) Clock() clockwork.Clock {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.clock
}

// SetClient replaces the HTTP client later deliveries are sent with.
func (d *Deliverer) SetClient(hc *http.Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.client = hc
}

// Client returns the HTTP client in use.
func (d *Deliverer) Client() *http.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.client
}

// Deliver sends m in the background as p says and, after the last
// attempt, calls done (if not nil) with it. It reports false, and sends
// nothing, when p drops the message or the Deliverer is closed.
func (d *Deliverer) Deliver(p Policy, m Message, done func(last Attempt)) bool {
	d.mu.Lock()
	if p.Drop || d.closed {
		d.mu.Unlock()
		return false
	}
	hc, clock := d.client, d.clock
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		var last Attempt
		for range max(p.Times, 1) {
			if p.Delay > 0 {
				<-clock.After(p.Delay)
			}
			last = d.record(send(hc, clock, m))
		}
		if done != nil {
			done(last)
		}
	}()
	return true
}

// Send sends m once, now, and logs the attempt.
func (d *Deliverer) Send(m Message) Attempt {
	hc, clock := d.Client(), d.Clock()
	return d.record(send(hc, clock, m))
}

// Forge sends m once, now, as an attacker (or a replay) could, and logs
// the attempt with Forged set.
func (d *Deliverer) Forge(m Message) Attempt {
	a := send(d.Client(), d.Clock(), m)
	a.Forged = true
	return d.record(a)
}

// Do sends m once, now, with the Deliverer's client, without logging it:
// for requests a simulator makes that are not notifications (a creation
// ping, a key exchange).
func (d *Deliverer) Do(m Message) Attempt {
	return send(d.Client(), d.Clock(), m)
}

func (d *Deliverer) record(a Attempt) Attempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log = append(d.log, a)
	return a
}

// Attempts returns every logged attempt so far, in the order they ended.
func (d *Deliverer) Attempts() []Attempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Attempt(nil), d.log...)
}

// Wait blocks until the deliveries in flight are done. A delivery delayed
// on a fake clock is done only once the clock has been advanced.
func (d *Deliverer) Wait() { d.wg.Wait() }

// Close refuses later deliveries and waits for those in flight (a
// delivery delayed on a fake clock keeps Close waiting until the clock is
// advanced).
func (d *Deliverer) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}
