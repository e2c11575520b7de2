// Package conformance_test holds one table of STOMP conversations and runs
// every one of them against a gateway on the embedded broker and a
// gateway on RabbitMQ through the relay, expecting the same frames from
// both: the MESSAGE destination, subscription, redelivered flag and body,
// the ERROR message header, the RECEIPTs. Both brokers take their rules
// from package routing; this suite checks that they also carry them out
// alike. A case that can only run on one broker says why. Persistence
// across a broker restart is not among the cases: the embedded broker
// has none by design, and restarting the RabbitMQ every suite shares
// would disturb the others (the relay's chaos tests do it).
//
// The RabbitMQ half needs a RabbitMQ (relaytest.Require: a failure under
// CI, a loud skip otherwise); the embedded half always runs.
package conformance_test

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, gatewaytest.IgnoreIdlePoller)
}

// The brokers a case can be limited to.
const (
	onMemory   = "memory"
	onRabbitMQ = "rabbitmq"
)

// setup names a gateway configuration; every broker runs one gateway per
// setup, shared by the cases that use it.
type setup string

const (
	plain        setup = ""               // the defaults: amq.topic, /pub to stomp-gateway.app
	slashes      setup = "slash"          // SLASH_DESTINATIONS=true
	customTopic  setup = "topic-exchange" // TOPIC_EXCHANGE={topics}, a topic exchange of the test's
	history      setup = "history"        // HISTORY_TOPICS=/topic/hist.**, 1 MiB kept
	smallHistory setup = "small-history"  // HISTORY_TOPICS=/topic/hist.**, smallHistoryBytes bytes kept (one case: others would evict it)
)

// smallHistoryBytes is the small history's HISTORY_MAX_BYTES: the partial case
// publishes several times as much.
const smallHistoryBytes = 4000

// tweaks are the relay settings of each setup; the embedded broker gets
// the same routing settings (relay.Config.RoutingConfig), as cmd gives
// them. Each history setup has a stream of its own (named after topics,
// which is unique to the run), as two gateways with different retention
// could not share one.
func tweaks(topics string) map[setup]func(*relay.Config) {
	keep := func(maxBytes int64) func(*relay.Config) {
		return func(c *relay.Config) {
			c.HistoryTopics, c.HistoryMaxAge, c.HistoryMaxBytes = []string{"/topic/hist.**"}, time.Hour, maxBytes
			c.HistoryStream = historyStream(topics, maxBytes)
		}
	}
	return map[setup]func(*relay.Config){
		plain:        func(*relay.Config) {},
		slashes:      func(c *relay.Config) { c.SlashStyle = true },
		customTopic:  func(c *relay.Config) { c.TopicExchange = topics },
		history:      keep(1 << 20),
		smallHistory: keep(smallHistoryBytes),
	}
}

// historyStream names a history setup's stream on RabbitMQ.
func historyStream(topics string, maxBytes int64) string {
	return fmt.Sprintf("%s-history-%d", topics, maxBytes)
}

// conformanceCase is one conversation. Names in braces ({q}, {t}) are
// unique to the case (a prefix of letters and digits, no dots, so a name
// is one topic word); {topics} is the custom topic exchange.
type conformanceCase struct {
	name  string
	setup setup
	// only limits the case to one broker, for the reason why.
	only, why string
	steps     []step
}

