package relay

import (
	"net"
	"sync"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Writes to RabbitMQ are coalesced. amqp091-go flushes every method it
// sends (a publish, an ack) with a write system call of its own, under the
// connection's send lock, so the session publishing and every flusher
// settling a delivery on the same connection take turns at the socket.
// wireConn sits under amqp091-go instead (amqp.Config.Dial): Write only
// appends to a buffer, and one writer goroutine per connection hands the
// socket everything appended since its last write, in one call. Nothing
// waits for a timer: the writer writes as soon as there are bytes, so a
// lone frame (a heartbeat, a publish at a low rate) goes out at once, and
// only frames that arrive while a write is under way share the next one.
//
// Backpressure stays: Write blocks while wireMaxPending bytes wait (a
// RabbitMQ that stops reading, under an alarm, stops the senders as a full
// socket did). A failed write fails every later one and closes the socket,
// so amqp091-go's reader sees the loss and shuts the connection down; what
// was published on it and not confirmed is published again by the next
// channel (publisher.go), as after any connection loss.

// wireMaxPending is how many bytes may wait for the writer before Write
// blocks.
const wireMaxPending = 1 << 20

// wireKeepBuf is the largest buffer the writer keeps for the next batch.
const wireKeepBuf = 256 << 10

// wireCloseWait bounds how long Close waits for the writer to hand the
// socket what is still buffered (a close-ok) before it closes it.
const wireCloseWait = time.Second

// dialWire is amqp.Config.Dial: amqp091-go's own dialer (its connection
// timeout and handshake deadline) with coalesced writes.
func dialWire(network, addr string) (net.Conn, error) {
	c, err := amqp.DefaultDial(30*time.Second)(network, addr)
	if err != nil {
		return nil, err
	}
	return newWireConn(c), nil
}

// wireConn is a net.Conn whose writes are coalesced by a writer goroutine;
// reads and deadlines are the socket's own. The writer's writes and the
// reads are raw system calls where the platform lets them be
// (wire_linux.go).
type wireConn struct {
	net.Conn

	mu       sync.Mutex
	more     sync.Cond // the writer waits on it for bytes (or close)
	room     sync.Cond // Writes wait on it while wireMaxPending bytes wait
	pending  []byte    // appended by Write, not yet taken by the writer
	spare    []byte    // the writer's last batch, reused
	idle     bool      // the writer waits for bytes
	blocked  int       // Writes waiting for room
	err      error     // the first write error, returned by every later Write
	closing  bool
	finished chan struct{} // closed when the writer has returned

	raw syscall.RawConn // the socket for raw reads and writes (wire_linux.go); nil: through Conn
}

func newWireConn(c net.Conn) *wireConn {
	w := &wireConn{Conn: c, finished: make(chan struct{}), raw: rawConnOf(c)}
	w.more.L, w.room.L = &w.mu, &w.mu
	go w.writer()
	return w
}

// Write buffers p for the writer; it blocks only while wireMaxPending
// bytes wait already.
func (w *wireConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	for w.err == nil && !w.closing && len(w.pending) >= wireMaxPending {
		w.blocked++
		w.room.Wait()
		w.blocked--
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return 0, err
	}
	if w.closing {
		w.mu.Unlock()
		return 0, net.ErrClosed
	}
	w.pending = append(w.pending, p...)
	wake := w.idle
	w.idle = false
	w.mu.Unlock()
	if wake {
		w.more.Signal()
	}
	return len(p), nil
}

// writer writes what Write buffered until the connection closes or a
// write fails.
func (w *wireConn) writer() {
	defer close(w.finished)
	w.mu.Lock()
	for {
		for len(w.pending) == 0 && !w.closing && w.err == nil {
			w.idle = true
			w.more.Wait()
		}
		w.idle = false
		if w.err != nil || len(w.pending) == 0 {
			w.mu.Unlock()
			return // closing with nothing left, or failed
		}
		batch := w.pending
		w.pending = w.spare[:0]
		if w.blocked > 0 {
			w.room.Broadcast()
		}
		w.mu.Unlock()

		err := w.write(batch)

		w.mu.Lock()
		if err != nil {
			w.err = err
			w.pending = nil
			w.room.Broadcast()
			w.mu.Unlock()
			_ = w.Conn.Close() // the reader sees it and amqp091-go shuts down
			return
		}
		if cap(batch) <= wireKeepBuf {
			w.spare = batch
		} else {
			w.spare = nil
		}
	}
}

// write hands the socket all of b.
func (w *wireConn) write(b []byte) error {
	if w.raw == nil {
		_, err := w.Conn.Write(b)
		return err
	}
	return writeRaw(w.raw, b)
}

// Read is the socket's, by a raw system call where it can be.
func (w *wireConn) Read(p []byte) (int, error) {
	if w.raw == nil {
		return w.Conn.Read(p)
	}
	return readRaw(w.raw, p)
}

// Close hands the socket what is buffered (bounded by wireCloseWait) and
// closes it.
func (w *wireConn) Close() error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		<-w.finished
		return nil
	}
	w.closing = true
	w.more.Signal()
	w.room.Broadcast()
	w.mu.Unlock()
	_ = w.Conn.SetWriteDeadline(time.Now().Add(wireCloseWait))
	<-w.finished
	return w.Conn.Close()
}
