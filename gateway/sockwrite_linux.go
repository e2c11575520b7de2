package gateway

import (
	"syscall"
	"unsafe"
)

const canWriteNow = true

// maxIovecs is the most buffers one writev takes (IOV_MAX).
const maxIovecs = 1024

// writeNow is one writev of bufs (at most maxIovecs of them) on the
// non-blocking socket fd: n bytes went out; again says the socket took
// no more (its buffer is full).
//
// It is a raw system call, without the runtime's entersyscall: the socket
// is non-blocking, so the call never waits, and entersyscall wakes the
// runtime's monitor thread (sysmon) from its deep sleep, after which it
// polls every 20 us for a millisecond or more. A gateway relaying a few
// thousand messages a second made a system call more often than that, so
// sysmon never slept (strace at 2,000 msg/s: 16,700 of its 20 us sleeps in
// 4 s; 1,700 with every call raw) and each of its wakes is a context
// switch: 28% of the gateway's CPU per message at that rate.
// Every socket read and write on the hot paths is raw for this reason
// (readNow; relay's wireConn for RabbitMQ's socket): one left in keeps
// sysmon awake for all.
func writeNow(fd uintptr, bufs [][]byte) (n int, again bool, err error) {
	var iov [64]syscall.Iovec
	vs := iov[:0]
	for _, b := range bufs[:min(len(bufs), maxIovecs)] {
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return 0, false, nil
	}
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&vs[0])), uintptr(len(vs)))
		switch e {
		case 0:
			return int(r), false, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, true, nil
		}
		return 0, false, e
	}
}
