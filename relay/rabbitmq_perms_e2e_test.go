package relay_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// With AUTH=rabbitmq a user gets exactly what RabbitMQ grants them, as
// RabbitMQ's own STOMP plugin enforces; before, every RabbitMQ user got
// the gateway's service-account rights. Real users, real broker, through
// the gateway and the relay.
func TestRabbitMQUsersGetTheirOwnPermissionsThroughTheGateway(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	q := rb.Name("perm-q")
	ch := rb.Channel()
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.DeleteQueue(q) })
	const pass = "perm-test-passcode"
	readOnly := rb.User("ro", pass, &relaytest.Permissions{Configure: "", Write: "", Read: ".*"})
	writeOnly := rb.User("wo", pass, &relaytest.Permissions{Configure: "", Write: ".*", Read: ""})
	noVHost := rb.User("nv", pass, nil)
	topical := rb.User("tp", pass, &relaytest.Permissions{Configure: ".*", Write: ".*", Read: ".*"},
		relaytest.TopicPermission{Exchange: "amq.topic", Write: `^chat\.`, Read: `^chat\.{username}\.`})

	svc, err := auth.Build(auth.Config{
		Backends: []string{"rabbitmq"}, RabbitMQCacheTTL: time.Second,
		RabbitMQManagementTimeout: 2 * time.Second, RabbitMQPermissionsTTL: time.Second,
	}, []string{amqpURL()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := gatewaytest.StartAuth(t, newRelay(t), gatewaytest.TestConfig(), svc, svc.Authorizer, testLogger(t))
	login := func(user string) *gatewaytest.Client {
		c := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
		c.Connect("accept-version:1.2", "host:/", "login:"+user, "passcode:"+pass)
		return c
	}
	refused := func(user, what string, frame ...string) {
		t.Helper()
		c := login(user)
		c.Send(frame[0], frame[1:]...)
		f, _ := c.ExpectError("access_refused")
		if !contains(string(f.Body), what) {
			t.Errorf("%s: ERROR %q, want it to name %q", user, f.Body, what)
		}
	}

	// No permissions on the vhost: no session at all.
	nv := gatewaytest.Dial(t, srv.WSURL, "v12.stomp")
	nv.Send(stomp.CmdConnect, "accept-version:1.2", "host:/", "login:"+noVHost, "passcode:"+pass)
	if f, _ := nv.ExpectError("Bad CONNECT"); string(f.Body) != "Virtual host '/' access denied" {
		t.Errorf("ERROR body %q", f.Body)
	}

	// Read-only: consumes an existing queue, may not publish or declare.
	ro := login(readOnly)
	ro.Subscribe("q", "/amq/queue/"+q)
	refused(readOnly, "write access to exchange 'amq.default'", stomp.CmdSend, "destination:/amq/queue/"+q)
	refused(readOnly, "configure access to queue 'stomp-subscription-", stomp.CmdSubscribe, "id:t", "destination:/topic/"+rb.Name("news"))
	refused(readOnly, "configure access to queue '"+q+"'", stomp.CmdSubscribe, "id:t", "destination:/queue/"+q)

	// Write-only: publishes, may not consume.
	wo := login(writeOnly)
	wo.Publish("/amq/queue/"+q, "from the write-only user")
	if m := ro.Expect(stomp.CmdMessage); string(m.Body) != "from the write-only user" {
		t.Fatalf("got %q", m.Body)
	}
	wo.Publish("/topic/"+rb.Name("news"), "to a topic")
	refused(writeOnly, "read access to queue '"+q+"'", stomp.CmdSubscribe, "id:s", "destination:/amq/queue/"+q)

	// Topic permissions on amq.topic, with {username}.
	tp := login(topical)
	tp.Subscribe("mine", "/topic/chat."+topical+".inbox")
	tp.Publish("/topic/chat."+topical+".inbox", "to my own inbox")
	if m := tp.Expect(stomp.CmdMessage); string(m.Body) != "to my own inbox" {
		t.Fatalf("got %q", m.Body)
	}
	refused(topical, "write access to topic 'news.x' in exchange 'amq.topic'", stomp.CmdSend, "destination:/topic/news.x")
	refused(topical, "read access to topic 'chat.someone.inbox'", stomp.CmdSubscribe, "id:x", "destination:/topic/chat.someone.inbox")
	// The same topic spelled as its exchange is the same check.
	refused(topical, "write access to topic 'news.x'", stomp.CmdSend, "destination:/exchange/amq.topic/news.x")
}