var cases = []conformanceCase{
	// Destinations, SEND and SUBSCRIBE.
	{name: "SEND to /queue reaches its subscriber", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		send("b", "/queue/{q}", "hi"),
		message("a", "subscription:s", "destination:/queue/{q}", "redelivered:false", "body:hi"),
	}},
	{name: "SEND to /queue before anyone subscribes waits in the declared queue", steps: []step{
		send("b", "/queue/{q}", "early"),
		subscribe("a", "s", "/queue/{q}"),
		message("a", "destination:/queue/{q}", "redelivered:false", "body:early"),
	}},
	{name: "a bare name is a queue", steps: []step{
		subscribe("a", "s", "{q}"),
		send("b", "{q}", "bare"),
		message("a", "destination:/queue/{q}", "body:bare"),
		send("b", "/queue/{q}", "same queue"),
		message("a", "destination:/queue/{q}", "body:same queue"),
	}},
	{name: "consumers of one /queue compete", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		subscribe("c", "s", "/queue/{q}"),
		send("b", "/queue/{q}", "one"),
		send("b", "/queue/{q}", "other"),
		message("a", "destination:/queue/{q}"),
		message("c", "destination:/queue/{q}"),
	}},
	{name: "/amq/queue consumes and sends to an existing queue", steps: []step{
		send("b", "/queue/{q}", "declares it"),
		subscribe("a", "s", "/amq/queue/{q}"),
		message("a", "destination:/queue/{q}", "body:declares it"),
		send("b", "/amq/queue/{q}", "via amq"),
		message("a", "destination:/queue/{q}", "body:via amq"),
	}},
	{name: "SEND to a missing /amq/queue is not_found", steps: []step{
		frame("b", "SEND", "destination:/amq/queue/{missing}", "receipt:r"),
		errorFrame("b", "not_found", "receipt-id:r"),
	}},
	{name: "SUBSCRIBE to a missing /amq/queue is not_found", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/amq/queue/{missing}"),
		errorFrame("a", "not_found"),
	}},
	{name: "/reply-queue consumes and sends to a queue by name", steps: []step{
		send("b", "/queue/{q}", "declares it"),
		subscribe("a", "s", "/reply-queue/{q}"),
		message("a", "destination:/queue/{q}", "body:declares it"),
		send("b", "/reply-queue/{q}", "reply"),
		message("a", "destination:/queue/{q}", "body:reply"),
	}},
	{name: "SEND to a missing /reply-queue is not_found", steps: []step{
		frame("b", "SEND", "destination:/reply-queue/{missing}", "receipt:r"),
		errorFrame("b", "not_found", "receipt-id:r"),
	}},
	{name: "/topic with * matches exactly one word", steps: []step{
		subscribe("a", "s", "/topic/{t}.*.5"),
		send("b", "/topic/{t}.room.6", "other room"),
		send("b", "/topic/{t}.room.5.x", "too long"),
		send("b", "/topic/{t}.room.5", "room 5"),
		message("a", "subscription:s", "destination:/topic/{t}.room.5", "redelivered:false", "body:room 5"),
	}},
	{name: "/topic with # matches zero or more words", steps: []step{
		subscribe("a", "s", "/topic/{t}.#"),
		send("b", "/topic/{t}", "zero words"),
		send("b", "/topic/{u}.a", "other prefix"),
		send("b", "/topic/{t}.a.b", "two words"),
		message("a", "destination:/topic/{t}", "body:zero words"),
		message("a", "destination:/topic/{t}.a.b", "body:two words"),
	}},
	{name: "every /topic subscriber gets its own copy", steps: []step{
		subscribe("a", "s", "/topic/{t}"),
		subscribe("c", "s", "/topic/{t}"),
		send("b", "/topic/{t}", "news"),
		message("a", "destination:/topic/{t}", "body:news"),
		message("c", "destination:/topic/{t}", "body:news"),
	}},
	{name: "/exchange/amq.direct with a key gets that key only", steps: []step{
		subscribe("a", "s", "/exchange/amq.direct/{k}"),
		send("b", "/exchange/amq.direct/{k}.other", "other key"),
		send("b", "/exchange/amq.direct/{k}", "my key"),
		message("a", "destination:/exchange/amq.direct/{k}", "body:my key"),
	}},
	{name: "/exchange/amq.direct without a key gets the empty key", steps: []step{
		subscribe("a", "s", "/exchange/amq.direct"),
		send("b", "/exchange/amq.direct/{k}", "keyed"),
		send("b", "/exchange/amq.direct", "no key"),
		message("a", "destination:/exchange/amq.direct", "body:no key"),
	}},
	{name: "/exchange/amq.fanout delivers whatever the keys", steps: []step{
		subscribe("a", "all", "/exchange/amq.fanout"),
		subscribe("a", "keyed", "/exchange/amq.fanout/{k}"),
		send("b", "/exchange/amq.fanout/{k}.other", "fan"),
		messages("a",
			[]string{"subscription:all", "destination:/exchange/amq.fanout/{k}.other", "body:fan"},
			[]string{"subscription:keyed", "destination:/exchange/amq.fanout/{k}.other", "body:fan"}),
	}},
	{name: "/exchange on a topic exchange with a pattern", steps: []step{
		subscribe("a", "s", "/exchange/amq.topic/{t}.*"),
		send("b", "/topic/{t}.a.b", "too long"),
		send("b", "/topic/{t}.a", "via topic"),
		send("b", "/exchange/amq.topic/{t}.b", "via exchange"),
		message("a", "destination:/topic/{t}.a", "body:via topic"),
		message("a", "destination:/topic/{t}.b", "body:via exchange"),
	}},
	{name: "/exchange on a topic exchange without a key binds the empty key, not #", steps: []step{
		subscribe("a", "s", "/exchange/amq.topic"),
		send("b", "/topic/{t}", "keyed"),
		send("b", "/exchange/amq.topic", "no key"),
		message("a", "destination:/topic/", "body:no key"),
	}},
	{name: "an unknown exchange is not_found on SEND", steps: []step{
		frame("b", "SEND", "destination:/exchange/{nope}/k"),
		errorFrame("b", "not_found"),
	}},
	{name: "an unknown exchange is not_found on SUBSCRIBE", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/exchange/{nope}"),
		errorFrame("a", "not_found"),
	}},
	{name: "queue names starting with amq. are reserved on SUBSCRIBE", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/queue/amq.{q}"),
		errorFrame("a", "access_refused"),
	}},
	{name: "queue names starting with amq. are reserved on SEND", steps: []step{
		frame("b", "SEND", "destination:/queue/amq.{q}"),
		errorFrame("b", "access_refused"),
	}},
	{name: "RabbitMQ's internal exchanges are refused", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/exchange/amq.rabbitmq.trace/#"),
		errorFrame("a", "access_refused"),
	}},
	{name: "reply-to /temp-queue comes back to the sender's session", steps: []step{
		subscribe("svc", "s", "/queue/{svc}"),
		send("caller", "/queue/{svc}", "ping", "reply-to:/temp-queue/r", "correlation-id:7"),
		message("svc", "destination:/queue/{svc}", "body:ping", "reply-to:/reply-queue/amq.gen-*", "correlation-id:7"),
		reply("svc", "pong", "correlation-id:7"),
		message("caller", "subscription:/temp-queue/r", "destination:/queue/amq.gen-*", "redelivered:false", "body:pong", "correlation-id:7"),
		send("caller", "/queue/{svc}", "ping again", "reply-to:/temp-queue/r"),
		message("svc", "body:ping again", "reply-to:/reply-queue/amq.gen-*"),
		reply("svc", "pong again"),
		message("caller", "subscription:/temp-queue/r", "body:pong again"),
	}},
	{name: "another session cannot consume a temp queue", steps: []step{
		subscribe("svc", "s", "/queue/{svc}"),
		send("caller", "/queue/{svc}", "ping", "reply-to:/temp-queue/r"),
		message("svc", "body:ping", "reply-to:/reply-queue/amq.gen-*"),
		subscribeToReplyTo("svc", "steal"),
		errorFrame("svc", "resource_locked"),
	}},
	{name: "a reply-to that is a bare queue name reads as /reply-queue", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		send("b", "/queue/{q}", "m", "reply-to:{replies}"),
		message("a", "body:m", "reply-to:/reply-queue/{replies}"),
	}},
	{name: "/temp-queue cannot be sent to", steps: []step{
		frame("b", "SEND", "destination:/temp-queue/x"),
		errorFrame("b", "Invalid destination"),
	}},
	{name: "/temp-queue cannot be subscribed to", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/temp-queue/x"),
		errorFrame("a", "Invalid destination"),
	}},
	{name: "the app prefix /pub publishes to the application exchange", steps: []step{
		subscribe("backend", "s", "/exchange/stomp-gateway.app/{t}.#"),
		send("b", "/pub/{t}/room/5", `{"text":"hi"}`, "content-type:application/json"),
		message("backend", "destination:/exchange/stomp-gateway.app/{t}.room.5", `body:{"text":"hi"}`, "content-type:application/json"),
	}},
	{name: "the app prefix is not subscribable", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/pub/{t}"),
		errorFrame("a", "Unknown destination"),
	}},
	{name: "an unknown destination form is refused", steps: []step{
		frame("b", "SEND", "destination:/queues/{q}"),
		errorFrame("b", "Unknown destination"),
	}},
	{name: "a topic key with a slash is invalid without slash style", steps: []step{
		frame("b", "SEND", "destination:/topic/{t}/x"),
		errorFrame("b", "Invalid destination"),
	}},
	{name: "MESSAGE destinations write / in names as %2F", steps: []step{
		subscribe("a", "q", "/queue/{q}%2Fa"),
		subscribe("a", "t", "/topic/{t}%2Fx"),
		send("b", "/queue/{q}%2Fa", "queue"),
		message("a", "subscription:q", "destination:/queue/{q}%2Fa", "body:queue"),
		send("b", "/topic/{t}%2Fx", "topic"),
		message("a", "subscription:t", "destination:/topic/{t}%2Fx", "body:topic"),
	}},

	// Headers.
	{name: "property headers come back as RabbitMQ maps them", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		send("b", "/queue/{q}", "props", "zeta:1", "persistent:true", "priority:05", "alpha:2",
			"timestamp:0017", "content-type:text/plain", "expiration:60000", "correlation-id:c",
			"type:t", "app-id:x", "amqp-message-id:m", "content-encoding:identity", "user-id:bob"),
		messageHeaders("a", "props",
			"content-type:text/plain", "content-encoding:identity", "persistent:true", "priority:5",
			"correlation-id:c", "expiration:60000", "amqp-message-id:m", "timestamp:17", "type:t", "app-id:x",
			"alpha:2", "user-id:bob", "x-stomp-user:anonymous", "zeta:1"),
	}},
	{name: "persistent:false, priority 0 and empty properties are not shown", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		send("b", "/queue/{q}", "plain", "persistent:false", "priority:0", "content-type:", "x-empty:"),
		messageHeaders("a", "plain", "x-empty:", "x-stomp-user:anonymous"),
	}},

	// SLASH_DESTINATIONS and TOPIC_EXCHANGE.
	{name: "slash style: /topic/a/b is routing key a.b, both ways", setup: slashes, steps: []step{
		subscribe("a", "s", "/topic/{t}/*/5"),
		send("b", "/topic/{t}/room/5", "slashes"),
		message("a", "destination:/topic/{t}/room/5", "body:slashes"),
		send("b", "/exchange/amq.topic/{t}.lobby.5", "dots"),
		message("a", "destination:/topic/{t}/lobby/5", "body:dots"),
	}},
	{name: "slash style: exchange keys too", setup: slashes, steps: []step{
		subscribe("a", "s", "/exchange/amq.direct/{k}/a"),
		send("b", "/exchange/amq.direct/{k}.a", "dots"),
		message("a", "destination:/exchange/amq.direct/{k}/a", "body:dots"),
	}},
	{name: "slash style: queue names keep their dots", setup: slashes, steps: []step{
		subscribe("a", "s", "/queue/{q}.x"),
		send("b", "/queue/{q}.x", "dotted"),
		message("a", "destination:/queue/{q}.x", "body:dotted"),
	}},
	{name: "slash style: the app prefix takes slashes", setup: slashes, steps: []step{
		subscribe("backend", "s", "/exchange/stomp-gateway.app/{t}/#"),
		send("b", "/pub/{t}/room", "app"),
		message("backend", "destination:/exchange/stomp-gateway.app/{t}/room", "body:app"),
	}},
	{name: "a custom TOPIC_EXCHANGE is behind /topic", setup: customTopic, steps: []step{
		subscribe("a", "s", "/topic/{t}.#"),
		send("b", "/exchange/amq.topic/{t}.a", "amq.topic is just an exchange now"),
		send("b", "/topic/{t}.a", "custom"),
		message("a", "destination:/topic/{t}.a", "body:custom"),
		send("b", "/exchange/{topics}/{t}.b", "via its name"),
		message("a", "destination:/topic/{t}.b", "body:via its name"),
	}},
	{name: "with a custom TOPIC_EXCHANGE, amq.topic reads as an exchange", setup: customTopic, steps: []step{
		subscribe("a", "s", "/exchange/amq.topic/{t}.#"),
		send("b", "/exchange/amq.topic/{t}.a", "m"),
		message("a", "destination:/exchange/amq.topic/{t}.a", "body:m"),
	}},

	// Subscription headers.
	{name: "a durable subscription collects while away and resumes by id", steps: []step{
		subscribe("a", "d", "/topic/{t}", "durable:true", "auto-delete:false"),
		frame("a", "UNSUBSCRIBE", "id:d", "receipt:u"),
		receipt("a", "u"),
		send("b", "/topic/{t}", "while away"),
		subscribe("c", "d", "/topic/{t}", "durable:true", "auto-delete:false"),
		message("c", "subscription:d", "destination:/topic/{t}", "redelivered:false", "body:while away"),
		frame("c", "UNSUBSCRIBE", "id:d", "durable:true", "receipt:deleted"),
		receipt("c", "deleted"),
		send("b", "/topic/{t}", "after the queue was deleted"),
		subscribe("c", "d", "/topic/{t}", "persistent:true", "auto-delete:false"),
		send("b", "/topic/{t}", "fresh"),
		message("c", "destination:/topic/{t}", "body:fresh"),
		frame("c", "UNSUBSCRIBE", "id:d", "persistent:true", "receipt:deleted again"),
		receipt("c", "deleted again"),
	}},
	{name: "a durable subscription without auto-delete:false goes with its last consumer", steps: []step{
		subscribe("a", "d", "/topic/{t}", "durable:true"),
		frame("a", "UNSUBSCRIBE", "id:d", "receipt:u"),
		receipt("a", "u"),
		send("b", "/topic/{t}", "lost"),
		subscribe("a", "d", "/topic/{t}", "durable:true"),
		send("b", "/topic/{t}", "fresh"),
		message("a", "destination:/topic/{t}", "body:fresh"),
	}},
	{name: "a durable subscription needs an id", steps: []step{
		frame("a", "SUBSCRIBE", "destination:/topic/{t}", "durable:true"),
		errorFrame("a", "Missing Header"),
	}},
	{name: "x-queue-name names a topic subscription's queue", steps: []step{
		subscribe("a", "s", "/topic/{t}", "x-queue-name:{named}"),
		send("b", "/topic/{t}", "through the binding"),
		message("a", "subscription:s", "destination:/topic/{t}", "body:through the binding"),
		send("b", "/amq/queue/{named}", "straight to the queue"),
		message("a", "subscription:s", "destination:/queue/{named}", "body:straight to the queue"),
	}},
	{name: "a non-integer queue argument is Invalid header on SUBSCRIBE", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/queue/{q}", "x-max-length:abc"),
		errorFrame("a", "Invalid header"),
	}},
	{name: "a non-integer queue argument is Invalid header on SEND", steps: []step{
		frame("b", "SEND", "destination:/queue/{q}", "x-message-ttl:soon"),
		errorFrame("b", "Invalid header"),
	}},
	{name: "an x-queue-name over 255 bytes is Invalid header", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/topic/{t}", "x-queue-name:"+strings.Repeat("q", 256)),
		errorFrame("a", "Invalid header"),
	}},
	{name: "redeclaring a queue with another argument is precondition_failed", steps: []step{
		subscribe("a", "s", "/queue/{q}", "x-max-length:10"),
		frame("c", "SUBSCRIBE", "id:s", "destination:/queue/{q}", "x-max-length:20"),
		errorFrame("c", "precondition_failed"),
	}},
	{name: "a SEND uses an existing queue as it is", steps: []step{
		subscribe("a", "s", "/queue/{q}", "x-max-length:10"),
		send("b", "/queue/{q}", "no arguments"),
		message("a", "destination:/queue/{q}", "body:no arguments"),
	}},
	{name: "durable:false on an existing durable queue is resource_locked", steps: []step{
		send("b", "/queue/{q}", "declares it durable"),
		frame("a", "SUBSCRIBE", "id:s", "destination:/queue/{q}", "durable:false"),
		errorFrame("a", "resource_locked"),
	}},
	{name: "durable:false makes a /queue exclusive to its session", steps: []step{
		subscribe("a", "s", "/queue/{q}", "durable:false"),
		frame("c", "SUBSCRIBE", "id:s", "destination:/queue/{q}", "durable:false"),
		errorFrame("c", "resource_locked"),
	}},
	{name: "an exclusive /queue takes SENDs from its session; another session's SEND is resource_locked", steps: []step{
		subscribe("a", "s", "/queue/{q}", "durable:false"),
		send("a", "/queue/{q}", "to myself"),
		message("a", "subscription:s", "destination:/queue/{q}", "body:to myself"),
		send("b", "/amq/queue/{q}", "publishing is open to all"),
		message("a", "subscription:s", "body:publishing is open to all"),
		frame("b", "SEND", "destination:/queue/{q}"),
		errorFrame("b", "resource_locked"),
	}},
	{name: "x-queue-type:quorum makes a queue that works as any other", steps: []step{
		subscribe("a", "s", "/queue/{q}", "x-queue-type:quorum"),
		send("b", "/queue/{q}", "quorum"),
		message("a", "destination:/queue/{q}", "redelivered:false", "body:quorum"),
	}},
	{name: "subscription ids starting with /temp-queue/ are reserved", steps: []step{
		frame("a", "SUBSCRIBE", "id:/temp-queue/x", "destination:/queue/{q}"),
		errorFrame("a", "Invalid id"),
	}},
	{name: "UNSUBSCRIBE of a reserved id is Invalid id", steps: []step{
		frame("a", "UNSUBSCRIBE", "id:/temp-queue/x"),
		errorFrame("a", "Invalid id"),
	}},
	{name: "a duplicate subscription id is refused", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		frame("a", "SUBSCRIBE", "id:s", "destination:/topic/{t}"),
		errorFrame("a", "Duplicated subscription identifier"),
	}},

	// Acks, NACK, prefetch.
	{name: "client-individual ACK settles one; the rest go to the next consumer", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client-individual"),
		send("b", "/queue/{q}", "m1"),
		send("b", "/queue/{q}", "m2"),
		message("a", "body:m1", "redelivered:false", "ack:*"),
		message("a", "body:m2", "redelivered:false", "ack:*"),
		ack("a", "m2", "receipt:acked"),
		receipt("a", "acked"),
		disconnect("a"),
		subscribe("c", "s", "/queue/{q}"),
		message("c", "destination:/queue/{q}", "redelivered:true", "body:m1"),
		send("b", "/queue/{q}", "m3"),
		message("c", "redelivered:false", "body:m3"),
	}},
	{name: "client ACK settles every earlier delivery of its subscription", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client"),
		send("b", "/queue/{q}", "m1"),
		send("b", "/queue/{q}", "m2"),
		send("b", "/queue/{q}", "m3"),
		message("a", "body:m1"),
		message("a", "body:m2"),
		message("a", "body:m3"),
		ack("a", "m2", "receipt:acked"),
		receipt("a", "acked"),
		disconnect("a"),
		subscribe("c", "s", "/queue/{q}"),
		message("c", "redelivered:true", "body:m3"),
		send("b", "/queue/{q}", "m4"),
		message("c", "redelivered:false", "body:m4"),
	}},
	{name: "NACK requeues, marked redelivered", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client-individual"),
		send("b", "/queue/{q}", "m1"),
		message("a", "body:m1", "redelivered:false"),
		nack("a", "m1"),
		message("a", "destination:/queue/{q}", "body:m1", "redelivered:true"),
	}},
	{name: "NACK requeue:false drops the message", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client-individual"),
		send("b", "/queue/{q}", "m1"),
		message("a", "body:m1"),
		nack("a", "m1", "requeue:false"),
		send("b", "/queue/{q}", "m2"),
		message("a", "body:m2", "redelivered:false"),
	}},
	{name: "prefetch-count bounds unacked deliveries; the rest go to others", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client-individual", "prefetch-count:1"),
		send("b", "/queue/{q}", "m1"),
		send("b", "/queue/{q}", "m2"),
		message("a", "body:m1"),
		subscribe("c", "s", "/queue/{q}", "ack:client-individual"),
		message("c", "body:m2", "redelivered:false"),
	}},

	// Receipts and transactions.
	{name: "every frame with a receipt gets its RECEIPT", steps: []step{
		frame("a", "SUBSCRIBE", "id:s", "destination:/queue/{q}", "receipt:1"),
		receipt("a", "1"),
		frame("a", "SEND", "destination:/queue/{q}", "receipt:2"),
		receipt("a", "2"),
		message("a", "destination:/queue/{q}"),
		frame("a", "UNSUBSCRIBE", "id:s", "receipt:3"),
		receipt("a", "3"),
		frame("a", "DISCONNECT", "receipt:4"),
		receipt("a", "4"),
	}},
	{name: "COMMIT publishes a transaction's SENDs in order; ABORT drops them", steps: []step{
		subscribe("a", "s", "/queue/{q}"),
		frame("b", "BEGIN", "transaction:t1"),
		frame("b", "SEND", "destination:/queue/{q}", "transaction:t1"),
		frame("b", "ABORT", "transaction:t1"),
		frame("b", "BEGIN", "transaction:t2"),
		sendFrame("b", "one", "destination:/queue/{q}", "transaction:t2"),
		sendFrame("b", "two", "destination:/queue/{q}", "transaction:t2"),
		frame("b", "COMMIT", "transaction:t2", "receipt:c"),
		receipt("b", "c"),
		message("a", "body:one"),
		message("a", "body:two"),
	}},
	{name: "an ACK in a transaction settles at COMMIT", steps: []step{
		subscribe("a", "s", "/queue/{q}", "ack:client-individual"),
		send("b", "/queue/{q}", "m1"),
		send("b", "/queue/{q}", "m2"),
		message("a", "body:m1"),
		message("a", "body:m2"),
		frame("a", "BEGIN", "transaction:t"),
		ack("a", "m1", "transaction:t"),
		frame("a", "ABORT", "transaction:t"),
		frame("a", "BEGIN", "transaction:u"),
		ack("a", "m2", "transaction:u"),
		frame("a", "COMMIT", "transaction:u", "receipt:c"),
		receipt("a", "c"),
		disconnect("a"),
		subscribe("c", "s", "/queue/{q}"),
		message("c", "body:m1", "redelivered:true"),
		send("b", "/queue/{q}", "m3"),
		message("c", "body:m3", "redelivered:false"),
	}},

	// What only one broker can show.
	{name: "x-max-length drops the oldest messages", only: onRabbitMQ,
		why: "the embedded broker validates and compares queue arguments but does not enforce them", steps: []step{
			sendFrame("b", "declares it", "destination:/queue/{q}", "x-max-length:2", "receipt:r"),
			receipt("b", "r"),
			send("b", "/queue/{q}", "m2"),
			send("b", "/queue/{q}", "m3"),
			subscribe("a", "s", "/queue/{q}", "x-max-length:2"),
			message("a", "body:m2"),
			message("a", "body:m3"),
		}},
	{name: "NACK requeue:false dead-letters to x-dead-letter-exchange", only: onRabbitMQ,
		why: "the embedded broker has no dead-lettering", steps: []step{
			subscribe("dlq", "s", "/exchange/amq.direct/{dead}"),
			subscribe("a", "s", "/queue/{q}", "ack:client-individual", "x-dead-letter-exchange:amq.direct", "x-dead-letter-routing-key:{dead}"),
			send("b", "/queue/{q}", "m1"),
			message("a", "body:m1"),
			nack("a", "m1", "requeue:false"),
			message("dlq", "destination:/exchange/amq.direct/{dead}", "body:m1"),
		}},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	topics := "conformance-topics-" + strings.ToLower(rand.Text()[:8])
	t.Run(onMemory, func(t *testing.T) {
		t.Parallel()
		gws := map[setup]*gatewaytest.Server{}
		for s, tweak := range tweaks(topics) {
			b := memory.NewWithConfig(memory.Config{Routing: relayConfig(tweak).RoutingConfig()})
			t.Cleanup(func() { b.Close() })
			gws[s] = gatewaytest.Start(t, b, gatewaytest.TestConfig())
		}
		runCases(t, onMemory, gws, topics, nil)
	})
	t.Run(onRabbitMQ, func(t *testing.T) {
		t.Parallel()
		rb := relaytest.Require(t)
		// On RabbitMQ a custom topic exchange is the operator's to
		// declare; the embedded broker has it by configuration.
		ch := rb.Channel()
		if err := ch.ExchangeDeclare(topics, amqp.ExchangeTopic, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if ch, err := rb.Conn.Channel(); err == nil {
				_ = ch.ExchangeDelete(topics, false, false)
			}
		})
		for _, maxBytes := range []int64{1 << 20, smallHistoryBytes} {
			rb.DeleteQueue(historyStream(topics, maxBytes))
		}
		gws := map[setup]*gatewaytest.Server{}
		for s, tweak := range tweaks(topics) {
			gws[s] = gatewaytest.Start(t, relaytest.NewRelay(t, tweak), gatewaytest.TestConfig())
		}
		runCases(t, onRabbitMQ, gws, topics, rb)
	})
}

