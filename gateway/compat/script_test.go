package compat_test

import (
	"bufio"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// scriptTarget is the gateway a client script (stompjs, stomp.py) runs
// against, with what the script expects to find there.
type scriptTarget struct {
	srv *gatewaytest.Server
	// prefix starts every queue, key and id the script uses.
	prefix string
	// amq and reply are existing queues, for /amq/queue and /reply-queue.
	amq, reply string
	// declared is the file where the script lists, before using them,
	// the durable queues it makes the gateway declare; "" on the embedded
	// broker, which forgets them with the test.
	declared string
}

// vars is the environment that tells the script about st; broker names
// it in messages.
func (st scriptTarget) vars(broker string) []string {
	return []string{
		"PREFIX=" + st.prefix, "AMQ_QUEUE=" + st.amq, "REPLY_QUEUE=" + st.reply,
		"DECLARED=" + st.declared, "BROKER=" + broker,
	}
}

// rabbitTarget starts a gateway node on RabbitMQ and declares the
// script's existing queues; what the script declared is deleted at the
// end, even when it failed midway.
func rabbitTarget(t *testing.T) scriptTarget {
	t.Helper()
	rb := relaytest.Require(t)
	n := relaytest.StartNodeWith(t, config())
	ch := rb.Channel()
	st := scriptTarget{srv: n.Srv, prefix: rb.Prefix, amq: rb.Name("amq"), reply: rb.Name("reply")}
	for _, q := range []string{st.amq, st.reply} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		rb.DeleteQueue(q)
	}
	st.declared = filepath.Join(t.TempDir(), "declared")
	t.Cleanup(func() { deleteDeclared(t, rb, st.declared) })
	return st
}

// memoryTarget starts a gateway on the embedded broker `make run` uses,
// with the script's existing queues.
func memoryTarget(t *testing.T) scriptTarget {
	t.Helper()
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	srv := gatewaytest.Start(t, b, config())
	prefix := uniquePrefix()
	st := scriptTarget{srv: srv, prefix: prefix, amq: prefix + "amq", reply: prefix + "reply"}
	// The embedded broker has no other way in: a /queue SUBSCRIBE
	// declares the queues.
	c := gatewaytest.Connected(t, srv.WSURL)
	for _, q := range []string{st.amq, st.reply} {
		c.Subscribe(q, "/queue/"+q)
		c.Send(stomp.CmdUnsubscribe, "id:"+q)
	}
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	return st
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
			// The scripts log in as alice.
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
