package main

import (
	"context"
	"encoding/json"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/examples/chat"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

func TestBackendRoutesPostsToTheirRoomWithTheTrustedWriter(t *testing.T) {
	rb := relaytest.Require(t)
	cfg := config{AMQPURL: relaytest.URL(), AppExchange: rb.Name("app"), TopicExchange: "amq.topic", Queue: rb.Name("chat-backend"), UserHeader: "x-stomp-user"}
	rb.DeleteQueue(cfg.Queue)
	t.Cleanup(func() {
		if ch, err := rb.Conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(cfg.AppExchange, false, false)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, relaytest.Logger(t), ready) }()
	defer func() { cancel(); <-done }()
	<-ready

	room := rb.Queue(rb.Name("room5"), "amq.topic", chat.RoomKey(5))
	rb.Publish(cfg.AppExchange, "chat", amqp.Publishing{
		Headers: amqp.Table{"x-stomp-user": "alice"},
		Body:    []byte(`{"chatRoomId":5,"type":"MESSAGE","writer":"mallory","message":"hello room"}`),
	})
	m := relaytest.Receive(t, room)
	var p chat.Post
	if err := json.Unmarshal(m.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Writer != "alice" || p.Message != "hello room" || m.ContentType != "application/json" {
		t.Fatalf("got %+v (%s)", p, m.ContentType)
	}
}
