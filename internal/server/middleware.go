package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"paybridge/internal/metrics"
)

// RequestIDHeader carries the request id, in and out.
const RequestIDHeader = "X-Request-Id"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// RequestID returns the id of the request ctx belongs to, or "" outside a
// request. ctx may be the request's context or the *gin.Context.
func RequestID(ctx context.Context) string {
	if c, ok := ctx.(*gin.Context); ok && c.Request != nil {
		ctx = c.Request.Context()
	}
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Logger returns the logger for the request ctx belongs to: the server's
// logger with a request_id attribute. Outside a request it returns
// slog.Default(). ctx may be the request's context or the *gin.Context.
func Logger(ctx context.Context) *slog.Logger {
	if c, ok := ctx.(*gin.Context); ok && c.Request != nil {
		ctx = c.Request.Context()
	}
	if ctx != nil {
		if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
			return l
		}
	}
	return slog.Default()
}

// validRequestID reports whether an incoming id is safe to adopt: 1 to 128
// characters from [A-Za-z0-9._:-], enough for UUIDs, ULIDs and trace ids,
// nothing that could forge a log line or a header.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// requestID adopts or makes the request id, echoes it and stores it, with a
// logger carrying it, in the request context.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(RequestIDHeader)
	if !validRequestID(id) {
		id = rand.Text() // 26 base32 characters, 130 random bits
	}
	c.Header(RequestIDHeader, id)
	ctx := context.WithValue(c.Request.Context(), requestIDKey, id)
	ctx = context.WithValue(ctx, loggerKey, s.log.With("request_id", id))
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// metricMethod bounds the method label: clients choose the method, so an
// unknown one must not become a new time series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// routeLabel is the route pattern, or "unmatched" when no route matched
// (404, 405), so that the label set stays bounded.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// observe records the request in the Prometheus metrics and the access log
// once everything below it has run.
//
// The log line names the route pattern and the path without its query
// string, and never headers or bodies: query strings here carry signatures,
// keys and tokens (sig=, key=), and headers carry credentials.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)

	status := c.Writer.Status()
	route := routeLabel(c)
	method := metricMethod(c.Request.Method)
	metrics.HTTPRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	metrics.HTTPDuration.WithLabelValues(method, route).Observe(d.Seconds())

	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	size := c.Writer.Size()
	if size < 0 {
		size = 0
	}
	path := c.Request.URL.Path
	if len(path) > 512 {
		path = path[:512] + "…"
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int("bytes", size),
		slog.String("request_id", RequestID(c.Request.Context())),
		slog.String("client_ip", c.ClientIP()),
	)
}

// recovery turns a panic in a handler into a 500 JSON error. The panic value
// and stack are logged; the client sees only "internal error".
// http.ErrAbortHandler is re-panicked: net/http uses it to abort a response
// on purpose.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(v)
		}
		Logger(c).Error("server: panic in handler",
			"panic", fmt.Sprint(v),
			"method", c.Request.Method,
			"route", routeLabel(c),
			"stack", string(debug.Stack()),
		)
		if c.Writer.Written() {
			// Too late for an error body; make sure nothing else is sent.
			c.Abort()
			return
		}
		writeError(c, Error(http.StatusInternalServerError, codeInternal, msgInternal), false)
	}()
	c.Next()
}

// bodyLimit answers 413 at once when Content-Length announces a body over
// MaxBodyBytes, and otherwise caps the body with http.MaxBytesReader so
// that a handler reading past the limit gets *http.MaxBytesError (which
// [ReadBody] and [WriteError] turn into 413).
func (s *Server) bodyLimit(c *gin.Context) {
	limit := s.cfg.MaxBodyBytes
	if limit < 0 || c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	if c.Request.ContentLength > limit {
		// Don't read it; ask net/http to close the connection rather than
		// drain an unwanted body.
		c.Header("Connection", "close")
		WriteError(c, errTooLarge(&http.MaxBytesError{Limit: limit}))
		return
	}
	// Pass the underlying writer so that net/http closes the connection
	// after an oversized body.
	var w http.ResponseWriter = c.Writer
	if u, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	c.Request.Body = http.MaxBytesReader(w, c.Request.Body, limit)
	c.Next()
}

// timeout puts a deadline of RequestTimeout on the request context. It is
// cooperative: handlers and what they call must honour ctx. A handler that
// gives up because of the deadline without answering gets a 503 JSON error.
func (s *Server) timeout(c *gin.Context) {
	if s.cfg.RequestTimeout < 0 {
		c.Next()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
	if !c.Writer.Written() && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		WriteError(c, ctx.Err())
	}
}