// relayConfig is relaytest's relay configuration with tweak applied.
func relayConfig(tweak func(*relay.Config)) relay.Config {
	cfg := relay.Config{TopicExchange: "amq.topic", AppPrefix: "/pub", AppExchange: "stomp-gateway.app"}
	tweak(&cfg)
	return cfg
}

func runCases(t *testing.T, brokerName string, gws map[setup]*gatewaytest.Server, topics string, rb *relaytest.Rabbit) {
	for _, tc := range append(slices.Clone(cases), historyCases...) {
		t.Run(tc.name, func(t *testing.T) {
			if tc.only != "" && tc.only != brokerName {
				t.Skipf("%s only: %s", tc.only, tc.why)
			}
			t.Parallel()
			r := &run{
				t: t, gw: gws[tc.setup], rb: rb, prefix: "c" + strings.ToLower(rand.Text()[:8]) + "-",
				rules:   routing.New(relayConfig(tweaks(topics)[tc.setup]).RoutingConfig()),
				topics:  topics,
				clients: map[string]*gatewaytest.Client{}, got: map[string][]*stomp.Frame{},
				early: map[string][]*stomp.Frame{}, owned: map[string]bool{}, vars: map[string]string{},
			}
			for _, s := range tc.steps {
				s(r)
			}
		})
	}
}

