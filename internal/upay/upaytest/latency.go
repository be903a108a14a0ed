package upaytest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Latency wraps a handler (a Sim) and holds each API request (paths under
// /api/v1/) for a settable time before the handler answers it, as a slow
// gateway would; the hosted page and everything else answer at once. Load
// tests use it to see what a gateway answering in 20 ms or 2 s costs the
// caller. A request whose client gives up while it is held is not passed on.
// It is safe for concurrent use; the zero delay passes requests straight
// through.
//
//	sim := upaytest.New(base)
//	lat := upaytest.NewLatency(sim)
//	lat.Set(20 * time.Millisecond)
//	srv := &http.Server{Handler: lat}
type Latency struct {
	next  http.Handler
	delay atomic.Int64 // nanoseconds
}

// NewLatency returns next behind a delay of zero.
func NewLatency(next http.Handler) *Latency { return &Latency{next: next} }

// Set changes the delay of the API requests that arrive from now on.
// A negative delay is taken as zero.
func (l *Latency) Set(d time.Duration) { l.delay.Store(int64(max(d, 0))) }

// Delay is the current delay.
func (l *Latency) Delay() time.Duration { return time.Duration(l.delay.Load()) }

// ServeHTTP holds an API request for the delay, then serves it.
func (l *Latency) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d := l.Delay(); d > 0 && strings.HasPrefix(r.URL.Path, "/api/v1/") {
		// The body is read first: net/http notices a client hanging up
		// (and cancels r.Context) only once the body has been consumed.
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	l.next.ServeHTTP(w, r)
}
