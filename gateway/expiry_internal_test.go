package gateway

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Not one MESSAGE goes out once the credentials expire, however late the
// session's timer: a batch being written ends before its first MESSAGE
// (frames before it still go), a delivery arriving is not queued, and
// the session closes with "token expired".
func TestNoMessageIsWrittenAfterTheCredentialsExpire(t *testing.T) {
	s := newSession(testServer(t), newDiscard(), stomp.V12)
	message := outItem{message: true, b: []byte("MESSAGE\n\n\x00")}
	batch := []outItem{frameItem(stomp.CmdReceipt, []byte("RECEIPT\nreceipt-id:1\n\n\x00")), message, message}
	closing := func() *closeReason {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		return s.closing
	}

	s.expires.Store(time.Now().Add(time.Hour).UnixNano())
	if n := s.unexpired(batch); n != len(batch) {
		t.Fatalf("before expiry %d of %d items may be written", n, len(batch))
	}
	if r := closing(); r != nil {
		t.Fatalf("closed before expiry: %q", r.message)
	}

	s.expires.Store(time.Now().Add(-time.Millisecond).UnixNano())
	s.Deliver(delivery(nil))
	s.wmu.Lock()
	for _, it := range s.outq {
		if it.message {
			t.Error("a delivery after expiry was queued")
		}
	}
	s.wmu.Unlock()
	if n := s.unexpired(batch); n != 1 {
		t.Errorf("after expiry %d items may be written, want 1: the RECEIPT before the first MESSAGE", n)
	}
	if r := closing(); r == nil || r.message != "token expired" {
		t.Errorf("after expiry the session closes with %v, want token expired", r)
	}
}
