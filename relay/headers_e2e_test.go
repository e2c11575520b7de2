package relay_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

func TestSendHeadersBecomeAMQPProperties(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("props")
	d := rb.Queue(q, "", "")
	n.Client(t).Publish("/amq/queue/"+q, "body",
		"content-type:text/plain", "content-encoding:gzip", "persistent:true", "priority:5",
		"correlation-id:c1", "reply-to:/queue/answers", "expiration:60000", "amqp-message-id:m1",
		"timestamp:1700000000", "type:order", "app-id:shop", "x-custom:v1")
	m := receive(t, d)
	got := []any{m.ContentType, m.ContentEncoding, m.DeliveryMode, m.Priority, m.CorrelationId, m.ReplyTo,
		m.Expiration, m.MessageId, m.Timestamp.Unix(), m.Type, m.AppId, m.Headers["x-custom"]}
	want := []any{"text/plain", "gzip", amqp.Persistent, uint8(5), "c1", "/queue/answers",
		"60000", "m1", int64(1700000000), "order", "shop", "v1"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("property %d: got %v (%T), want %v", i, got[i], got[i], want[i])
		}
	}
	for _, h := range []string{"destination", "receipt", "content-length"} {
		if _, ok := m.Headers[h]; ok {
			t.Errorf("protocol header %s leaked into the AMQP headers", h)
		}
	}
}

func TestAMQPPropertiesAndHeadersBecomeMessageHeaders(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	q := rb.Name("backend-to-stomp")
	rb.DeleteQueue(q)
	c := n.Client(t)
	c.Subscribe("s", "/queue/"+q, "ack:client-individual")
	rb.Publish("", q, amqp.Publishing{
		ContentType: "application/json", CorrelationId: "c9", ReplyTo: "amq.gen-abc", MessageId: "m9",
		Timestamp: time.Unix(1700000001, 0), Type: "event", AppId: "backend", DeliveryMode: amqp.Persistent, Priority: 3,
		Headers: amqp.Table{"x-str": "s", "x-int": int32(42), "x-bool": true, "x-table": amqp.Table{"k": "v"}},
		Body:    []byte(`{"a":1}`),
	})
	m := c.Expect(stomp.CmdMessage)
	for k, v := range map[string]string{
		"destination": "/queue/" + q, "subscription": "s", "redelivered": "false", "content-length": "7",
		"content-type": "application/json", "correlation-id": "c9", "reply-to": "/reply-queue/amq.gen-abc",
		"amqp-message-id": "m9", "timestamp": "1700000001", "type": "event", "app-id": "backend",
		"persistent": "true", "priority": "3",
		"x-str": "s", "x-int": "42", "x-bool": "true", "x-table": `{"k":"v"}`,
	} {
		header(t, m, k, v)
	}
	if m.Get("ack") == "" || !strings.HasPrefix(m.Get("message-id"), "T_s@@") {
		t.Errorf("ack %q message-id %q", m.Get("ack"), m.Get("message-id"))
	}
}
