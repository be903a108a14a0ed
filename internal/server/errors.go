package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

const (
	codeInternal = "internal_error"
	msgInternal  = "internal error"
)

// HTTPError is an error with the answer the client should get. Message is
// shown to the client; Err is only logged. Keep secrets, gateway answers
// and internal details in Err, never in Message.
type HTTPError struct {
	// Status is the HTTP status code; zero means 500.
	Status int
	// Code is a stable, machine-readable snake_case code ("invalid_amount").
	// Empty means one derived from Status ("bad_request", "not_found" …).
	Code string
	// Message is the human-readable text shown to the client. Empty means
	// the status text ("Bad Request").
	Message string
	// Err is the underlying cause, logged with the request id and never
	// sent to the client. May be nil.
	Err error
	// Header holds extra response headers (Retry-After, Allow …).
	Header http.Header
}

// Error returns the status, code and message, then the cause if any. It is
// meant for logs, not for the client.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("http %d %s: %s", e.status(), e.code(), e.message())
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

func (e *HTTPError) status() int {
	if e.Status < 100 || e.Status > 599 {
		return http.StatusInternalServerError
	}
	return e.Status
}

func (e *HTTPError) code() string {
	if e.Code != "" {
		return e.Code
	}
	return statusCode(e.status())
}

func (e *HTTPError) message() string {
	if e.Message != "" {
		return e.Message
	}
	if t := http.StatusText(e.status()); t != "" {
		return t
	}
	return "error"
}

// statusCode derives a snake_case code from a status ("Not Found" →
// "not_found").
func statusCode(status int) string {
	if status == http.StatusInternalServerError {
		return codeInternal
	}
	t := http.StatusText(status)
	if t == "" {
		return "error"
	}
	t = strings.ToLower(t)
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-':
			return '_'
		}
		return -1
	}, t)
}

// Error returns an *HTTPError with no cause: the answer is the whole story
// (a missing parameter, an unknown payment).
func Error(status int, code, message string) *HTTPError {
	return &HTTPError{Status: status, Code: code, Message: message}
}

// Wrap returns an *HTTPError that answers status, code and message and logs
// err.
func Wrap(err error, status int, code, message string) *HTTPError {
	return &HTTPError{Status: status, Code: code, Message: message, Err: err}
}

// errorBody is the JSON of every error answer:
// {"error":{"code":"…","message":"…"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errTooLarge(err error) *HTTPError {
	return Wrap(err, http.StatusRequestEntityTooLarge, "request_too_large", "request body too large")
}

// WriteError answers the request with err as JSON,
// {"error":{"code":"…","message":"…"}}, and aborts the handler chain.
//
// If err is, or wraps, an *HTTPError, its status, code, message and headers
// are used, and its cause is logged (at error level for 5xx, info for 4xx).
// Otherwise:
//   - an *http.MaxBytesError (a body over the limit) answers 413
//     "request_too_large";
//   - the request's own deadline (context.DeadlineExceeded while the
//     request context is past its deadline) answers 503 "timeout";
//   - anything else answers 500 "internal_error", "internal error", and
//     the error is logged with the request id.
//
// If the answer has already started, the error is only logged.
func WriteError(c *gin.Context, err error) {
	writeError(c, err, true)
}

func writeError(c *gin.Context, err error, logIt bool) {
	he := classify(c, err)
	status := he.status()
	if logIt && (he.Err != nil || status >= 500) {
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		var cause error = he
		if err != nil {
			cause = err
		}
		Logger(c).Log(c.Request.Context(), level, "server: request failed",
			"status", status, "code", he.code(), "err", cause)
	}
	if c.Writer.Written() {
		c.Abort()
		return
	}
	for k, vs := range he.Header {
		for _, v := range vs {
			c.Writer.Header().Add(k, v)
		}
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: he.code(), Message: he.message()}})
}

// classify finds the answer for err.
func classify(c *gin.Context, err error) *HTTPError {
	var he *HTTPError
	if errors.As(err, &he) {
		return he
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge(err)
	}
	if errors.Is(err, context.DeadlineExceeded) && c.Request != nil &&
		errors.Is(c.Request.Context().Err(), context.DeadlineExceeded) {
		return Wrap(err, http.StatusServiceUnavailable, "timeout", "the request took too long; please try again")
	}
	if err == nil {
		err = errors.New("server: WriteError called with a nil error")
	}
	return Wrap(err, http.StatusInternalServerError, codeInternal, msgInternal)
}

// ReadBody reads the whole request body, within Config.MaxBodyBytes.
// A body over the limit gives an *HTTPError with status 413 (wrapping the
// *http.MaxBytesError); any other read failure an *HTTPError with status
// 400. Either can be passed straight to [WriteError].
//
// The body is kept: after ReadBody, c.Request.Body reads the same bytes
// again and Gin's ShouldBindBodyWith finds them, so a handler can check a
// signature over the raw bytes and then bind.
func ReadBody(c *gin.Context) ([]byte, error) {
	if v, ok := c.Get(gin.BodyBytesKey); ok {
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	}
	if c.Request.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, errTooLarge(fmt.Errorf("read body: %w", err))
		}
		return nil, Wrap(fmt.Errorf("read body: %w", err), http.StatusBadRequest, "bad_request", "could not read the request body")
	}
	c.Set(gin.BodyBytesKey, b)
	c.Request.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// ReadJSON reads the body with [ReadBody] and decodes it into v. Invalid
// JSON gives an *HTTPError with status 400 and code "invalid_json".
func ReadJSON(c *gin.Context, v any) error {
	b, err := ReadBody(c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return Wrap(fmt.Errorf("decode json: %w", err), http.StatusBadRequest, "invalid_json", "the request body is not valid JSON")
	}
	return nil
}
