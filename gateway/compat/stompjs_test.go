//go:build unix

package compat_test

import (
	"bufio"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// stompJSDir holds the Node project of the @stomp/stompjs client test; its
// node_modules come from `npm ci --prefix gateway/compat/testdata/stompjs`,
// which `make test` runs.
const stompJSDir = "testdata/stompjs"

// TestStompJS runs testdata/stompjs/client.test.mjs, the @stomp/stompjs
// client (on the ws package) under node's test runner, against a gateway
// on RabbitMQ and against one on the embedded broker.
//
// Without node or the installed packages it skips, loudly; with CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead, so a CI run can
// never pass without it.
func TestStompJS(t *testing.T) {
	t.Parallel()
	node := requireStompJS(t)

	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		rb := relaytest.Require(t)
		n := relaytest.StartNodeWith(t, config())
		ch := rb.Channel()
		amq, reply := rb.Name("amq"), rb.Name("reply")
		for _, q := range []string{amq, reply} {
			if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			rb.DeleteQueue(q)
		}
		declared := filepath.Join(t.TempDir(), "declared")
		// Delete what the script made the gateway declare, even when it
		// failed midway (it records each name before using it).
		t.Cleanup(func() { deleteDeclared(t, rb, declared) })
		runStompJS(t, node, "rabbitmq", n.Srv.WSURL, rb.Prefix, amq, reply, declared)
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		b := memory.New()
		t.Cleanup(func() { b.Close() })
		srv := gatewaytest.Start(t, b, config())
		prefix := uniquePrefix()
		amq, reply := prefix+"amq", prefix+"reply"
		// The embedded broker has no other way in: a /queue SUBSCRIBE
		// declares the queues.
		c := gatewaytest.Connected(t, srv.WSURL)
		for _, q := range []string{amq, reply} {
			c.Subscribe(q, "/queue/"+q)
			c.Send(stomp.CmdUnsubscribe, "id:"+q)
		}
		c.Send(stomp.CmdDisconnect, "receipt:bye")
		c.Expect(stomp.CmdReceipt)
		runStompJS(t, node, "memory", srv.WSURL, prefix, amq, reply, "")
	})
}

// runStompJS runs the Node test file against the gateway at url.
func runStompJS(t *testing.T, node, brokerName, url, prefix, amqQueue, replyQueue, declared string) {
	t.Helper()
	gatewaytest.RunNode(t, node, stompJSDir, []string{
		"GATEWAY_URL=" + url, "PREFIX=" + prefix, "AMQ_QUEUE=" + amqQueue, "REPLY_QUEUE=" + replyQueue,
		"DECLARED=" + declared, "BROKER=" + brokerName,
	}, 2*time.Minute, "node["+brokerName+"]: ", "--test", "--test-reporter=spec", "client.test.mjs")
}

// deleteDeclared deletes the durable queues the script listed in file:
// /queue queues and durable topic subscriptions' queues, all under the
// test's prefix.
func deleteDeclared(t *testing.T, rb *relaytest.Rabbit, file string) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	ch, err := rb.Conn.Channel()
	if err != nil {
		t.Error(err)
		return
	}
	defer ch.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var q string
		switch fields := strings.Fields(sc.Text()); {
		case len(fields) == 2 && fields[0] == "queue" && strings.HasPrefix(fields[1], rb.Prefix):
			q = fields[1]
		case len(fields) == 3 && fields[0] == "durable-subscription" && strings.HasPrefix(fields[1], rb.Prefix):
			// The script logs in as alice.
			q = gateway.DurableSubscriptionQueue("alice", fields[1], fields[2])
		default:
			t.Errorf("%s: cannot delete %q: want \"queue %sNAME\" or \"durable-subscription %sKEY ID\"", file, sc.Text(), rb.Prefix, rb.Prefix)
			continue
		}
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
			return // the channel is closed
		}
	}
	if err := sc.Err(); err != nil {
		t.Error(err)
	}
}

// uniquePrefix is a name prefix unique to one run, as relaytest's.
func uniquePrefix() string {
	return "sgtest." + strings.ToLower(rand.Text()[:8]) + "."
}

// requireStompJS returns the path of node once the client packages are
// installed (see gatewaytest.Missing for when it skips or fails).
func requireStompJS(t *testing.T) string {
	t.Helper()
	return gatewaytest.RequireNode(t, "stompjs client test",
		"run `make test`, which installs the client packages (npm ci --prefix gateway/compat/testdata/stompjs) before go test",
		stompJSDir, "@stomp/stompjs", "ws")
}
