package gateway

import (
	"net"
	"syscall"
	"time"
)

// sockWriter writes a session's batches to its socket, in one of two
// ways. The flushers (flushers.go) write without waiting: one writev the
// socket takes at once, no deadline to arm and no goroutine parked, which
// is what a delivery to a client that keeps up costs. When the socket
// takes only part of a batch (the client is slow, its socket buffer full),
// the rest is kept here and the session's own flusher goroutine writes it
// first, waiting for the socket by a deadline. Where the platform or the
// connection gives no raw socket (TLS, whose records need crypto/tls),
// every write is the waiting kind.
type sockWriter struct {
	c  net.Conn
	rc syscall.RawConn // nil when the socket cannot be written without waiting
	// rest is what a write without waiting left unwritten, to go first.
	rest []byte
}

func (w *sockWriter) init(c net.Conn) {
	w.c = c
	if _, plain := c.(*net.TCPConn); plain && canWriteNow {
		if sc, ok := c.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				w.rc = rc
			}
		}
	}
}

// canTry reports whether try can write without waiting.
func (w *sockWriter) canTry() bool { return w.rc != nil }

// try writes bb in one go without waiting and reports whether all of it
// went out; what did not is kept for write. It is only called when
// canTry, and never while bytes are kept.
func (w *sockWriter) try(bb *batchBufs) (done bool, err error) {
	bufs := bb.bufs
	var werr error
	cerr := w.rc.Control(func(fd uintptr) {
		// Control, not Write: Write would fail at once on a write
		// deadline a waiting write left behind, and this write needs no
		// deadline. The session's flushing flag keeps writers to one.
		for len(bufs) > 0 {
			n, again, err := writeNow(fd, bufs)
			if err != nil {
				werr = err
				return
			}
			bufs = consume(bufs, n)
			if again {
				return
			}
		}
	})
	if cerr != nil {
		return false, cerr
	}
	if werr != nil {
		return false, werr
	}
	if len(bufs) == 0 {
		return true, nil
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	w.rest = make([]byte, 0, n)
	for _, b := range bufs {
		w.rest = append(w.rest, b...)
	}
	return false, nil
}

// write writes what try left, then bb, by deadline.
func (w *sockWriter) write(bb *batchBufs, deadline time.Time) error {
	if w.rest != nil {
		bb.bufs = append(bb.bufs, nil)
		copy(bb.bufs[1:], bb.bufs)
		bb.bufs[0] = w.rest
		w.rest = nil
	}
	if len(bb.bufs) == 0 {
		return nil
	}
	return writeBuffers(w.c, bb, deadline)
}

// consume drops the first n bytes of bufs.
func consume(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}
