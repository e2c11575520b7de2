// Package relay puts RabbitMQ behind the gateway's broker port, with the
// destination semantics of RabbitMQ Web-STOMP (see
// shared/reference/rabbitmq-stomp.md), over a few pooled AMQP connections.
// The semantics are package routing's, shared with the embedded broker:
// the relay carries out its plans (PlanSend, PlanSubscribe) in AMQP and
// translates headers to AMQP properties and back (headers.go), which
// routing.MessageHeaders states in STOMP terms.
//
// Per node and virtual host there are Config.Connections links opened at
// start (with two or more, half publish and half consume), and consuming
// links added on demand up to Config.MaxConnections when every channel a
// link may open is full, closed again once idle. Each link is one AMQP
// connection carrying:
//
//	publisher     one confirm-mode channel shared by the sessions pinned to
//	              the link; confirms are pipelined and settled by one goroutine
//	admin         a channel for declares, binds, existence checks and deletes,
//	              so a mistake never closes a channel others consume on
//	shared        up to Config.ChannelsPerConnection consuming channels, each
//	              carrying up to Config.ConsumersPerChannel consumers with their
//	              own prefetch (channels.go)
//
// Consumers are of three kinds: a subscription's own (/queue, client-ack,
// durable and named subscriptions: consumer.go), a node queue serving the
// plain auto-ack topic and exchange subscriptions of the whole node
// (fanout.go: one per topic exchange, routed locally by binding key), a
// reply-to temp queue (tempqueue.go), and, with topic history, the node's
// consumer of the history stream and each recovery's (history.go).
//
// RabbitMQ keeps an exclusive queue to one AMQP connection, and sessions
// share the node's connections, so the relay keeps it to one session: each
// pool records the owner of every exclusive queue its sessions declared
// (durable:false queues, non-durable subscription queues, temp queues) and
// refuses the others any declare, consume or bind of it with RabbitMQ's
// resource_locked (exclusive.go).
//
// Acks on a shared channel go through its ledger (acks.go), which sends
// the gateway's settles of written deliveries as one multiple basic.ack
// every few milliseconds where the channel's delivery tags allow, and
// every other ack and nack at once, in order with them. Client-ack
// consumers get channels of their own, so a delivery a client holds never
// stops the others' multiple acks.
//
// Goroutines: a supervisor per link (dial, watch, reconnect with jittered
// backoff across the URLs, restore), a confirm watcher per publishing
// channel, a watcher per shared channel (restores its consumers when
// RabbitMQ closes it), a delivery loop per consumer, and the relay's reaper
// of idle links, the history's watch, and a node queue's unbinder while it
// has keys to unbind. None per session. Handler calls come from the
// delivery loops; the relay holds no lock while calling a Handler except a
// history subscription's own, which orders its recovered and live
// deliveries (Handler.Deliver never calls back into the relay).
//
// The relay speaks neutral broker types and never sees STOMP frames.
package relay
