package main

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// publisher SENDs on one session. With receipts it keeps at most a
// window of SENDs awaiting their RECEIPT, so a publisher never runs
// further ahead of the broker's confirms than that.
type publisher struct {
	c         *client
	window    chan struct{} // a token per SEND awaiting its RECEIPT; nil without receipts
	nextID    uint64
	receipt   [1]stomp.Header
	confirmed *atomic.Int64
}

// newPublishers prepares n publishers and the handlers their sessions
// need (receipts return window tokens). Open sessions 0..n-1 with those
// handlers, then set each publisher's c.
func newPublishers(n, window int, receipts bool, confirmed *atomic.Int64) ([]*publisher, *handlers) {
	ps := make([]*publisher, n)
	for i := range ps {
		ps[i] = &publisher{confirmed: confirmed}
		if receipts {
			ps[i].window = make(chan struct{}, max(window, 1))
		}
	}
	h := &handlers{receipt: func(c *client, _ string) {
		if w := ps[c.n].window; w != nil {
			select {
			case <-w:
				confirmed.Add(1)
			default: // a RECEIPT nobody asked for
			}
		}
	}}
	return ps, h
}

// sendHead encodes the part of a SEND that does not change between
// messages: the command and the destination.
func sendHead(c *client, dest string) []byte {
	return stomp.AppendHead(nil, stomp.CmdSend, []stomp.Header{{Key: stomp.HdrDestination, Value: dest}}, c.version)
}

// publish sends head + body, asking for a receipt when the publisher
// uses them; it blocks while the window is full.
func (p *publisher) publish(head, body []byte) error {
	if p.window != nil {
		if err := p.acquire(); err != nil {
			return err
		}
	}
	var hs []stomp.Header
	if p.window != nil {
		p.nextID++
		p.receipt[0] = stomp.Header{Key: stomp.HdrReceipt, Value: strconv.FormatUint(p.nextID, 10)}
		hs = p.receipt[:]
	}
	bp := encodeBufs.Get().(*[]byte)
	b := append((*bp)[:0], head...)
	b = stomp.AppendTail(b, stomp.CmdSend, hs, body, p.c.version)
	err := p.c.write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	return err
}

// acquire takes a window token, waiting at most the session timeout for a
// RECEIPT to free one.
func (p *publisher) acquire() error {
	select {
	case p.window <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.c.cfg.timeout)
	defer t.Stop()
	select {
	case p.window <- struct{}{}:
		return nil
	case <-p.c.done:
		return p.c.closedErr()
	case <-t.C:
		return &timeoutError{waiting: "RECEIPT"}
	}
}

// settle waits until every SEND has its RECEIPT.
func (p *publisher) settle() error {
	if p.window == nil {
		return nil
	}
	for range cap(p.window) {
		if err := p.acquire(); err != nil {
			return err
		}
	}
	for range cap(p.window) {
		<-p.window
	}
	return nil
}
