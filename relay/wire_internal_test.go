package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP sockets.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestWireConnKeepsOrderAcrossWriters(t *testing.T) {
	t.Parallel()
	c, peer := tcpPair(t)
	w := newWireConn(c)
	const writers, each = 8, 2000
	var want [writers][]byte
	var wg sync.WaitGroup
	var mu sync.Mutex // amqp091-go serialises its writes; so does this test
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				b := []byte{byte(i), byte(j), byte(j >> 8), '\n'}
				mu.Lock()
				_, err := w.Write(b)
				want[i] = append(want[i], b...)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make([]byte, writers*each*4)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(peer, got); done <- err }()
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Each writer's frames arrive whole and in its order.
	var per [writers][]byte
	for i := 0; i < len(got); i += 4 {
		per[got[i]] = append(per[got[i]], got[i:i+4]...)
	}
	for i := range writers {
		if !bytes.Equal(per[i], want[i]) {
			t.Fatalf("writer %d: bytes out of order or lost", i)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWireConnWritesALoneFrameAtOnce(t *testing.T) {
	t.Parallel()
	c, peer := tcpPair(t)
	w := newWireConn(c)
	defer w.Close()
	for range 3 {
		if _, err := w.Write([]byte("heartbeat")); err != nil {
			t.Fatal(err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 9)
		if _, err := io.ReadFull(peer, b); err != nil {
			t.Fatalf("a lone frame was not written: %v", err)
		}
	}
}

func TestWireConnBlocksWriterWhenThePeerStopsReading(t *testing.T) {
	t.Parallel()
	c, peer := net.Pipe() // a write waits for the peer's read
	w := newWireConn(c)
	defer peer.Close()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		chunk := make([]byte, 64<<10)
		for range 2 * wireMaxPending / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	select {
	case <-wrote:
		t.Fatal("Write buffered without bound while the peer read nothing")
	case <-time.After(200 * time.Millisecond):
	}
	// Reading makes room; everything goes out.
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("Write stayed blocked after the peer read")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWireConnFailsLaterWritesAfterAFailedOne(t *testing.T) {
	t.Parallel()
	c, peer := net.Pipe()
	w := newWireConn(c)
	peer.Close()
	_, _ = w.Write([]byte("lost")) // buffered; the writer's write fails
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := w.Write([]byte("x"))
		if err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("got %v, want the socket's error", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes kept succeeding after the socket failed")
		}
		time.Sleep(time.Millisecond)
	}
	// Reading the socket fails too, so amqp091-go's reader shuts down.
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the socket was left open after a failed write")
	}
	_ = w.Close()
}

func TestWireConnCloseFlushesWhatIsBuffered(t *testing.T) {
	t.Parallel()
	c, peer := tcpPair(t)
	w := newWireConn(c)
	msg := bytes.Repeat([]byte("close-ok"), 1000)
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes after Close, want %d", len(got), len(msg))
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}
