package simkit

import (
	"bytes"
	"sync"
)

// RequestLog keeps the raw bodies a simulator received, by route, so that
// a test can check what reached the gateway byte for byte. The zero value
// is ready; it is safe for concurrent use.
type RequestLog struct {
	mu      sync.Mutex
	byRoute map[string][][]byte
}

// Add logs a copy of body under route.
func (l *RequestLog) Add(route string, body []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byRoute == nil {
		l.byRoute = map[string][][]byte{}
	}
	l.byRoute[route] = append(l.byRoute[route], bytes.Clone(body))
}

// Bodies returns copies of the bodies logged under route, oldest first.
func (l *RequestLog) Bodies(route string) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]byte, len(l.byRoute[route]))
	for i, b := range l.byRoute[route] {
		out[i] = bytes.Clone(b)
	}
	return out
}
