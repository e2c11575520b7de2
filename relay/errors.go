package relay

import (
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// brokerErr turns an amqp091 error into the port's errors, keeping
// RabbitMQ's text (safe to show: it names exchanges and queues) without
// its "NOT_FOUND - " prefix.
func brokerErr(err error) error {
	if errors.Is(err, amqp.ErrChannelMax) {
		return fmt.Errorf("%w: %w: this gateway node has no AMQP channel left for it; try another node", broker.ErrLimit, broker.ErrUnavailable)
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		if errors.Is(err, amqp.ErrClosed) {
			return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
		}
		return err
	}
	text := ae.Reason
	if _, rest, ok := strings.Cut(text, " - "); ok {
		text = rest
	}
	var sentinel error
	switch ae.Code {
	case amqp.NotFound:
		sentinel = broker.ErrNotFound
	case amqp.AccessRefused:
		sentinel = broker.ErrAccessRefused
	case amqp.ResourceLocked:
		sentinel = broker.ErrResourceLocked
	case amqp.PreconditionFailed:
		sentinel = broker.ErrPreconditionFailed
	case amqp.ConnectionForced, amqp.ChannelError:
		sentinel = broker.ErrUnavailable
	default:
		// Not from the server (amqp091's own: the connection failed on a
		// read or write), or a server error not worth retrying.
		if !ae.Server || !ae.Recover {
			sentinel = broker.ErrUnavailable
		} else {
			return fmt.Errorf("AMQP error %d: %s", ae.Code, text)
		}
	}
	return fmt.Errorf("%w: %s", sentinel, text)
}

// errLocked is RabbitMQ's resource_locked for another connection's
// exclusive queue (here: another session's), in RabbitMQ 3.10's words,
// so that the relay says the same whether it or RabbitMQ refuses.
func errLocked(name, vhost string) error {
	return fmt.Errorf("%w: cannot obtain exclusive access to locked queue '%s' in vhost '%s'. "+
		"It could be originally declared on another connection or the exclusive property value "+
		"does not match that of the original declaration.", broker.ErrResourceLocked, name, vhost)
}
