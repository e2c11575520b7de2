package gateway

import (
	"runtime"
	"sync"
)

// flushers are the few goroutines, at most one per CPU, that write the
// queues of sessions whose clients keep up: a session with something to
// write is put in line (session.kickLocked), a flusher takes it, writes
// its queue in one system call without waiting (sockwrite.go) and, when
// more was queued meanwhile, puts it back at the end of the line, so one
// busy session never holds up the others. A delivery to a thousand
// subscribers is a thousand writes shared by the flushers: no goroutine
// started, no stack grown, no write deadline armed.
//
// A session whose socket does not take a whole batch (a slow client), or
// that has its close handshake to send, gets a goroutine of its own for
// that (session.flush), which waits for the socket by a deadline: a
// flusher never waits for a client. Flushers start as the first sessions
// need them and stay until the server shuts down; an idle session costs
// them nothing.
type flushers struct {
	mu      sync.Mutex
	more    sync.Cond // a flusher waits on it for sessions
	line    []*session
	head    int // line[head:] wait, oldest first
	idle    int // flushers waiting
	running int
	max     int
	stopped bool
	wg      sync.WaitGroup
}

// flushBatch is how many sessions a flusher takes from the line at once.
const flushBatch = 32

func newFlushers() *flushers {
	f := &flushers{max: runtime.GOMAXPROCS(0)}
	f.more.L = &f.mu
	return f
}

// add puts s in line; false when the flushers have stopped (the caller
// writes some other way).
func (f *flushers) add(s *session) bool {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return false
	}
	f.line = append(f.line, s)
	switch {
	case f.idle > 0:
		f.more.Signal()
	case f.running < f.max:
		f.running++
		f.wg.Add(1)
		go f.work()
	}
	f.mu.Unlock()
	return true
}

// work is one flusher.
func (f *flushers) work() {
	defer f.wg.Done()
	var batch [flushBatch]*session
	f.mu.Lock()
	for {
		for f.head == len(f.line) {
			if f.stopped {
				f.running--
				f.mu.Unlock()
				return
			}
			f.idle++
			f.more.Wait()
			f.idle--
		}
		// A share of the line, so the other flushers get some too.
		n := min(flushBatch, max(1, (len(f.line)-f.head)/f.max))
		copy(batch[:n], f.line[f.head:])
		clear(f.line[f.head : f.head+n])
		f.head += n
		if f.head == len(f.line) {
			f.line, f.head = f.line[:0], 0
		} else if f.head >= 1024 && 2*f.head >= len(f.line) {
			// A line that never empties would otherwise grow forever.
			k := copy(f.line, f.line[f.head:])
			clear(f.line[k:])
			f.line, f.head = f.line[:k], 0
		}
		f.mu.Unlock()
		for i, s := range batch[:n] {
			batch[i] = nil
			if s.flushTurn() {
				f.requeue(s)
			}
		}
		f.mu.Lock()
	}
}

// requeue puts s back at the end of the line; once the flushers have
// stopped, its own goroutine writes what is left.
func (f *flushers) requeue(s *session) {
	if !f.add(s) {
		go s.flush()
	}
}

// stop ends the flushers once the line is empty; sessions that need
// writing from then on get goroutines of their own.
func (f *flushers) stop() {
	f.mu.Lock()
	f.stopped = true
	f.more.Broadcast()
	f.mu.Unlock()
	f.wg.Wait()
}