// run is one case on one broker.
type run struct {
	t       *testing.T
	gw      *gatewaytest.Server
	rb      *relaytest.Rabbit // nil on the embedded broker
	prefix  string
	rules   routing.Rules
	topics  string
	clients map[string]*gatewaytest.Client
	owned   map[string]bool // queues deleted at the end, on RabbitMQ
	// got are the MESSAGEs each client read, in order; early the ones
	// read while waiting for a RECEIPT, not yet checked.
	got, early map[string][]*stomp.Frame
	// vars are values read from frames (remember), written {@name}.
	vars map[string]string
}

// step is one thing a client does or expects.
type step func(r *run)

var placeholder = regexp.MustCompile(`\{(@?[a-z0-9]+)\}`)

// x expands the case's names, and the values remembered as {@name}.
func (r *run) x(s string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		if v, ok := strings.CutPrefix(name, "@"); ok {
			if _, known := r.vars[v]; !known {
				r.t.Fatalf("%s was not remembered", m)
			}
			return r.vars[v]
		}
		if name != "topics" {
			return r.prefix + name
		}
		return r.topics
	})
}

func (r *run) xs(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = r.x(h)
	}
	return out
}

// own notes, on RabbitMQ, the queues a frame to dest with headers hs
// (expanded) may declare, to delete them at the end: a queue destination,
// an x-queue-name, a durable subscription's queue (named per user by the
// gateway: everyone here is anonymous).
func (r *run) own(id, dest string, hs []string) {
	if r.rb == nil {
		return
	}
	var headers []broker.Header
	for _, h := range hs {
		k, v, _ := strings.Cut(h, ":")
		switch k {
		case "destination":
			dest = v
		case "x-queue-name":
			r.deleteQueue(v)
		}
		headers = append(headers, broker.Header{Name: k, Value: v})
	}
	if t, err := r.rules.Resolve(dest); err == nil && t.IsQueue() {
		r.deleteQueue(t.Name)
	}
	p, err := r.rules.PlanSubscribe(broker.Subscription{ID: id, Destination: dest, Headers: headers})
	if err == nil && p.Durable {
		r.deleteQueue(gateway.DurableSubscriptionQueue("anonymous", p.Key, id))
	}
}

