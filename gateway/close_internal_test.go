package gateway

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// writesTransport is a socket that records every write it is asked for,
// each as the kinds and commands of its items, and a goodbye written on
// its own as a write of "close" alone.
type writesTransport struct {
	*discardTransport
	mu     sync.Mutex
	writes [][]string
}

func (t *writesTransport) record(items []outItem) {
	var w []string
	for _, it := range items {
		switch it.kind {
		case outClose:
			w = append(w, "close")
		case outFrame:
			w = append(w, it.cmd)
		}
	}
	if w == nil {
		return // a flush of what an earlier write kept: nothing new
	}
	t.mu.Lock()
	t.writes = append(t.writes, w)
	t.mu.Unlock()
}

func (t *writesTransport) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.writes)
}

func (t *writesTransport) writeBatch(items []outItem, _ time.Time) error {
	t.record(items)
	return nil
}

func (t *writesTransport) tryBatch(items []outItem) (bool, error) {
	t.record(items)
	return true, nil
}

func (t *writesTransport) goodbye(int, string, time.Time) {
	t.record([]outItem{{kind: outClose}})
	t.close()
}

// A session's last frame and the WebSocket close handshake go out in one
// write: a client that connects, DISCONNECTs and goes (the connects
// benchmark, and every page a browser leaves) costs one system call, one
// wake of the client, fewer. The same for an ERROR.
func TestTheLastFrameAndTheCloseGoOutInOneWrite(t *testing.T) {
	for _, c := range []struct {
		name string
		last []byte // the frame after CONNECT that ends the session
		want string // the session's last write
	}{
		{"DISCONNECT with a receipt", frameBytes(stomp.CmdDisconnect, "receipt:bye"), "RECEIPT close"},
		{"a frame the gateway refuses", frameBytes("BOGUS"), "ERROR close"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := &writesTransport{discardTransport: newDiscard()}
			srv := testServer(t)
			s := newSession(srv, tr, stomp.V12)
			if !srv.add(s) {
				t.Fatal("draining")
			}
			ran := make(chan struct{})
			go func() {
				defer close(ran)
				s.run()
			}()
			tr.in <- frameBytes(stomp.CmdConnect, "accept-version:1.2", "host:/")
			// As a client does: the next frame once CONNECTED is in.
			for deadline := time.Now().Add(10 * time.Second); tr.count() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no CONNECTED")
				}
			}
			tr.in <- c.last
			select {
			case <-ran:
			case <-time.After(10 * time.Second):
				t.Fatal("the session did not end")
			}
			tr.mu.Lock()
			defer tr.mu.Unlock()
			var got []string
			for _, w := range tr.writes {
				got = append(got, strings.Join(w, " "))
			}
			if len(got) != 2 || got[0] != stomp.CmdConnected || got[1] != c.want {
				t.Errorf("writes %q, want [%q %q]", got, stomp.CmdConnected, c.want)
			}
		})
	}
}
