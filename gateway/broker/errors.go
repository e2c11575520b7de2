package broker

import "errors"

// Errors a broker returns, wrapped with detail that is safe to show the
// client. The gateway maps each to a short ERROR message.
var (
	ErrInvalidDestination    = errors.New("invalid destination")
	ErrInvalidHeader         = errors.New("invalid header")
	ErrNotFound              = errors.New("not_found")
	ErrAccessRefused         = errors.New("access_refused")
	ErrPreconditionFailed    = errors.New("precondition_failed")
	ErrResourceLocked        = errors.New("resource_locked")
	ErrUnknownDelivery       = errors.New("unknown delivery tag")
	ErrUnknownSubscription   = errors.New("unknown subscription")
	ErrDuplicateSubscription = errors.New("duplicate subscription")
	ErrNacked                = errors.New("message rejected by broker")
	// ErrLimit: a bound was reached, the session's own (too many
	// consumers) or the node's (no AMQP channel left).
	ErrLimit       = errors.New("resource limit")
	ErrUnavailable = errors.New("broker unavailable")
	ErrClosed      = errors.New("broker connection closed")
)

// ErrUnknownDestination is a destination of no known form (package
// routing returns it); it is an ErrInvalidDestination too.
var ErrUnknownDestination error = unknownDestination{}

type unknownDestination struct{}

func (unknownDestination) Error() string        { return "unknown destination" }
func (unknownDestination) Is(target error) bool { return target == ErrInvalidDestination }
