package gateway

import (
	"syscall"
	"unsafe"
)

const canReadNow = true

// readNow is one read(2) of the non-blocking socket fd; EAGAIN when
// nothing is waiting. It is a raw system call, as writeNow is: see there.
func readNow(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}
