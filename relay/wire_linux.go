package relay

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

const canRawIO = true

// rawConnOf is c's socket for reads and writes by raw system calls, as
// the gateway's own sockets are (gateway/sockwrite_linux.go says why: a
// system call through the runtime wakes its monitor thread, and one kind
// left on a hot path keeps it awake for all). nil when c is not a plain
// socket.
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readRaw is net.Conn's Read on rc: it waits for the socket to be
// readable (by its read deadline) through the runtime's poller, then
// reads what is there.
func readRaw(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var e syscall.Errno
	if err := rc.Read(func(fd uintptr) bool {
		for {
			r, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			if errno == syscall.EINTR {
				continue
			}
			n, e = int(r), errno
			return e != syscall.EAGAIN
		}
	}); err != nil {
		return 0, err
	}
	switch {
	case e != 0:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// writeRaw is net.Conn's Write of all of b on rc, waiting for room (by
// its write deadline) through the runtime's poller.
func writeRaw(rc syscall.RawConn, b []byte) error {
	var e syscall.Errno
	if err := rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch errno {
			case 0:
				b = b[r:]
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				e = errno
				return true
			}
		}
		return true
	}); err != nil {
		return err
	}
	if e != 0 {
		return e
	}
	return nil
}
