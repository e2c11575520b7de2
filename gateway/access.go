package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
)

// Authorization covers every resource a frame touches, not only its
// destination header: the queue a subscription really consumes, declares,
// binds or deletes (x-queue-name, durable subscription queues), where a
// reply-to sends replies, and dead-letter exchanges. Each is checked as
// the canonical destination it is (routing.Rules.Canonical: a queue is
// always /queue/<name>, whatever form named it), and, for identities that
// carry RabbitMQ's permissions, as the AMQP operations RabbitMQ's own
// STOMP plugin would perform.

// Names that stand for queues the broker names itself, for RabbitMQ
// permission checks: what RabbitMQ's STOMP plugin would declare for a
// non-durable subscription and for a reply-to temp queue.
const (
	sampleSubscriptionQueue = "stomp-subscription-AAAAAAAAAAAAAAAAAAAAAA"
	sampleTempQueue         = "amq.gen-AAAAAAAAAAAAAAAAAAAAAA"
)

// authorizeTimeout bounds a permission lookup (the rabbitmq backend may
// refresh a user's permissions from the management API).
const authorizeTimeout = 5 * time.Second

// sendRequest lists what a SEND of headers hs to dest touches: what the
// broker will do with it (routing.Rules.PlanSend), so a SEND the broker
// would refuse is refused here with the broker's words.
func (s *session) sendRequest(dest string, hs []broker.Header) (auth.Request, error) {
	rt := s.srv.rules
	var req auth.Request
	p, err := rt.PlanSend(dest, hs)
	if err != nil {
		return req, err
	}
	req.Write(rt.CanonicalOf(dest, p.Target))
	// req.AMQP is read only for identities with RabbitMQ's permissions:
	// for the others a SEND lists no AMQP operations (nor allocates them).
	amqp := s.ident.Resources != nil
	switch p.Kind {
	case routing.KindQueue:
		// Declared on first use, as RabbitMQ's plugin does.
		if amqp {
			req.Need(auth.Configure, auth.Queue, p.Declare)
			req.Need(auth.WritePerm, auth.Exchange, "")
		}
		s.deadLetter(&req, p.Options, p.Declare, p.Declare)
	case routing.KindAMQQueue, routing.KindReplyQueue:
		if amqp {
			req.Need(auth.WritePerm, auth.Exchange, "")
		}
	case routing.KindTopic, routing.KindExchange:
		if amqp {
			req.Need(auth.WritePerm, auth.Exchange, p.Exchange)
			req.NeedTopic(auth.WritePerm, p.Exchange, p.Key)
		}
	}
	if rt, ok := broker.HeaderValue(hs, "reply-to"); ok {
		s.replyTo(&req, rt)
	}
	return req, nil
}

// replyTo adds what a reply-to asks for: replies are delivered there for
// the client to read, so it must be a place the client may read. A
// /temp-queue is the session's own (a server-named queue RabbitMQ's
// plugin declares and consumes for it).
func (s *session) replyTo(req *auth.Request, value string) {
	if strings.HasPrefix(value, routing.TempQueuePrefix) {
		req.Need(auth.Configure, auth.Queue, sampleTempQueue)
		req.Need(auth.ReadPerm, auth.Queue, sampleTempQueue)
		return
	}
	rt := s.srv.rules
	t, err := rt.ResolveSubscription(value)
	if err != nil {
		// Not a destination: rules can only allow it verbatim.
		req.Read(value)
		return
	}
	req.Read(rt.Canonical(t))
	if t.IsQueue() {
		req.Need(auth.ReadPerm, auth.Queue, t.Name)
		return
	}
	req.Need(auth.ReadPerm, auth.Exchange, t.Exchange)
	req.NeedTopic(auth.ReadPerm, t.Exchange, t.Key)
}

// deadLetter adds where a queue declared with opts republishes dead
// messages: x-dead-letter-exchange with x-dead-letter-routing-key, or
// with the key the message had (key: the queue's name or binding).
// RabbitMQ checks read on the queue and write on the exchange.
func (s *session) deadLetter(req *auth.Request, opts routing.QueueOptions, queue, key string) {
	dlx, ok := opts.Args["x-dead-letter-exchange"].(string)
	if !ok {
		return
	}
	if k, ok := opts.Args["x-dead-letter-routing-key"].(string); ok {
		key = k
	}
	req.Write(s.srv.rules.ExchangeDestination(dlx, key))
	req.Need(auth.ReadPerm, auth.Queue, queue)
	req.Need(auth.WritePerm, auth.Exchange, dlx)
}

