package main

import (
	"context"
	"errors"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
)

// maxReasons bounds the distinct failure reasons kept; the rest are
// counted as "other", so a flood of odd errors cannot grow the report.
const maxReasons = 32

// failures counts errors by reason: the ERROR message header, or the
// error text without addresses and ports, so that 19,000 sessions failing
// the same way make one line.
type failures struct {
	mu       sync.Mutex
	byReason map[string]int
	n        int
}

func (f *failures) add(err error) {
	key := reason(err)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byReason == nil {
		f.byReason = map[string]int{}
	}
	if _, ok := f.byReason[key]; !ok && len(f.byReason) >= maxReasons {
		key = "other"
	}
	f.byReason[key]++
	f.n++
}

func (f *failures) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// counts returns the reasons, most frequent first.
func (f *failures) counts() []reasonCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]reasonCount, 0, len(f.byReason))
	for k, v := range f.byReason {
		out = append(out, reasonCount{Reason: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

type reasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// reason names an error without what differs between sessions (local
// ports in net errors).
func reason(err error) string {
	var se *stompError
	var ue *upgradeError
	var te *timeoutError
	var oe *net.OpError
	var sys *os.SyscallError
	prefix := ""
	for _, p := range []string{"dial: ", "write: ", "connection lost: "} {
		if strings.HasPrefix(err.Error(), p) {
			prefix = p
		}
	}
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.As(err, &ue):
		return ue.Error()
	case errors.As(err, &te):
		return te.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return prefix + "timeout"
	case errors.As(err, &sys):
		return prefix + sys.Error()
	case errors.As(err, &oe):
		return prefix + oe.Op + ": " + oe.Err.Error()
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
