package gateway

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// TestWritesWithoutWaitingKeepTheStreamWhole writes batches to a client
// that reads slowly through small socket buffers, each batch first
// without waiting (as a flusher does) and, when the socket took only part
// of it, the rest by a deadline (as the session's own flusher does): the
// client must read every byte, in order, however the batches were cut.
func TestWritesWithoutWaitingKeepTheStreamWhole(t *testing.T) {
	if !canWriteNow {
		t.Skip("no writes without waiting on this platform")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	rc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	wc := <-accepted
	defer wc.Close()
	_ = wc.(*net.TCPConn).SetWriteBuffer(4096)

	var w sockWriter
	w.init(wc)
	if !w.canTry() {
		t.Fatal("a plain TCP connection cannot be written without waiting")
	}
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for i := 0; ; i++ {
			if i%16 == 0 {
				time.Sleep(time.Millisecond) // slower than the writer
			}
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				got <- b.Bytes()
				return
			}
		}
	}()
	r := rand.New(rand.NewPCG(1, 2))
	partial := 0
	for i := range 400 {
		bb := &batchBufs{}
		for range 1 + r.IntN(8) {
			p := make([]byte, 1+r.IntN(3000))
			for j := range p {
				p[j] = byte(i + j)
			}
			bb.bufs = append(bb.bufs, p)
			want.Write(p)
		}
		done, err := w.try(bb)
		if err != nil {
			t.Fatal(err)
		}
		if !done {
			partial++
			if err := w.write(&batchBufs{}, time.Now().Add(10*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	wc.Close()
	b := <-got
	if !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("read %d bytes, want %d, or they differ", len(b), want.Len())
	}
	if partial == 0 {
		t.Fatal("every batch went out whole: the test did not fill the socket")
	}
	t.Logf("%d of 400 batches were finished by a waiting write", partial)
}
