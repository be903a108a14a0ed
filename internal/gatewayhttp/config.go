package gatewayhttp

import (
	"net"
	"net/http"
	"time"
)

// DefaultTimeout bounds each call when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config tunes a [Caller]: the per-call timeout and the pooled transport
// behind it. The zero value is usable: every zero field takes the default
// its comment names.
type Config struct {
	// Timeout bounds each call, on top of the caller's context, from
	// before the connection is taken to the last byte of the answer.
	// Default [DefaultTimeout] (15s). Request.Timeout overrides it.
	Timeout time.Duration

	// DialTimeout bounds opening a TCP connection. Default 5s.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period of open connections.
	// Default 30s.
	KeepAlive time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Default 5s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the answer's headers once
	// the request is written. Default Timeout, so that the per-call
	// timeout is what normally ends a call; set it lower to give up on a
	// silent gateway sooner (the error is the same: temporary, "did not
	// answer in time").
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout is how long an idle keep-alive connection is kept.
	// Default 90s.
	IdleConnTimeout time.Duration

	// MaxIdleConns bounds idle connections over all hosts. Default 256.
	MaxIdleConns int
	// MaxIdleConnsPerHost is how many idle connections are kept per host
	// for reuse: a gateway is one or two hosts, so this is sized for the
	// calls in flight at peak. Default 64.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds connections per host, idle or busy; a call
	// beyond it waits for a free connection (within its timeout).
	// Default 256.
	MaxConnsPerHost int

	// MaxResponseBytes is how much of an answer is read; the rest is
	// dropped (an answer cut short then fails to decode). Default 1 MiB.
	MaxResponseBytes int64
}

// withDefaults returns a copy of c with every zero (or negative) field set.
func (c Config) withDefaults() Config {
	orDefault(&c.Timeout, DefaultTimeout)
	orDefault(&c.DialTimeout, 5*time.Second)
	orDefault(&c.KeepAlive, 30*time.Second)
	orDefault(&c.TLSHandshakeTimeout, 5*time.Second)
	orDefault(&c.ResponseHeaderTimeout, c.Timeout)
	orDefault(&c.IdleConnTimeout, 90*time.Second)
	orDefault(&c.MaxIdleConns, 256)
	orDefault(&c.MaxIdleConnsPerHost, 64)
	orDefault(&c.MaxConnsPerHost, 256)
	orDefault(&c.MaxResponseBytes, 1<<20)
	return c
}

// orDefault sets *v to d unless it is positive.
func orDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// transport builds the pooled transport c describes. Proxies come from
// the environment and HTTP/2 is attempted, as with http.DefaultTransport.
func (c Config) transport() *http.Transport {
	d := &net.Dialer{Timeout: c.DialTimeout, KeepAlive: c.KeepAlive}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   c.TLSHandshakeTimeout,
		ResponseHeaderTimeout: c.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       c.IdleConnTimeout,
		MaxIdleConns:          c.MaxIdleConns,
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		MaxConnsPerHost:       c.MaxConnsPerHost,
	}
}
