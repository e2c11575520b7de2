package stomp

import (
	"strings"
	"testing"
)

// validCases are inputs every chunking must parse to the same frames.
var validCases = []struct {
	name  string
	setup setup
	input string
	want  []*Frame
}{
	{
		name:  "SEND with a text body",
		input: "SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello\x00",
		want:  []*Frame{frame(CmdSend, "hello", "destination", "/queue/a", "content-type", "text/plain")},
	},
	{
		name:  "frame without headers or body",
		input: "DISCONNECT\n\n\x00",
		want:  []*Frame{frame(CmdDisconnect, "")},
	},
	{
		name: "several frames in one chunk",
		input: "SUBSCRIBE\nid:0\ndestination:/topic/chat.room.5\n\n\x00" +
			"SEND\ndestination:/pub/chat\n\n{\"text\":\"hi\"}\x00" +
			"DISCONNECT\nreceipt:77\n\n\x00",
		want: []*Frame{
			frame(CmdSubscribe, "", "id", "0", "destination", "/topic/chat.room.5"),
			frame(CmdSend, `{"text":"hi"}`, "destination", "/pub/chat"),
			frame(CmdDisconnect, "", "receipt", "77"),
		},
	},
	{
		name:  "heart-beats before, between and after frames",
		input: "\n\r\n\nSEND\n\na\x00\n\r\n\n\nSEND\n\nb\x00\r\n\n",
		want:  []*Frame{frame(CmdSend, "a"), frame(CmdSend, "b")},
	},
	{
		name:  "stray NULs between frames are skipped like heart-beats",
		input: "\x00SEND\n\na\x00\x00\n\x00SEND\n\nb\x00\x00",
		want:  []*Frame{frame(CmdSend, "a"), frame(CmdSend, "b")},
	},
	{
		name:  "CR LF line endings",
		input: "SEND\r\ndestination:/queue/a\r\nreceipt:r1\r\n\r\nhi\x00\r\n",
		want:  []*Frame{frame(CmdSend, "hi", "destination", "/queue/a", "receipt", "r1")},
	},
	{
		name:  "content-length body containing NULs",
		input: "SEND\ndestination:/queue/bin\ncontent-length:6\n\na\x00b\x00\x00c\x00",
		want:  []*Frame{frame(CmdSend, "a\x00b\x00\x00c", "destination", "/queue/bin", "content-length", "6")},
	},
	{
		name:  "content-length:0 with an empty body",
		input: "SEND\ncontent-length:0\n\n\x00SEND\n\nx\x00",
		want:  []*Frame{frame(CmdSend, "", "content-length", "0"), frame(CmdSend, "x")},
	},
	{
		name:  "body without content-length ends at the first NUL",
		input: "SEND\ndestination:/queue/a\n\nab\x00\nRECEIPT\nreceipt-id:1\n\n\x00",
		want: []*Frame{
			frame(CmdSend, "ab", "destination", "/queue/a"),
			frame(CmdReceipt, "", "receipt-id", "1"),
		},
	},
	{
		name:  "the first content-length decides",
		input: "SEND\ncontent-length:3\ncontent-length:10\n\na\x00b\x00",
		want:  []*Frame{frame(CmdSend, "a\x00b", "content-length", "3", "content-length", "10")},
	},
	{
		name:  "1.0 content-length padded with spaces",
		input: "SEND\ncontent-length: 2 \n\nab\x00",
		want:  []*Frame{frame(CmdSend, "ab", "content-length", " 2 ")},
	},
	{
		name:  "repeated headers are all kept in order",
		input: "SEND\nfoo:first\nfoo:second\nbar:x\nfoo:third\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "foo", "first", "foo", "second", "bar", "x", "foo", "third")},
	},
	{
		name:  "empty header value",
		input: "SEND\nreceipt:\ndestination:/queue/a\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "receipt", "", "destination", "/queue/a")},
	},
	{
		name:  "values containing colons in 1.0",
		input: "SEND\nurl:http://example.com:80/x\nempty::\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "url", "http://example.com:80/x", "empty", ":")},
	},
	{
		name:  "raw colons in values tolerated in 1.2",
		setup: setup{version: V12},
		input: "SEND\nurl:http://example.com:80/x\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "url", "http://example.com:80/x")},
	},
	{
		name:  "1.0 keeps backslashes literal",
		setup: setup{version: V10},
		input: "SEND\npath:C:\\new\\cache\\r\\t\\\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "path", `C:\new\cache\r\t\`)},
	},
	{
		name:  "1.1 decodes \\n \\c \\\\ in names and values",
		setup: setup{version: V11},
		input: "SEND\na\\cb:line1\\nline2\\ckey\\\\\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "a:b", "line1\nline2:key\\")},
	},
	{
		name:  "1.2 decodes \\r",
		setup: setup{version: V12},
		input: "SEND\nx:a\\r\\nb\n\n\x00",
		want:  []*Frame{frame(CmdSend, "", "x", "a\r\nb")},
	},
	{
		name:  "CONNECT is never unescaped, even after SetVersion(V12)",
		setup: setup{version: V12},
		input: "CONNECT\naccept-version:1.2\nlogin:dom\\user\npasscode:p\\c\\t\\\n\n\x00",
		want:  []*Frame{frame(CmdConnect, "", "accept-version", "1.2", "login", `dom\user`, "passcode", `p\c\t\`)},
	},
	{
		name:  "STOMP and CONNECTED are never unescaped",
		setup: setup{version: V11},
		input: "STOMP\nlogin:a\\b\n\n\x00CONNECTED\nserver:x\\r\n\n\x00",
		want:  []*Frame{frame(CmdStomp, "", "login", `a\b`), frame(CmdConnected, "", "server", `x\r`)},
	},
	{
		name: "SetVersion from emit applies to the next frame in the same chunk",
		setup: setup{onFrame: func(p *Parser, f *Frame) {
			if f.Command == CmdConnect {
				p.SetVersion(V12)
			}
		}},
		input: "CONNECT\nlogin:a\\r\n\n\x00SEND\nx:a\\r\n\n\x00",
		want:  []*Frame{frame(CmdConnect, "", "login", `a\r`), frame(CmdSend, "", "x", "a\r")},
	},
	{
		name: "SetLimits from emit lifts the pre-login limit for the next frame",
		setup: setup{
			limits: Limits{MaxFrameBytes: 64},
			onFrame: func(p *Parser, f *Frame) {
				if f.Command == CmdConnect {
					p.SetLimits(Limits{})
				}
			},
		},
		input: "CONNECT\nlogin:guest\n\n\x00SEND\n\n" + strings.Repeat("x", 200) + "\x00",
		want:  []*Frame{frame(CmdConnect, "", "login", "guest"), frame(CmdSend, strings.Repeat("x", 200))},
	},
	{
		name:  "unknown commands are left to the session",
		input: "FOO\nbar:baz\n\n\x00send\n\n\x00",
		want:  []*Frame{frame("FOO", "", "bar", "baz"), frame("send", "")},
	},
	{
		name:  "frame exactly at the limits",
		setup: setup{limits: Limits{MaxFrameBytes: 33, MaxHeaders: 2, MaxHeaderLineBytes: 6, MaxBodyBytes: 4}},
		input: "SEND\r\nab:cde\r\nfg:hij\r\n\r\nbody\x00",
		want:  []*Frame{frame(CmdSend, "body", "ab", "cde", "fg", "hij")},
	},
	{
		name:  "content-length body exactly at the limits",
		setup: setup{limits: Limits{MaxFrameBytes: 30, MaxBodyBytes: 6}},
		input: "SEND\ncontent-length:6\n\n\x00\x00\x00\x00\x00\x00\x00",
		want:  []*Frame{frame(CmdSend, "\x00\x00\x00\x00\x00\x00", "content-length", "6")},
	},
}

func TestParseValidFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range chunkings([]byte(tc.input)) {
				got, p, err := feed(tc.setup, c.chunks)
				if err != nil {
					t.Fatalf("%s: unexpected error %v", c.name, err)
				}
				if diff, ok := sameFrames(got, tc.want, false); !ok {
					t.Fatalf("%s: %s", c.name, diff)
				}
				if n := p.Buffered(); n != 0 {
					t.Fatalf("%s: Buffered() = %d after complete frames", c.name, n)
				}
			}
		})
	}
}

func TestRepeatedHeadersFirstWins(t *testing.T) {
	t.Parallel()
	got, _, err := feed(setup{}, [][]byte{[]byte("MESSAGE\nack:1\nack:2\nreceipt:\n\n\x00")})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d frames, err %v", len(got), err)
	}
	f := got[0]
	if v := f.Get(HdrAck); v != "1" {
		t.Errorf("Get(ack) = %q, want the first value 1", v)
	}
	if v, ok := f.Lookup(HdrReceipt); !ok || v != "" {
		t.Errorf("Lookup(receipt) = %q, %v, want empty and present", v, ok)
	}
	if _, ok := f.Lookup(HdrDestination); ok {
		t.Errorf("Lookup(destination) found a header the frame lacks")
	}
}

func TestBufferedHoldsAnIncompleteFrame(t *testing.T) {
	t.Parallel()
	p := NewParser(Limits{})
	emitted := 0
	emit := func(*Frame) error { emitted++; return nil }
	steps := []struct {
		data     string
		buffered int
	}{
		{"\n\n", 0},
		{"SEND\ndest", 9},
		{"ination:/q\n\n", 21},
		{"abc", 24},
		{"\x00\n", 0},
		{"SEND\ncontent-length:4\n\nab", 25},
		{"cd", 27},
		{"\x00", 0},
	}
	for _, s := range steps {
		if err := p.Feed([]byte(s.data), emit); err != nil {
			t.Fatalf("Feed(%q): %v", s.data, err)
		}
		if got := p.Buffered(); got != s.buffered {
			t.Fatalf("after %q Buffered() = %d, want %d", s.data, got, s.buffered)
		}
	}
	if emitted != 2 {
		t.Fatalf("emitted %d frames, want 2", emitted)
	}
}

func TestZeroParserDecodesAs10WithDefaultLimits(t *testing.T) {
	t.Parallel()
	var p Parser
	var got []*Frame
	err := p.Feed([]byte("SEND\nx:a\\nb\n\nhi\x00"), func(f *Frame) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff, ok := sameFrames(got, []*Frame{frame(CmdSend, "hi", "x", `a\nb`)}, false); !ok {
		t.Fatal(diff)
	}
}
