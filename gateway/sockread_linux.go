package gateway

import "syscall"

const canReadNow = true

// readNow is one read(2) of the non-blocking socket fd; EAGAIN when
// nothing is waiting.
func readNow(fd uintptr, b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), b)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}
