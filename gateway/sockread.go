package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// readBufPool holds read buffers. A session takes one only once its
// socket has bytes to read and gives it back before it waits again, so
// idle sessions hold none.
var readBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// errIdle is a read that would wait, returned when the session asked to
// park instead (or was evicted): its reader goroutine can hand the socket
// to the idle poller and end.
var errIdle = errors.New("nothing to read")

// longAgo is a read deadline that interrupts a waiting read at once.
var longAgo = time.Unix(1, 0)

// sockReader reads a connection for a session's reader goroutine. Where
// the platform lets it (Linux, a plain socket), it reads the socket itself
// and waits for it to be readable without a buffer, so a waiting reader
// holds nothing but its stack, and it can decline to wait at all
// (errIdle), so an idle session can give up its goroutine too
// (park_linux.go).
// Elsewhere (TLS, whose records need the tls.Conn's own buffering) it
// blocks in Read with a small buffer of its own.
type sockReader struct {
	c        net.Conn
	rc       syscall.RawConn // nil when the socket cannot be read directly
	fd       int             // the socket, or -1 when the session cannot park
	buf      *[]byte         // from readBufPool while bytes are being handled
	own      []byte          // the buffer when the socket cannot be read directly
	pending  error           // a read error that came with the last bytes
	evicting atomic.Bool     // evict set the read deadline to interrupt a wait

	dmu      sync.Mutex // orders evict's deadline and the session's own
	deadline time.Time  // the read deadline the session set (goodbye)
}

// init makes r the reader of c.
func (r *sockReader) init(c net.Conn) {
	r.c, r.fd = c, -1
	if sc, ok := c.(syscall.Conn); ok && canReadNow {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
			_ = rc.Control(func(fd uintptr) { r.fd = int(fd) })
		}
	}
	if r.rc == nil {
		r.own = make([]byte, 1024)
	}
}

// next returns the next bytes read, valid until the next call. With
// idleOK it returns errIdle rather than wait for them.
func (r *sockReader) next(idleOK bool) ([]byte, error) {
	r.release()
	if r.pending != nil {
		return nil, r.pending
	}
	b, err := r.read(idleOK)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && r.evicting.CompareAndSwap(true, false) {
		r.dmu.Lock()
		_ = r.c.SetReadDeadline(r.deadline)
		r.dmu.Unlock()
		return nil, errIdle
	}
	return b, err
}

// setReadDeadline bounds reads by t, eviction or not.
func (r *sockReader) setReadDeadline(t time.Time) {
	r.dmu.Lock()
	r.deadline = t
	_ = r.c.SetReadDeadline(t)
	r.dmu.Unlock()
}

func (r *sockReader) read(idleOK bool) ([]byte, error) {
	if r.rc == nil {
		n, err := r.c.Read(r.own)
		if n > 0 {
			r.pending = err
			return r.own[:n], nil
		}
		if err == nil {
			err = errors.New("empty read")
		}
		return nil, err
	}
	// Read at once into a pooled buffer; when nothing is there, give the
	// buffer back and wait in the runtime's poller (or, idleOK, not at
	// all). One system call when bytes are waiting, as they usually are
	// when the reader runs.
	var n int
	var rerr error
	idle := false
	err := r.rc.Read(func(fd uintptr) bool {
		if r.buf == nil {
			r.buf = readBufPool.Get().(*[]byte)
		}
		n, rerr = readNow(fd, *r.buf)
		if rerr != syscall.EAGAIN {
			return true
		}
		readBufPool.Put(r.buf)
		r.buf = nil
		idle = idleOK
		return idleOK
	})
	switch {
	case idle:
		return nil, errIdle
	case err != nil:
		return nil, err
	case rerr != nil:
		return nil, os.NewSyscallError("read", rerr)
	case n == 0:
		return nil, io.EOF
	}
	return (*r.buf)[:n], nil
}

// evict interrupts a read waiting for input: it returns errIdle.
func (r *sockReader) evict() {
	if r.fd >= 0 && r.evicting.CompareAndSwap(false, true) {
		r.dmu.Lock()
		_ = r.c.SetReadDeadline(longAgo)
		r.dmu.Unlock()
	}
}

// release gives the read buffer back.
func (r *sockReader) release() {
	if r.buf != nil {
		readBufPool.Put(r.buf)
		r.buf = nil
	}
}
