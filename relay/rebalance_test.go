package relay_test

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// nodeProxy stands for one RabbitMQ node of a cluster: a TCP proxy to the
// test broker that can go down (dropping its connections, as a crashed
// node does) and come back on the same address.
type nodeProxy struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	ln   net.Listener
	live []net.Conn
}

func newNodeProxy(t *testing.T) *nodeProxy {
	p := &nodeProxy{t: t}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *nodeProxy) up() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", "127.0.0.1:5672")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.live = append(p.live, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *nodeProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.live {
		c.Close()
	}
	p.live = nil
}

// A connection that failed over to another node moves back to its own
// when that returns, so the node's connections spread over the cluster
// again instead of piling on the survivor; its sessions carry on.
func TestConnectionsMoveBackToTheirNodeWhenItReturns(t *testing.T) {
	t.Parallel()
	rb := requireRabbit(t)
	a, b := newNodeProxy(t), newNodeProxy(t)
	r := relaytest.NewRelay(t, func(c *relay.Config) {
		c.URLs = []string{"amqp://guest:guest@" + a.addr + "/", "amqp://guest:guest@" + b.addr + "/"}
		c.RebalanceInterval = 200 * time.Millisecond
	})
	n := &relaytest.Node{Relay: r, Srv: gatewaytest.Start(t, r, gatewaytest.TestConfig())}
	spread := func() []string {
		urls := r.ConnectedURLs()
		slices.Sort(urls)
		return urls
	}
	want := []string{a.addr, b.addr}
	slices.Sort(want)
	if got := spread(); !slices.Equal(got, want) {
		t.Fatalf("connected to %v, want one link on each of %v", got, want)
	}
	q := rb.Name("rebalance")
	t.Cleanup(func() { rb.DeleteQueue(q) })
	c := n.Client(t)
	c.Subscribe("s", "/queue/"+q, "ack:client-individual")

	a.down()
	deadline := time.Now().Add(10 * time.Second)
	for got := spread(); !slices.Equal(got, []string{b.addr, b.addr}); got = spread() {
		if time.Now().After(deadline) {
			t.Fatalf("after node a went down: connected to %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.up()
	deadline = time.Now().Add(10 * time.Second)
	for got := spread(); !slices.Equal(got, want); got = spread() {
		if time.Now().After(deadline) {
			t.Fatalf("node a is back, but the connections are on %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The session lived through both moves.
	pub := n.Client(t)
	pub.Publish("/queue/"+q, "after the moves")
	m := c.Expect(stomp.CmdMessage)
	c.Send(stomp.CmdAck, "id:"+m.Get("ack"), "receipt:a")
	c.Expect(stomp.CmdReceipt)
}
