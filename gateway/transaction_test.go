package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
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
	c.ExpectError("Message not found")
}

// The reviewer's case: a transaction SEND; ACK of an unknown id; SEND
// delivered the first SEND and dropped the second. COMMIT now checks the
// whole transaction first and applies none of it.
func TestCommitWithAnUnknownAckIDAppliesNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	sub := connected(t, ts)
	sub.Subscribe("s", "/queue/tx-atomic")
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t")
	c.SendBody(stomp.CmdSend, "first", "destination:/queue/tx-atomic", "transaction:t")
	c.Send(stomp.CmdAck, "id:T_nope@@session-x@@1", "transaction:t")
	c.SendBody(stomp.CmdSend, "second", "destination:/queue/tx-atomic", "transaction:t")
	c.Send(stomp.CmdCommit, "transaction:t", "receipt:c")
	f, _ := c.ExpectError("Message not found")
	gatewaytest.Header(t, f, "receipt-id", "c")
	// Nothing of it arrived: the next message is one sent afterwards.
	fence := connected(t, ts)
	fence.Publish("/queue/tx-atomic", "fence")
	if m := sub.Expect(stomp.CmdMessage); string(m.Body) != "fence" {
		t.Fatalf("got %q before the fence", m.Body)
	}
}

func TestCommitThatAcksOneDeliveryTwiceAppliesNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := connected(t, ts)
	c.Subscribe("s", "/queue/tx-twice", "ack:client")
	fill(t, ts, "/queue/tx-twice", 2)
	m1, m2 := c.Expect(stomp.CmdMessage), c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdBegin, "transaction:t")
	// Cumulative: the ACK of the second settles the first too.
	c.Send(stomp.CmdAck, "id:"+m2.Get("ack"), "transaction:t")
	c.Send(stomp.CmdAck, "id:"+m1.Get("ack"), "transaction:t")
	c.Send(stomp.CmdCommit, "transaction:t")
	c.ExpectError("Message not found")
	// Neither ACK was applied: both come back to the next subscriber.
	again := connected(t, ts)
	again.Subscribe("s", "/queue/tx-twice", "ack:client")
	for range 2 {
		gatewaytest.Header(t, again.Expect(stomp.CmdMessage), "redelivered", "true")
	}
}

// 250 buffered SENDs with 95 headers of 16 KB each took a session from
// 13 MB to 643 MB: only bodies were counted. Whole frames count now.
func TestTransactionHeaderFloodIsBoundedByWholeFrameBytes(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	ts := startServer(t, func(c *gateway.Config) { c.MaxTransactionBytes = limit })
	bystander := connected(t, ts)
	bystander.Subscribe("b", "/queue/tx-bystander")
	c := connected(t, ts)
	c.Send(stomp.CmdBegin, "transaction:t")
	headers := []string{"destination:/queue/tx-flood", "transaction:t"}
	for i := range 20 {
		headers = append(headers, fmt.Sprintf("h%d:%s", i, strings.Repeat("x", 16<<10-8)))
	}
	perFrame := 20 * (16 << 10)
	sent := 0
	for ; sent < 100; sent++ {
		c.Send(stomp.CmdSend, headers...) // an empty body: only headers
		if sent%4 == 3 {
			c.Send(stomp.CmdBegin, fmt.Sprintf("transaction:probe%d", sent), "receipt:probe")
			if f := c.Read(); f.Command == stomp.CmdError {
				gatewaytest.Header(t, f, "message", "Transaction too large")
				break
			}
		}
	}
	if buffered := sent * perFrame; buffered > limit+4*perFrame {
		t.Fatalf("%d frames (%d header bytes) buffered before the limit of %d", sent, buffered, limit)
	}
	if sent == 100 {
		t.Fatal("never refused")
	}
	fill(t, ts, "/queue/tx-bystander", 1)
	bystander.Expect(stomp.CmdMessage)
}
