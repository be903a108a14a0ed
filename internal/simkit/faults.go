package simkit

import (
	"io"
	"net/http"
	"sync"
)

// Faults holds injected failures of type F: "the next n calls to P answer
// F instead". The zero value is ready; it is safe for concurrent use.
//
// A call is named by a key (a route such as "get-payment-status/abc" or
// "GET /payments/pay_1", a GraphQL field). Take picks among the rules that
// match the key and have uses left, deterministically:
//
//  1. the longest rule key first (the most specific rule wins, as in
//     http.ServeMux), an exact rule counting as its full length;
//  2. among rules of the same length, the one registered first.
//
// Rules registered one after another with the same key therefore queue up:
// each Take uses the oldest until it has no uses left.
type Faults[F any] struct {
	mu    sync.Mutex
	rules []*rule[F]
}

type rule[F any] struct {
	key   string
	exact bool
	left  int
	fault F
}

func (r *rule[F]) matches(key string) bool {
	if r.exact {
		return key == r.key
	}
	return len(key) >= len(r.key) && key[:len(r.key)] == r.key
}

// Add makes the next n calls whose key starts with prefix answer fault.
func (f *Faults[F]) Add(prefix string, n int, fault F) { f.add(prefix, false, n, fault) }

// AddExact makes the next n calls whose key is exactly key answer fault.
func (f *Faults[F]) AddExact(key string, n int, fault F) { f.add(key, true, n, fault) }

func (f *Faults[F]) add(key string, exact bool, n int, fault F) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule[F]{key: key, exact: exact, left: n, fault: fault})
}

// Take uses one call of the rule that applies to key (see Faults for the
// order) and returns its fault; ok is false when no rule applies.
func (f *Faults[F]) Take(key string) (fault F, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	best := -1
	for i, r := range f.rules {
		if !r.matches(key) {
			continue
		}
		// Strictly longer only: among equals the earliest registered stays.
		if best < 0 || len(r.key) > len(f.rules[best].key) {
			best = i
		}
	}
	if best < 0 {
		return fault, false
	}
	r := f.rules[best]
	r.left--
	if r.left == 0 {
		f.rules = append(f.rules[:best:best], f.rules[best+1:]...)
	}
	return r.fault, true
}

// Clear drops the rules registered with key (by Add or AddExact) that
// still have uses left.
func (f *Faults[F]) Clear(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.rules[:0]
	for _, r := range f.rules {
		if r.key != key {
			kept = append(kept, r)
		}
	}
	clear(f.rules[len(kept):])
	f.rules = kept
}

// Fault is an injected HTTP answer.
type Fault struct {
	Status int
	// Body is sent verbatim: a non-JSON body with status 200 imitates an
	// IP-whitelist or maintenance page.
	Body string
}

// Write answers w with the fault.
func (f Fault) Write(w http.ResponseWriter) {
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}
