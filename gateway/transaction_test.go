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
	sub.Subscribe("s", "/queue/tx")
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t1")
	c.SendBody(stomp.CmdSend, "a", "destination:/queue/tx", "transaction:t1")
	c.SendBody(stomp.CmdSend, "b", "destination:/queue/tx", "transaction:t1", "receipt:sb")
	c.Send(stomp.CmdSend, "destination:/queue/tx", "receipt:fence")
	c.Expect(stomp.CmdReceipt) // the fence SEND outside the transaction
	if m := sub.Expect(stomp.CmdMessage); len(m.Body) != 0 {
		t.Fatalf("transactional message %q arrived before COMMIT", m.Body)
	}
	c.Send(stomp.CmdCommit, "transaction:t1", "receipt:commit")
	got := map[string]bool{}
	for range 2 {
		got[c.Expect(stomp.CmdReceipt).Get("receipt-id")] = true
	}
	if !got["sb"] || !got["commit"] {
		t.Fatalf("receipts %v", got)
	}
	for _, want := range []string{"a", "b"} {
		if m := sub.Expect(stomp.CmdMessage); string(m.Body) != want {
			t.Fatalf("body %q, want %q", m.Body, want)
		}
	}
}

func TestAbortDiscardsTheTransaction(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s", "/queue/abort")
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t")
	c.SendBody(stomp.CmdSend, "x", "destination:/queue/abort", "transaction:t")
	c.Send(stomp.CmdAbort, "transaction:t", "receipt:a")
	c.Expect(stomp.CmdReceipt)
	c.Send(stomp.CmdDisconnect)
	sub.ExpectNothing(100 * time.Millisecond)
}

func TestDisconnectDiscardsOpenTransactions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s", "/queue/txdrop")
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t")
	c.SendBody(stomp.CmdSend, "x", "destination:/queue/txdrop", "transaction:t")
	c.Send(stomp.CmdDisconnect, "receipt:bye")
	c.Expect(stomp.CmdReceipt)
	sub.ExpectNothing(100 * time.Millisecond)
}

func TestTransactionalAckIsAppliedAtCommit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/txack", "ack:client-individual")
	fill(t, ts, "/queue/txack", 1)
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdBegin, "transaction:t")
	c.Send(stomp.CmdAck, "id:"+m.Get("ack"), "transaction:t")
	c.Send(stomp.CmdCommit, "transaction:t", "receipt:c")
	c.Expect(stomp.CmdReceipt)
	// Settled at COMMIT: acking it again is an unknown id.
	c.Send(stomp.CmdAck, "id:"+m.Get("ack"))
	c.ExpectError("Unknown ack id")
}
