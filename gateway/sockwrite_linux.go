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
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&vs[0])), uintptr(len(vs)))
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
