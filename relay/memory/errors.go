package memory

import (
	"fmt"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// The errors below wrap the port's sentinels with RabbitMQ's own wording
// (without its "NOT_FOUND - " prefix), which is safe to show the client and
// what users of RabbitMQ search for.

func errNoExchange(name, vhost string) error {
	return fmt.Errorf("%w: no exchange '%s' in vhost '%s'", broker.ErrNotFound, name, vhost)
}

func errNoQueue(name, vhost string) error {
	return fmt.Errorf("%w: no queue '%s' in vhost '%s'", broker.ErrNotFound, name, vhost)
}

func errQueueDeleted(name, vhost string) error {
	return fmt.Errorf("%w: queue '%s' in vhost '%s' was deleted", broker.ErrNotFound, name, vhost)
}

func errLocked(name, vhost string) error {
	return fmt.Errorf("%w: cannot obtain exclusive access to locked queue '%s' in vhost '%s'. "+
		"It could be originally declared on another connection or the exclusive property value "+
		"does not match that of the original declaration.", broker.ErrResourceLocked, name, vhost)
}

func errInequivalent(arg, name, vhost string, received, current bool) error {
	return fmt.Errorf("%w: inequivalent arg '%s' for queue '%s' in vhost '%s': received '%t' but current is '%t'",
		broker.ErrPreconditionFailed, arg, name, vhost, received, current)
}

// errInequivalentArg: received and current are nil when absent.
func errInequivalentArg(arg, name, vhost string, received, current any) error {
	return fmt.Errorf("%w: inequivalent arg '%s' for queue '%s' in vhost '%s': received %s but current is %s",
		broker.ErrPreconditionFailed, arg, name, vhost, argText(received), argText(current))
}

// argText writes an argument value as RabbitMQ does in that error.
func argText(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case int64:
		return fmt.Sprintf("the value '%d' of type 'long'", v)
	}
	return fmt.Sprintf("the value '%v' of type 'longstr'", v)
}

func errReservedName(name string) error {
	return fmt.Errorf("%w: queue name '%s' contains reserved prefix 'amq.*'", broker.ErrAccessRefused, name)
}

func errUnknownSubscription(id string) error {
	return fmt.Errorf("%w: no subscription '%s'", broker.ErrUnknownSubscription, id)
}
