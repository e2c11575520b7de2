package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
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
		// The writer's own write, stuck in the pipe, holds one batch of
		// up to wireMaxPending (and a chunk); as much again may wait. So
		// 2 x wireMaxPending can all be taken: write twice that.
		chunk := make([]byte, 64<<10)
		for range 4 * wireMaxPending / len(chunk) {
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

// amqp091-go finds a dead RabbitMQ by its read deadline (three missed
// heartbeats) and a closed one by EOF; the socket's own reads, raw or not,
// must keep both, and a write larger than the socket's buffer must go
// whole, in order, in as many system calls as it takes.
func TestWireConnReadsAsTheSocketDoes(t *testing.T) {
	t.Parallel()
	c, peer := tcpPair(t)
	w := newWireConn(c)
	if canRawIO && w.raw == nil {
		t.Fatal("a plain TCP socket is not read by raw system calls")
	}

	if _, err := peer.Write([]byte("frame")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadAtLeast(w, buf, 5); err != nil || string(buf[:n]) != "frame" {
		t.Fatalf("read %q, %v; want %q", buf[:n], err, "frame")
	}

	if err := w.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := w.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline returned %v, want a deadline error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("a read with a 50 ms deadline returned after %v", waited)
	}
	if err := w.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than a socket buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, big) {
			t.Fatalf("the peer got %d bytes of %d, or out of order", len(b), len(big))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a 4 MiB write did not arrive")
	}

	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("a read after the peer closed returned %d, %v; want 0, EOF", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(buf); err == nil {
		t.Fatal("a read after Close succeeded")
	}
}
