package relay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// boundKeys lists the routing keys of amq.topic's bindings to the node's
// queues whose key contains mark.
func boundKeys(t *testing.T, n *node, mark string) []string {
	var keys []string
	for _, line := range strings.Split(rabbitmqctl(t, "list_bindings", "source_name", "destination_name", "routing_key", "-q"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[0] == "amq.topic" && strings.HasPrefix(f[1], n.Relay.Node()) && strings.Contains(f[2], mark) {
			keys = append(keys, f[2])
		}
	}
	return keys
}

// TestALeftKeyIsUnboundInTheBackground: the last subscriber of a key
// leaving does not wait for the unbind (a node closing thousands of
// sessions would wait on thousands of round trips in a row); the key is
// unbound soon after, and one joined again at once still gets its
// messages.
func TestALeftKeyIsUnboundInTheBackground(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	n := startNode(t)
	keep, leave, again := rb.Prefix+"keep", rb.Prefix+"leave", rb.Prefix+"again"
	c := n.Client(t)
	for _, k := range []string{keep, leave, again} {
		c.Subscribe(k, "/topic/"+k)
	}
	c.Send(stomp.CmdUnsubscribe, "id:"+leave)
	c.Send(stomp.CmdUnsubscribe, "id:"+again)
	c.Subscribe("again-2", "/topic/"+again)
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys := boundKeys(t, n, rb.Prefix)
		if len(keys) == 2 && !strings.Contains(strings.Join(keys, " "), leave) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bound keys %q, want %s and %s", keys, keep, again)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pub := n.Client(t)
	pub.Publish("/topic/"+leave, "to nobody")
	pub.Publish("/topic/"+again, "again")
	pub.Publish("/topic/"+keep, "keep")
	for _, want := range []string{"again-2", keep} {
		if m := c.Expect(stomp.CmdMessage); m.Get("subscription") != want {
			t.Fatalf("got %q for %s, want %s", m.Body, m.Get("subscription"), want)
		}
	}
	c.ExpectNothing(200 * time.Millisecond)
}