func (r *run) deleteQueue(q string) {
	if !r.owned[q] {
		r.owned[q] = true
		r.rb.DeleteQueue(q)
	}
}

// c is client name, connected (STOMP 1.2, as user anonymous) on first use.
func (r *run) c(name string) *gatewaytest.Client {
	c := r.clients[name]
	if c == nil {
		c = gatewaytest.Connected(r.t, r.gw.WSURL)
		r.clients[name] = c
	}
	return c
}

// next is client name's next frame.
func (r *run) next(name string) *stomp.Frame {
	if q := r.early[name]; len(q) > 0 {
		r.early[name] = q[1:]
		return q[0]
	}
	return r.c(name).Read()
}

func subscribe(c, id, dest string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		dest, hs := r.x(dest), r.xs(hs)
		r.own(id, dest, hs)
		r.c(c).Subscribe(id, dest, hs...)
	}
}

// send SENDs with a receipt and waits for it: the broker has the message.
func send(c, dest, body string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		dest, hs := r.x(dest), r.xs(hs)
		r.own("", dest, hs)
		r.c(c).Publish(dest, r.x(body), hs...)
	}
}

// frame sends a frame without a body and waits for nothing.
func frame(c, cmd string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		hs := r.xs(hs)
		id := ""
		for _, h := range hs {
			if v, ok := strings.CutPrefix(h, "id:"); ok {
				id = v
			}
		}
		r.own(id, "", hs)
		r.c(c).Send(cmd, hs...)
	}
}