// subscribeRequest lists what a SUBSCRIBE planned as p touches; queue is
// the queue the gateway chose for a topic or exchange subscription (""
// when the broker names it) and named says a client or a shared naming
// scheme chose it, so other sessions may consume it too.
func (s *session) subscribeRequest(p routing.SubscribePlan, queue string, named bool) auth.Request {
	var req auth.Request
	t, opts := p.Target, p.Options
	req.Read(s.srv.rules.Canonical(t))
	switch t.Kind {
	case routing.KindQueue:
		req.Need(auth.Configure, auth.Queue, t.Name)
		req.Need(auth.ReadPerm, auth.Queue, t.Name)
		s.deadLetter(&req, opts, t.Name, t.Name)
	case routing.KindAMQQueue, routing.KindReplyQueue:
		req.Need(auth.ReadPerm, auth.Queue, t.Name)
	case routing.KindTopic, routing.KindExchange:
		q := queue
		if q == "" {
			q = sampleSubscriptionQueue
		}
		if named {
			req.Read(routing.QueueDestination(q))
		}
		req.Need(auth.Configure, auth.Queue, q)
		req.Need(auth.WritePerm, auth.Queue, q)
		req.Need(auth.ReadPerm, auth.Queue, q)
		req.Need(auth.ReadPerm, auth.Exchange, t.Exchange)
		req.NeedTopic(auth.ReadPerm, t.Exchange, t.Key)
		s.deadLetter(&req, opts, q, t.Key)
	}
	return req
}

// subscriptionQueue picks the queue of a topic or exchange subscription:
// x-queue-name when given (named), else for a durable subscription a
// name derived from the user, the key and the id, so two users with the
// same id (stompjs's default sub-0) never share one. With
// DURABLE_QUEUE_NAMES=rabbitmq the name is RabbitMQ's (shared by every
// user with the same id and key, for moving from RabbitMQ's plugin), and
// rules must allow reading /queue/<name>.
func (s *session) subscriptionQueue(p routing.SubscribePlan, id string) (queue string, named bool) {
	switch {
	case !p.Bind:
		return "", false
	case p.Options.Name != "":
		return p.Options.Name, true
	case !p.Durable:
		return "", false
	case s.srv.cfg.DurableQueueNames == DurableNamesRabbitMQ:
		return routing.SubscriptionQueueName(p.Key, id), true
	}
	return DurableSubscriptionQueue(s.ident.User, p.Key, id), false
}

// Durable subscription queue naming schemes (Config.DurableQueueNames).
const (
	DurableNamesPerUser  = "per-user"
	DurableNamesRabbitMQ = "rabbitmq"
)

// DurableSubscriptionQueue names the queue of user's durable
// subscription id to a topic or exchange with binding key key (with
// DURABLE_QUEUE_NAMES=per-user): the same three always give the same
// queue (on every node), two users never the same one. It keeps
// RabbitMQ's stomp-subscription- prefix, so permissions written for
// RabbitMQ's plugin still apply.
func DurableSubscriptionQueue(user, key, id string) string {
	h := sha256.New()
	for _, f := range []string{"stomp-gateway durable subscription", user, key, id} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f))))
		h.Write([]byte(f))
	}
	return "stomp-subscription-" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// authorize checks req for the session's identity: nil when allowed,
// else the ERROR to end the session with.
func (s *session) authorize(req auth.Request) *closeReason {
	var ctx context.Context = s
	if s.ident.Resources != nil {
		// Only RabbitMQ's permissions may need a lookup (the management
		// API); rules alone answer at once, with no timer to arm per SEND.
		c, cancel := context.WithTimeout(s, authorizeTimeout)
		defer cancel()
		ctx = c
	}
	err := s.srv.authz.Authorize(ctx, s.ident, s.vhost, req)
	if err == nil {
		return nil
	}
	var refused *auth.ErrRefused
	if errors.As(err, &refused) {
		s.log().Warn().Str("refused", refused.Error()).Msg("access refused")
		mAuthFailures.WithLabelValues("forbidden").Inc()
		return &closeReason{message: "access_refused", body: refused.Error(), code: websocket.ClosePolicyViolation, client: true}
	}
	s.log().Error().Err(err).Msg("authorization unavailable")
	mAuthFailures.WithLabelValues("unavailable").Inc()
	return &closeReason{message: "authorization unavailable", body: "Permissions could not be checked; try again later.", code: websocket.CloseTryAgainLater}
}
