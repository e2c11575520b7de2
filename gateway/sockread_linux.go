package gateway

import (
	"syscall"
	"unsafe"
)

const canAwaitReadable = true

// readable reports whether a read on fd would not block: bytes, end of
// stream or an error are waiting. It peeks one byte without taking it and
// without blocking; false makes syscall.RawConn.Read park the goroutine in
// the runtime's poller until the socket is readable, then ask again.
func readable(fd uintptr) bool {
	var b byte
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b)), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