// sendFrame sends a SEND with a body and waits for nothing.
func sendFrame(c, body string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		hs := r.xs(hs)
		r.own("", "", hs)
		r.c(c).SendBody(stomp.CmdSend, r.x(body), hs...)
	}
}

// receipt reads until RECEIPT id; MESSAGEs on the way are checked by the
// next message steps.
func receipt(c, id string) step {
	return func(r *run) {
		r.t.Helper()
		var early []*stomp.Frame
		for {
			f := r.next(c)
			if f.Command == stomp.CmdMessage {
				early = append(early, f)
				continue
			}
			if f.Command != stomp.CmdReceipt || f.Get(stomp.HdrReceiptID) != id {
				r.t.Fatalf("%s: got %s %v %q, want RECEIPT %s", c, f.Command, f.Headers, f.Body, id)
			}
			r.early[c] = append(early, r.early[c]...)
			return
		}
	}
}

// message reads a MESSAGE and checks it: each want is header:value
// ("body:..." for the body); a value ending in * is a prefix.
func message(c string, want ...string) step {
	return func(r *run) {
		r.t.Helper()
		f := r.next(c)
		if f.Command != stomp.CmdMessage {
			r.t.Fatalf("%s: got %s %v %q, want MESSAGE %v", c, f.Command, f.Headers, f.Body, r.xs(want))
		}
		if bad := r.mismatch(f, want); bad != "" {
			r.t.Fatalf("%s: MESSAGE %v %q: %s", c, f.Headers, f.Body, bad)
		}
		r.got[c] = append(r.got[c], f)
	}
}

