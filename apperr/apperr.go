// Package apperr is the one error type of the application. Every layer returns
// *Error (or wraps one with %w) so that the HTTP error handler can map it to a
// status with a single table and the client always gets the same JSON shape.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code is the machine-readable kind of an error. The set is closed: the HTTP
// layer maps each code to exactly one status.
type Code string

const (
	// Invalid is a request whose content breaks a rule (422).
	Invalid Code = "invalid"
	// Malformed is a request that cannot be read at all: broken JSON, a
	// query parameter of the wrong type (400). Clients see it as "invalid".
	Malformed    Code = "malformed"
	Unauthorized Code = "unauthorized"
	Forbidden    Code = "forbidden"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	TooLarge     Code = "too_large"
	Unsupported  Code = "unsupported"
	Unavailable  Code = "unavailable"
	// Throttled is a request refused for a while after too many failures (429).
	Throttled Code = "throttled"
	Internal  Code = "internal"
)

// Error is an application error: a code, a message a person can read, and,
// for validation errors, one message per offending field.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string
	// Err is the underlying cause, logged but never shown to clients.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the given code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the given code and message whose cause is err.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Fields collects validation problems, one message per field, so that a
// request with several mistakes is answered with all of them at once.
type Fields map[string]string

// Add records a problem for field unless one is already recorded.
func (f Fields) Add(field, format string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = fmt.Sprintf(format, args...)
	}
}

// Err returns an Invalid error carrying the problems, or nil when there are none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: "some fields are not valid", Fields: map[string]string(f)}
}
