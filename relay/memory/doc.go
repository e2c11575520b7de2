// Package memory is an embedded, in-memory message broker that implements
// the gateway's broker.Broker port with RabbitMQ Web-STOMP's destination
// semantics. It lets `make run` work without RabbitMQ and lets the session
// layer be unit-tested fast, against the same behaviour the relay gives.
//
// # What it imitates
//
// Each vhost has the default exchange ("", direct to a queue by name) and
// amq.topic, amq.direct and amq.fanout. Destinations map as RabbitMQ's STOMP
// plugin maps them (DESIGN.md §3.2, reference/rabbitmq-stomp.md §1):
//
//	/queue/Q, Q        declare durable Q, competing consumers
//	/amq/queue/Q       existing Q only, else not_found
//	/reply-queue/Q     publish to Q; unroutable messages are dropped
//	/topic/K           amq.topic with key or pattern K
//	/exchange/X[/K]    exchange X (not_found if unknown)
//	/temp-queue/T      only as reply-to: a private amq.gen-* queue
//
// Subscriptions to topics and exchanges get their own queue: private and
// auto-deleted unless durable (durable:true or persistent:true), in which case
// it is named as RabbitMQ names it (stomp-subscription-<md5 of key and id>, or
// x-queue-name) and, with auto-delete:false, survives the session. Acks,
// NACK requeue (to the front, redelivered), per-subscription prefetch and
// redelivery of unsettled messages when a Conn closes behave as in RabbitMQ,
// except that a cumulative ACK settles only its own subscription, as the
// port requires. Queue arguments (x-max-length, x-message-ttl,
// dead-lettering, x-queue-type, ...), the exclusive header and durable on a
// /queue are checked on SUBSCRIBE as the relay checks them
// (routing.ParseQueueOptions) and otherwise ignored; nothing is persisted
// across processes. Names and keys longer than AMQP's 255 bytes are
// refused, as routing.ParseDestination refuses them.
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
// time (then that goroutine passes it). After Conn.Close returns no new
// Handler call starts; one already under way on another goroutine may
// finish.
package memory
