package gateway_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

func TestTransactionalSendsArriveOnlyAtCommit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.subscribe("s", "/queue/tx")
	c := connected(t, ts)
	c.send(stomp.CmdBegin, "transaction:t1")
	c.sendBody(stomp.CmdSend, "a", "destination:/queue/tx", "transaction:t1")
	c.sendBody(stomp.CmdSend, "b", "destination:/queue/tx", "transaction:t1", "receipt:sb")
	c.send(stomp.CmdSend, "destination:/queue/tx", "receipt:fence")
	c.expect(stomp.CmdReceipt) // the fence SEND outside the transaction
	if m := sub.expect(stomp.CmdMessage); len(m.Body) != 0 {
		t.Fatalf("transactional message %q arrived before COMMIT", m.Body)
	}
	c.send(stomp.CmdCommit, "transaction:t1", "receipt:commit")
	got := map[string]bool{}
	for range 2 {
		got[c.expect(stomp.CmdReceipt).Get("receipt-id")] = true
	}
	if !got["sb"] || !got["commit"] {
		t.Fatalf("receipts %v", got)
	}
	for _, want := range []string{"a", "b"} {
		if m := sub.expect(stomp.CmdMessage); string(m.Body) != want {
			t.Fatalf("body %q, want %q", m.Body, want)
		}
	}
}

func TestAbortDiscardsTheTransaction(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.subscribe("s", "/queue/abort")
	c := connected(t, ts)
	c.send(stomp.CmdBegin, "transaction:t")
	c.sendBody(stomp.CmdSend, "x", "destination:/queue/abort", "transaction:t")
	c.send(stomp.CmdAbort, "transaction:t", "receipt:a")
	c.expect(stomp.CmdReceipt)
	c.send(stomp.CmdDisconnect)
	sub.expectNothing(100 * time.Millisecond)
}

func TestDisconnectDiscardsOpenTransactions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.subscribe("s", "/queue/txdrop")
	c := connected(t, ts)
	c.send(stomp.CmdBegin, "transaction:t")
	c.sendBody(stomp.CmdSend, "x", "destination:/queue/txdrop", "transaction:t")
	c.send(stomp.CmdDisconnect, "receipt:bye")
	c.expect(stomp.CmdReceipt)
	sub.expectNothing(100 * time.Millisecond)
}

func TestTransactionalAckIsAppliedAtCommit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.subscribe("s", "/queue/txack", "ack:client-individual")
	fill(t, ts, "/queue/txack", 1)
	m := c.expect(stomp.CmdMessage)
	c.send(stomp.CmdBegin, "transaction:t")
	c.send(stomp.CmdAck, "id:"+m.Get("ack"), "transaction:t")
	c.send(stomp.CmdCommit, "transaction:t", "receipt:c")
	c.expect(stomp.CmdReceipt)
	// Settled at COMMIT: acking it again is an unknown id.
	c.send(stomp.CmdAck, "id:"+m.Get("ack"))
	c.expectError("Unknown ack id")
}
