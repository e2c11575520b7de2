package chat

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Backend is the chat backend running in-process over the gateway's
// broker port, for `make run` on the embedded broker.
type Backend struct {
	conn       broker.Conn
	userHeader string
	log        zerolog.Logger
	wg         sync.WaitGroup
	posts      chan *broker.Delivery
	done       chan struct{}
	once       sync.Once
}

// StartBackend subscribes to posts on appExchange (routing key "chat",
// what SEND /pub/chat becomes) and republishes them to their rooms.
func StartBackend(ctx context.Context, b broker.Broker, appExchange, userHeader string, log zerolog.Logger) (*Backend, error) {
	be := &Backend{userHeader: userHeader, log: log, posts: make(chan *broker.Delivery, 256), done: make(chan struct{})}
	conn, err := b.Connect(ctx, broker.ConnectInfo{SessionID: "chat-backend", User: "chat-backend"}, be)
	if err != nil {
		return nil, err
	}
	be.conn = conn
	if err := conn.Subscribe(ctx, broker.Subscription{ID: "posts", Destination: "/exchange/" + appExchange + "/chat"}); err != nil {
		conn.Close()
		return nil, err
	}
	be.wg.Add(1)
	go be.run()
	return be, nil
}

// Deliver implements broker.Handler; it must not block, so posts are
// queued for the backend's goroutine (and dropped, logged, if it falls
// far behind).
func (be *Backend) Deliver(d *broker.Delivery) {
	select {
	case be.posts <- d:
	default:
		be.log.Warn().Msg("chat backend is behind; post dropped")
		be.settle(d)
	}
}

// settle tells the broker a post is dealt with, when it waits for that.
func (be *Backend) settle(d *broker.Delivery) {
	if d.Settle {
		_ = be.conn.Ack(d.Subscription, d.Tag, false)
	}
}

// Lost implements broker.Handler.
func (be *Backend) Lost(id string, err error) {
	be.log.Error().Err(err).Str("subscription", id).Msg("chat backend lost its subscription")
}

func (be *Backend) run() {
	defer be.wg.Done()
	for {
		select {
		case <-be.done:
			return
		case d := <-be.posts:
			be.handle(d)
		}
	}
}

func (be *Backend) handle(d *broker.Delivery) {
	defer be.settle(d)
	user, _ := broker.HeaderValue(d.Headers, be.userHeader)
	key, body, err := Route(d.Body, user, time.Now())
	if err != nil {
		be.log.Warn().Err(err).Msg("chat post dropped")
		return
	}
	m := &broker.Message{Destination: "/topic/" + key, Body: body, Headers: []broker.Header{{Name: "content-type", Value: "application/json"}}}
	err = be.conn.Publish(context.Background(), m, func(err error) {
		if err != nil {
			be.log.Warn().Err(err).Msg("chat post not published")
		}
	})
	if err != nil && !errors.Is(err, broker.ErrClosed) {
		be.log.Warn().Err(err).Msg("chat post not published")
	}
}

// Close stops the backend.
func (be *Backend) Close() {
	be.once.Do(func() {
		close(be.done)
		be.wg.Wait()
		be.conn.Close()
	})
}
