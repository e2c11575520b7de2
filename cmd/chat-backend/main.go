// Command chat-backend is the chat room's backend service, as a team would
// run it next to RabbitMQ: plain AMQP, no STOMP. It consumes posts that
// clients SEND to /pub/chat (the gateway's application exchange, routing
// key "chat"), stamps each with the sender the gateway vouches for (the
// identity header), and publishes it to the room's topic, where the
// room's subscribers get it as /topic/chat.room.N.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/examples/chat"
)

// config comes from CHAT_BACKEND_* variables.
type config struct {
	AMQPURL       string `envconfig:"AMQP_URL" default:"amqp://guest:guest@127.0.0.1:5672/" desc:"RabbitMQ URL"`
	AppExchange   string `envconfig:"APP_EXCHANGE" default:"stomp-gateway.app" desc:"the gateway's application exchange (STOMP_GATEWAY_APP_EXCHANGE)"`
	TopicExchange string `envconfig:"TOPIC_EXCHANGE" default:"amq.topic" desc:"the gateway's topic exchange (STOMP_GATEWAY_TOPIC_EXCHANGE)"`
	Queue         string `envconfig:"QUEUE" default:"chat-backend" desc:"durable queue the backend consumes; replicas share it"`
	UserHeader    string `envconfig:"USER_HEADER" default:"x-stomp-user" desc:"the gateway's identity header (STOMP_GATEWAY_USER_HEADER)"`
}

func main() {
	var cfg config
	if len(os.Args) > 1 {
		_ = envconfig.Usage("CHAT_BACKEND", &cfg)
		return
	}
	log := zerolog.New(os.Stderr).With().Timestamp().Str("component", "chat-backend").Logger()
	if err := envconfig.Process("CHAT_BACKEND", &cfg); err != nil {
		log.Fatal().Err(err).Msg("configuration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for {
		err := serve(ctx, cfg, log, nil)
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Msg("RabbitMQ connection lost; reconnecting in 1s")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// serve runs until ctx ends or the connection fails. ready, when set, is
// closed once the backend consumes.
func serve(ctx context.Context, cfg config, log zerolog.Logger, ready chan<- struct{}) error {
	conn, err := amqp.DialConfig(cfg.AMQPURL, amqp.Config{Properties: amqp.Table{"connection_name": "chat-backend"}})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(cfg.AppExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declaring %s: %w", cfg.AppExchange, err)
	}
	if _, err := ch.QueueDeclare(cfg.Queue, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.QueueBind(cfg.Queue, "chat", cfg.AppExchange, false, nil); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	if err := ch.Qos(64, 0, false); err != nil {
		return err
	}
	posts, err := ch.Consume(cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	if ready != nil {
		close(ready)
	}
	log.Info().Str("queue", cfg.Queue).Msg("consuming chat posts")
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-posts:
			if !ok {
				return errors.New("consumer closed")
			}
			if err := relayPost(ctx, ch, cfg, d); err != nil {
				log.Warn().Err(err).Msg("chat post dropped")
				_ = d.Nack(false, false)
				continue
			}
			_ = d.Ack(false)
		}
	}
}

// relayPost publishes one post to its room and waits for the confirm, so
// a post is acked only once it reached the room.
func relayPost(ctx context.Context, ch *amqp.Channel, cfg config, d amqp.Delivery) error {
	user, _ := d.Headers[cfg.UserHeader].(string)
	key, body, err := chat.Route(d.Body, user, time.Now())
	if err != nil {
		return err
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, cfg.TopicExchange, key, false, false, amqp.Publishing{
		ContentType: "application/json",
		Body:        body,
	})
	if err != nil {
		return err
	}
	if ok, err := dc.WaitContext(ctx); err != nil || !ok {
		return fmt.Errorf("post to %s not confirmed: %v", key, err)
	}
	return nil
}