// messageHeaders reads a MESSAGE with body body and checks all its
// headers after subscription, message-id, destination and redelivered:
// exactly want, in order (content-length aside).
func messageHeaders(c, body string, want ...string) step {
	return func(r *run) {
		r.t.Helper()
		f := r.next(c)
		if f.Command != stomp.CmdMessage || string(f.Body) != body {
			r.t.Fatalf("%s: got %s %v %q, want MESSAGE %q", c, f.Command, f.Headers, f.Body, body)
		}
		var got []string
		for _, h := range f.Headers {
			switch h.Key {
			case stomp.HdrSubscription, stomp.HdrMessageID, stomp.HdrDestination, stomp.HdrRedelivered, stomp.HdrContentLength:
			default:
				got = append(got, h.Key+":"+h.Value)
			}
		}
		if want := r.xs(want); !slices.Equal(got, want) {
			r.t.Fatalf("%s: MESSAGE headers\n%q\nwant\n%q", c, got, want)
		}
		r.got[c] = append(r.got[c], f)
	}
}

// messages reads one MESSAGE per want list, in any order.
func messages(c string, wants ...[]string) step {
	return func(r *run) {
		r.t.Helper()
		left := wants
		for range wants {
			f := r.next(c)
			i := -1
			for j, w := range left {
				if f.Command == stomp.CmdMessage && r.mismatch(f, w) == "" {
					i = j
					break
				}
			}
			if i < 0 {
				r.t.Fatalf("%s: got %s %v %q, want a MESSAGE of %v", c, f.Command, f.Headers, f.Body, left)
			}
			left = append(left[:i:i], left[i+1:]...)
			r.got[c] = append(r.got[c], f)
		}
	}
}

