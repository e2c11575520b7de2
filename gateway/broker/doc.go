// Package broker is the port between the gateway and a message broker.
//
// The gateway declares here what it needs from a broker; the RabbitMQ relay
// (package relay) and the embedded in-memory broker (package relay/memory)
// implement it. The port is only interfaces, neutral data and errors:
// destinations are STOMP destination strings, messages are headers and a
// body, never STOMP frames and never AMQP structures.
//
// What a destination means (how it parses, where it routes, which queue
// it declares with which flags, what a MESSAGE says it came from) is not
// the port's business: package routing holds those rules, once, and the
// gateway and both brokers apply them, so the brokers cannot disagree.
// The port carries only the data the rules need (RoutingConfig) and the
// errors they return (ErrInvalidDestination, ErrUnknownDestination,
// ErrInvalidHeader).
//
//	gateway ──imports──▶ broker ◀──implements── relay, relay/memory
//	   │                   ▲                       │
//	   └──────imports──▶ routing ◀────imports──────┘
//
// Methods of Broker and Conn are safe for concurrent use; a Handler is
// called from the broker's goroutines and must not block.
package broker
