package gateway

import (
	"sync"
	"syscall"
)

// idlePoller watches the sockets of parked sessions: sessions with nothing
// to read that gave up their reader goroutine (park.go). One goroutine
// waits in epoll for all of them, with each socket registered one-shot and
// level-triggered, so a socket that is readable when it is armed reports
// at once and a woken session is reported only once.
var idlePoller poller

type poller struct {
	once sync.Once
	epfd int
	err  error

	mu      sync.Mutex
	waiting map[int32]*session // by socket
}

func (p *poller) start() error {
	p.once.Do(func() {
		p.epfd, p.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if p.err == nil {
			p.waiting = make(map[int32]*session)
			go p.loop()
		}
	})
	return p.err
}

// watch arms fd for one report to s.wake.
func (p *poller) watch(fd int, s *session) error {
	if err := p.start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.waiting[int32(fd)] = s
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	if err == syscall.ENOENT {
		// First park on this socket. (A closed socket leaves every epoll
		// set by itself, so a reused number is new here too.)
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		p.forget(fd, s)
	}
	return err
}

// forget drops fd's entry if it is still s's.
func (p *poller) forget(fd int, s *session) {
	p.mu.Lock()
	if p.waiting[int32(fd)] == s {
		delete(p.waiting, int32(fd))
	}
	p.mu.Unlock()
}

func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			panic("stomp-gateway: epoll_wait: " + err.Error())
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			s := p.waiting[ev.Fd]
			delete(p.waiting, ev.Fd)
			p.mu.Unlock()
			if s != nil {
				s.wake()
			}
		}
	}
}
