package stomp

import (
	"strings"
	"testing"
)

// benchmarkParse feeds one frame per iteration to a long-lived Parser, as a session does.
func benchmarkParse(b *testing.B, v Version, in []byte) {
	p := NewParser(Limits{})
	p.SetVersion(v)
	n := 0
	emit := func(*Frame) error { n++; return nil }
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Feed(in, emit); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no frame parsed")
	}
}

var smallSend = []byte("SEND\ndestination:/pub/chat\ncontent-type:application/json\nreceipt:42\n\n{\"room\":5,\"text\":\"hello\"}\x00")

// go test -run=^$ -bench=ParseSend ./gateway/stomp
func BenchmarkParseSend(b *testing.B) {
	benchmarkParse(b, V12, smallSend)
}

// go test -run=^$ -bench=ParseMessage1KiB ./gateway/stomp
func BenchmarkParseMessage1KiB(b *testing.B) {
	f := frame(CmdMessage, strings.Repeat("m", 1024),
		"destination", "/topic/chat.room.5", "message-id", "T_sub-0@@session-abc@@1",
		"subscription", "sub-0", "ack", "42", "content-type", "text/plain", "redelivered", "false")
	benchmarkParse(b, V12, AppendFrame(nil, f, V12))
}

// go test -run=^$ -bench=AppendFrame ./gateway/stomp
func BenchmarkAppendFrame(b *testing.B) {
	f := frame(CmdMessage, `{"room":5,"text":"hello"}`,
		"destination", "/topic/chat.room.5", "message-id", "T_sub-0@@session-abc@@1",
		"subscription", "sub-0", "content-type", "application/json", "x-path", "a:b\\c")
	buf := AppendFrame(nil, f, V12)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], f, V12)
	}
}

// TestParseSendAllocations keeps parsing a small SEND to a handful of allocations:
// the header block string, the Frame with its headers, and its body.
func TestParseSendAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	p := NewParser(Limits{})
	p.SetVersion(V12)
	emit := func(*Frame) error { return nil }
	n := testing.AllocsPerRun(100, func() {
		if err := p.Feed(smallSend, emit); err != nil {
			t.Fatal(err)
		}
	})
	if n > 3 {
		t.Fatalf("parsing a small SEND allocated %v times, want at most 3", n)
	}
}
