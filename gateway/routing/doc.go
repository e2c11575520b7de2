// Package routing is RabbitMQ's STOMP semantics, written once: what a
// destination is and where it routes, what a SEND and a SUBSCRIBE declare,
// bind and consume, which headers shape a queue and how, and how a
// delivery's origin reads on a MESSAGE (shared/reference/rabbitmq-stomp.md
// §1 and §2, DESIGN.md §3.2 to §3.4).
//
// The gateway (to authorize what a frame really reaches), the RabbitMQ
// relay and the embedded broker (to carry it out) all import it, so the
// two brokers cannot disagree on a rule that is a pure function of a
// destination, its headers and the configuration:
//
//	destination.go  ParseDestination, FormatDestination: the forms and their errors
//	routing.go      Rules: the configured mapping (/topic's exchange, the
//	                application prefix, slash style), authorization names,
//	                MESSAGE destinations
//	plan.go         PlanSend, PlanSubscribe: what a frame does on any broker;
//	                temp queues and reserved subscription ids
//	queue.go        ParseQueueOptions: durable, exclusive, x-* arguments; durable
//	                subscription queue names
//	message.go      property headers that must be well formed before a publish
//	headers.go      MessageHeaders: what a subscriber sees of a publisher's headers
//	topicmatch.go   TopicMatch, topicindex.go TopicIndex: AMQP topic patterns
//
// What a broker does with a plan (declare on RabbitMQ, or in memory) is the
// broker's; so are the facts only a broker knows (does that queue exist,
// is it locked by another connection).
//
// It imports only the broker port, for its neutral types and error
// sentinels; the port never imports it. Everything here is safe for
// concurrent use: the functions are pure, Rules is a value, and
// TopicIndex states its own locking.
package routing
