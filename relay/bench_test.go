package relay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// Publishing throughput, gateway versus direct AMQP through the same
// RabbitMQ, 128-byte persistent-free messages with publisher confirms.
// Run both in one go (the machine is shared and noisy; compare the
// ratio, not the absolute numbers):
//
//	go test -run '^$' -bench 'Publish' -benchtime 20000x ./relay/
//
// The gateway side includes the STOMP client (a raw WebSocket client in
// this process), so it is a pessimistic ratio.

var body128 = strings.Repeat("x", 128)

func BenchmarkPublishDirectAMQP(b *testing.B) {
	rb := relaytest.Require(b)
	q := rb.Name("bench-direct")
	ch := rb.Channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-max-length": int64(1000)}); err != nil {
		b.Fatal(err)
	}
	rb.DeleteQueue(q)
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	var last *amqp.DeferredConfirmation
	for range b.N {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", q, false, false, amqp.Publishing{Body: []byte(body128)})
		if err != nil {
			b.Fatal(err)
		}
		last = dc
	}
	if ok, err := last.WaitContext(context.Background()); !ok || err != nil {
		b.Fatal("last publish not confirmed", err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkPublishThroughGateway(b *testing.B) {
	rb := relaytest.Require(b)
	q := rb.Name("bench-gw")
	ch := rb.Channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-max-length": int64(1000)}); err != nil {
		b.Fatal(err)
	}
	rb.DeleteQueue(q)
	n := relaytest.StartNode(b)
	c := gatewaytest.Connected(b, n.Srv.WSURL)
	send := gatewaytest.Frame(stomp.CmdSend, body128, "destination:/amq/queue/"+q)
	b.ResetTimer()
	start := time.Now()
	const batch = 256 // frames per WebSocket message, as a busy client's writes coalesce
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = append(buf, send...)
		if len(buf) >= batch*len(send) {
			c.SendRaw(buf)
			buf = buf[:0]
		}
	}
	// RabbitMQ confirms in order, so the last receipt covers every SEND.
	buf = append(buf, gatewaytest.Frame(stomp.CmdSend, body128, "destination:/amq/queue/"+q, "receipt:last")...)
	c.SendRaw(buf)
	if r := c.Expect(stomp.CmdReceipt); r.Get("receipt-id") != "last" {
		b.Fatal(fmt.Sprint(r.Headers))
	}
	b.ReportMetric(float64(b.N+1)/time.Since(start).Seconds(), "msgs/s")
}
