// Package memory is an embedded, in-memory message broker that implements
// the gateway's broker.Broker port with RabbitMQ Web-STOMP's destination
// semantics. It lets `make run` work without RabbitMQ and lets the session
// layer be unit-tested fast, against the same behaviour the relay gives.
//
// # What it imitates
//
// The semantics are not this package's: what a destination is, what a
// SEND and a SUBSCRIBE declare, bind and consume, with which flags, which
// headers are valid, how a MESSAGE names where it came from and which
// headers it carries are package routing's (PlanSend, PlanSubscribe,
// MessageDestination, MessageHeaders), the same rules the relay follows,
// under the same broker.RoutingConfig (TOPIC_EXCHANGE, APP_PREFIX,
// APP_EXCHANGE, SLASH_DESTINATIONS). This package carries the plans out
// in memory, playing RabbitMQ's part (gateway/conformance runs the same
// conversations against both and expects the same frames):
//
//	/queue/Q, Q        declare Q unless it exists (durable unless durable:false),
//	                   competing consumers
//	/amq/queue/Q       existing Q only: SUBSCRIBE is not_found, SEND not_found
//	                   through its confirm (mandatory)
//	/reply-queue/Q     publish to Q (mandatory, as /amq/queue)
//	/topic/K           the topic exchange with key or pattern K
//	/exchange/X[/K]    exchange X with K, or "" when there is none (not_found if
//	                   X is unknown)
//	/temp-queue/T      only as reply-to: a private amq.gen-* queue whose
//	                   replies arrive as subscription /temp-queue/T
//
// Each vhost has the default exchange ("", direct to a queue by name),
// amq.direct, amq.fanout, amq.topic, amq.headers and amq.match (headers
// exchanges bound without arguments, which is all STOMP can do, take
// everything), the configured topic exchange and the application exchange.
// Declaring behaves as queue.declare: the amq. prefix is refused, another
// Conn's exclusive queue is resource_locked and a redeclaration with other
// durable, auto-delete or x-* arguments is precondition_failed, in
// RabbitMQ's words; a SEND uses an existing queue as it is. Acks, NACK
// requeue (to the front, redelivered), per-subscription prefetch and
// redelivery of unsettled messages when a Conn closes behave as in
// RabbitMQ, except that a cumulative ACK settles only its own
// subscription, as the port requires.
//
// # Topic history
//
// With HISTORY_TOPICS set (broker.RoutingConfig.History), each vhost keeps
// the messages published on kept topics (routing.Rules.HistoryKept) in a
// ring bounded by HISTORY_MAX_BYTES (bodies and headers) and
// HISTORY_MAX_AGE, at offsets 0, 1, 2, ... in publish order, where the
// relay keeps them in a RabbitMQ stream (history.go). A history
// subscription (routing.SubscribePlan.History) is an ordinary
// subscription with a queue of its own, whose deliveries of kept
// messages carry x-stream-offset; its x-stream-offset on SUBSCRIBE makes
// Subscribe post the kept messages its binding matches first, marked
// x-recovered, under the same hold of Broker.mu that binds its queue, so
// that nothing published meanwhile is missed or delivered twice. A kept
// message is therefore routed by the bindings as they are under the
// lock, not by the snapshot matched before (one extra match, only when
// the bindings changed in between). Recovered deliveries are held until
// the gateway wrote them (broker.Delivery.Settle), so a large recovery
// waits for the client instead of closing it as a slow consumer.
// x-stream-offset and x-recovered headers that a publisher sets on the
// topic exchange are dropped.
//
// What it does not imitate, by nature: nothing is persisted (durable
// queues and persistent messages last as long as the process); queue
// arguments are validated and compared but not enforced (no length
// limits, TTLs, priorities, dead-lettering, quorum queues or streams);
// there is one node, so no node-local fan-out is needed (each
// subscription has its own queue); a session holds at most 64 temp
// queues (the relay bounds them with its consumers per session).
//
// # Concurrency
//
// One mutex (Broker.mu) guards all broker state: vhosts, exchanges, queues,
// consumers and every Conn's subscriptions. Methods of Broker and Conn are
// safe for concurrent use from any goroutine.
//
// Two things are read without it. A vhost's exchanges are fixed when the
// vhost is created. Each exchange's bindings are an immutable slice behind
// an atomic pointer: bind and unbind, under Broker.mu, store a new copy.
// Publish matches its routing key against a snapshot of the bindings
// before taking Broker.mu, because that is the part of a publish whose cost
// other sessions choose (how many bindings, which patterns); under the lock
// it only enqueues into the matched queues that still exist. So the
// routing decision is made at the snapshot: a queue bound while a publish
// is matching does not get that message, and one deleted meanwhile is
// skipped. Messages one goroutine publishes still reach each queue in the
// order it published them.
//
// The package starts no goroutines. Deliveries are decided under Broker.mu
// and appended, in queue order, to the outbox of the receiving Conn; after
// Broker.mu is released the calling goroutine flushes those outboxes,
// calling Handler.Deliver and Handler.Lost. Only one goroutine flushes a
// given Conn at a time (whoever finds it idle), so a subscription sees its
// messages in queue order, and a Handler may call back into its Conn (Ack
// from inside Deliver, say) without deadlock: the nested call appends to
// the outbox and the flush already under way delivers it.
//
//	session goroutine ──Publish──▶ match key against a snapshot of the
//	                               bindings (no lock)
//	                               lock: enqueue into matched queues that
//	                                     still exist, pick consumers,
//	                                     append to outboxes
//	                               unlock
//	                               confirmed(nil)
//	                               flush outboxes ──▶ Handler.Deliver / Lost
//	                                                  (on the caller's goroutine)
//
// When a call returns, every delivery it caused has been passed to its
// Handler, unless another goroutine was flushing that Handler's Conn at the
// time (then that goroutine passes it). A recovering Subscribe waits for
// that goroutine to pass its recovered messages (the port says Subscribe
// returns after them), so a Handler must not start one from inside
// Deliver. After Conn.Close returns no new
// Handler call starts; one already under way on another goroutine may
// finish.
package memory
