package gateway

import (
	"encoding/binary"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// buggyTransport is a transport with a bug on demand: writing a frame
// that contains panicOn panics, and so does pings once pingBug is set.
// The test feeds it input and reads what was written.
type buggyTransport struct {
	in      chan []byte
	panicOn string
	pingBug atomic.Bool

	mu      sync.Mutex
	written []string
	code    int // the goodbye's close code
	gone    chan struct{}
	byeOnce sync.Once
}

func newBuggyTransport(panicOn string) *buggyTransport {
	return &buggyTransport{in: make(chan []byte, 16), panicOn: panicOn, gone: make(chan struct{})}
}

func (t *buggyTransport) idleFD() int { return -1 }
func (t *buggyTransport) evict()      {}

func (t *buggyTransport) read(bool) ([]byte, error) {
	select {
	case b := <-t.in:
		return b, nil
	case <-t.gone:
		return nil, io.EOF
	}
}

func (t *buggyTransport) writeBatch(items []outItem, _ time.Time) error {
	for _, it := range items {
		if it.kind == outClose {
			t.mu.Lock()
			t.code = int(binary.BigEndian.Uint16(it.b))
			t.mu.Unlock()
		}
		if it.kind != outFrame {
			continue
		}
		f := string(it.b) + string(it.tail)
		if t.panicOn != "" && strings.Contains(f, t.panicOn) {
			panic("bug while writing")
		}
		t.mu.Lock()
		t.written = append(t.written, f)
		t.mu.Unlock()
	}
	return nil
}

// tryBatch is writeBatch: the flushers' turn at a session (flushers.go)
// meets the same bugs.
func (t *buggyTransport) tryBatch(items []outItem) (bool, error) {
	return true, t.writeBatch(items, time.Time{})
}

func (t *buggyTransport) canTry() bool { return true }

func (t *buggyTransport) pings() bool {
	if t.pingBug.Load() {
		panic("bug in the ticker's check")
	}
	return true
}

func (t *buggyTransport) goodbye(code int, _ string, _ time.Time) {
	t.mu.Lock()
	t.code = code
	t.mu.Unlock()
	t.byeOnce.Do(func() { close(t.gone) })
}

func (t *buggyTransport) bye(time.Time) { t.byeOnce.Do(func() { close(t.gone) }) }

func (t *buggyTransport) close()             { t.byeOnce.Do(func() { close(t.gone) }) }
func (t *buggyTransport) remoteAddr() string { return "192.0.2.1:1234" }
func (t *buggyTransport) name() string       { return "test" }

// await waits until a written frame contains want and returns it.
func (t *buggyTransport) await(tb testing.TB, want string) string {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		t.mu.Lock()
		for _, f := range t.written {
			if strings.Contains(f, want) {
				t.mu.Unlock()
				return f
			}
		}
		t.mu.Unlock()
		if time.Now().After(deadline) {
			tb.Fatalf("nothing written contains %q; written: %q", want, t.written)
		}
		time.Sleep(time.Millisecond)
	}
}

func (t *buggyTransport) closeCode() int {
	<-t.gone
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.code
}

func frameBytes(cmd string, headers ...string) []byte {
	f := &stomp.Frame{Command: cmd}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		f.Add(k, v)
	}
	return stomp.AppendFrame(nil, f, stomp.V12)
}

// startBuggy runs a session over t on srv and connects it.
func startBuggy(tb testing.TB, srv *Server, t *buggyTransport) {
	tb.Helper()
	s := newSession(srv, t, stomp.V12)
	if !srv.add(s) {
		tb.Fatal("server draining")
	}
	go s.run()
	t.in <- frameBytes(stomp.CmdConnect, "accept-version:1.2", "host:/")
	t.await(tb, "CONNECTED")
}

func panics(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := mPanics.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// The flusher and the ticker run session code on goroutines of their own:
// a panic there closes that session (ERROR internal error, close 1011) and
// nothing else.
func TestPanicInTheFlusherOrTheTickerClosesOnlyThatSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		bug  func(victim *buggyTransport)
	}{
		{"panic while flushing", func(v *buggyTransport) {
			v.in <- frameBytes(stomp.CmdSend, "destination:/queue/q", "receipt:write-bug")
		}},
		{"panic in the ticker's check", func(v *buggyTransport) { v.pingBug.Store(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := memory.New()
			defer b.Close()
			cfg := DefaultConfig()
			cfg.HeartbeatMin = 20 * time.Millisecond
			srv, err := New(cfg, b, auth.AllowAll{}, nil, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := srv.Shutdown(t.Context()); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			}()
			bystander := newBuggyTransport("")
			startBuggy(t, srv, bystander)
			victim := newBuggyTransport("write-bug")
			startBuggy(t, srv, victim)
			before := panics(t)

			tc.bug(victim)
			victim.await(t, "message:internal error")
			if code := victim.closeCode(); code != 1011 {
				t.Errorf("close code %d, want 1011", code)
			}
			if after := panics(t); after < before+1 {
				t.Errorf("stomp_gateway_panics_total %v -> %v", before, after)
			}
			for srv.Sessions() != 1 {
				time.Sleep(time.Millisecond)
			}
			bystander.in <- frameBytes(stomp.CmdSend, "destination:/queue/q", "receipt:still-here")
			bystander.await(t, "receipt-id:still-here")
		})
	}
}
