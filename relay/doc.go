// Package relay puts RabbitMQ behind the gateway's broker port, with the
// destination semantics of RabbitMQ Web-STOMP (see
// shared/reference/rabbitmq-stomp.md), over a few pooled AMQP connections.
//
// Per node and virtual host there are Config.Connections links, each one
// AMQP connection carrying:
//
//	publisher   one confirm-mode channel shared by the sessions pinned to
//	            the link; confirms are pipelined and settled by one goroutine
//	admin       a channel for declares made on behalf of publishers
//	consumers   a channel each for /queue, client-ack and durable
//	            subscriptions (their basic.qos is the subscription's
//	            prefetch), one goroutine each reading deliveries
//	fan-outs    one exclusive node queue per distinct (exchange, binding)
//	            of plain auto-ack topic/exchange subscriptions, one consumer
//	            and goroutine each, fanned out to local subscribers
//	temp queues one per reply-to:/temp-queue/T of a session
//
// Goroutines: a supervisor per link (dial, watch, reconnect with jittered
// backoff across the URLs, restore), a confirm watcher per publishing
// channel, a delivery loop per consumer, fan-out and temp queue. None per
// session. Handler calls come from the delivery loops; the relay never
// holds a lock while calling a Handler.
//
// The relay speaks neutral broker types and never sees STOMP frames.
package relay