// mismatch says how f differs from want, "" when it does not. A want
// "!name" says f has no header name.
func (r *run) mismatch(f *stomp.Frame, want []string) string {
	for _, w := range r.xs(want) {
		if name, absent := strings.CutPrefix(w, "!"); absent {
			if v, ok := f.Lookup(name); ok {
				return name + " is " + v + ", want none"
			}
			continue
		}
		k, v, _ := strings.Cut(w, ":")
		got, ok := f.Lookup(k)
		if k == "body" {
			got, ok = string(f.Body), true
		}
		prefix, isPrefix := strings.CutSuffix(v, "*")
		switch {
		case !ok:
			return k + " is missing, want " + v
		case isPrefix && !strings.HasPrefix(got, prefix), !isPrefix && got != v:
			return k + " is " + got + ", want " + v
		}
	}
	return ""
}

// errorFrame reads an ERROR with message header message (and the other
// headers given), then the close.
func errorFrame(c, message string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		f := r.next(c)
		if f.Command != stomp.CmdError || f.Get(stomp.HdrMessage) != message {
			r.t.Fatalf("%s: got %s %v %q, want ERROR %s", c, f.Command, f.Headers, f.Body, message)
		}
		if bad := r.mismatch(f, hs); bad != "" {
			r.t.Fatalf("%s: ERROR %v %q: %s", c, f.Headers, f.Body, bad)
		}
		r.c(c).ExpectClose()
	}
}

// settle ACKs or NACKs the last MESSAGE client c got with body body.
func settle(cmd, c, body string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		got := r.got[c]
		for i := len(got) - 1; i >= 0; i-- {
			if string(got[i].Body) == r.x(body) {
				r.c(c).Send(cmd, append([]string{"id:" + got[i].Get(stomp.HdrAck)}, r.xs(hs)...)...)
				return
			}
		}
		r.t.Fatalf("%s: no MESSAGE %q to %s", c, body, cmd)
	}
}

func ack(c, body string, hs ...string) step  { return settle(stomp.CmdAck, c, body, hs...) }
func nack(c, body string, hs ...string) step { return settle(stomp.CmdNack, c, body, hs...) }

// reply SENDs body to the reply-to of the last MESSAGE client c got.
func reply(c, body string, hs ...string) step {
	return func(r *run) {
		r.t.Helper()
		got := r.got[c]
		if len(got) == 0 {
			r.t.Fatalf("%s: no MESSAGE to reply to", c)
		}
		r.c(c).Publish(got[len(got)-1].Get("reply-to"), body, r.xs(hs)...)
	}
}

// subscribeToReplyTo SUBSCRIBEs client c, as id, to the queue behind the
// reply-to of the last MESSAGE it got.
func subscribeToReplyTo(c, id string) step {
	return func(r *run) {
		r.t.Helper()
		got := r.got[c]
		if len(got) == 0 {
			r.t.Fatalf("%s: no MESSAGE with a reply-to", c)
		}
		q := strings.TrimPrefix(got[len(got)-1].Get("reply-to"), "/reply-queue/")
		r.c(c).Send(stomp.CmdSubscribe, "id:"+id, "destination:/amq/queue/"+q)
	}
}

// disconnect ends client c's session with DISCONNECT and its RECEIPT; its
// unsettled deliveries go back to their queues.
func disconnect(c string) step {
	return func(r *run) {
		r.t.Helper()
		r.c(c).Send(stomp.CmdDisconnect, "receipt:bye")
		receipt(c, "bye")(r)
		r.c(c).ExpectClose()
	}
}
