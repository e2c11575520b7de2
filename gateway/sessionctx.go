package gateway

import (
	"context"
	"slices"
	"time"
)

// A session is the context of every request it makes (authentication,
// broker calls): done when the session starts closing. It implements the
// AfterFunc hook the context package looks for, so a request's context
// derived from it (context.WithTimeout(s, ...)) is registered here only
// while the request runs: an idle session holds nothing for requests it
// made, where a context.WithCancel parent would keep a map of children
// and a channel for the session's life.

// afterFunc is a function to run when the session closes.
type afterFunc struct{ f func() }

func (s *session) Deadline() (time.Time, bool) { return time.Time{}, false }
func (s *session) Done() <-chan struct{}       { return s.done }
func (s *session) Value(any) any               { return nil }

func (s *session) Err() error {
	if s.closingNow() {
		return context.Canceled
	}
	return nil
}

// AfterFunc runs f in its own goroutine once the session closes, unless
// the returned stop is called first (it then reports true).
func (s *session) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	s.wmu.Lock()
	if s.closing != nil {
		s.wmu.Unlock()
		go f()
		return func() bool { return false }
	}
	s.afters = append(s.afters, a)
	s.wmu.Unlock()
	return func() bool {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		i := slices.Index(s.afters, a)
		if i < 0 {
			return false
		}
		s.afters = slices.Delete(s.afters, i, i+1)
		if len(s.afters) == 0 {
			s.afters = nil
		}
		return true
	}
}

// cancelRequestsLocked ends what the session's requests wait for: it
// starts the functions registered with AfterFunc. The session has just
// been marked closing, and s.wmu is held.
func (s *session) cancelRequestsLocked() {
	for _, a := range s.afters {
		go a.f()
	}
	s.afters = nil
}
