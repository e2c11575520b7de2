package stomp

import (
	"bytes"
	"testing"
)

func TestAppendFrameWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version Version
		frame   *Frame
		want    string
	}{
		{
			name:    "MESSAGE with a body gets content-length last",
			version: V12,
			frame:   frame(CmdMessage, "hi", "destination", "/queue/a", "message-id", "m-1"),
			want:    "MESSAGE\ndestination:/queue/a\nmessage-id:m-1\ncontent-length:2\n\nhi\x00",
		},
		{
			name:    "stale content-length is replaced",
			version: V12,
			frame:   frame(CmdMessage, "abc", "content-length", "99", "x", "y"),
			want:    "MESSAGE\nx:y\ncontent-length:3\n\nabc\x00",
		},
		{
			name:    "empty body has no content-length",
			version: V12,
			frame:   frame(CmdReceipt, "", "receipt-id", "7", "content-length", "5"),
			want:    "RECEIPT\nreceipt-id:7\n\n\x00",
		},
		{
			name:    "1.2 escapes \\r \\n \\c \\\\",
			version: V12,
			frame:   frame(CmdMessage, "", "a:b", "1\r\n2:3\\"),
			want:    "MESSAGE\na\\cb:1\\r\\n2\\c3\\\\\n\n\x00",
		},
		{
			name:    "1.1 escapes \\n \\c \\\\ and cannot carry CR",
			version: V11,
			frame:   frame(CmdMessage, "", "a:b", "1\r\n2:3\\"),
			want:    "MESSAGE\na\\cb:1 \\n2\\c3\\\\\n\n\x00",
		},
		{
			name:    "1.0 writes backslashes and value colons as they are",
			version: V10,
			frame:   frame(CmdMessage, "", "path", `C:\x`),
			want:    "MESSAGE\npath:C:\\x\n\n\x00",
		},
		{
			name:    "1.0 cannot inject lines through header values",
			version: V10,
			frame:   frame(CmdMessage, "", "a:b", "x\r\nevil:1"),
			want:    "MESSAGE\na b:x  evil:1\n\n\x00",
		},
		{
			name:    "CONNECTED is not escaped in 1.2",
			version: V12,
			frame:   frame(CmdConnected, "", "version", "1.2", "user-name", `dom\u:x`),
			want:    "CONNECTED\nversion:1.2\nuser-name:dom\\u:x\n\n\x00",
		},
		{
			name:    "headers with an empty name are dropped",
			version: V12,
			frame:   frame(CmdError, "", "", "x", "message", "bad"),
			want:    "ERROR\nmessage:bad\n\n\x00",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := AppendFrame(nil, tc.frame, tc.version)
			if string(got) != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
			if n := encodedLen(tc.frame, escapingFor(tc.frame.Command, tc.version)); n != len(got) {
				t.Fatalf("encodedLen = %d, wrote %d", n, len(got))
			}
			prefix := AppendFrame([]byte("\n"), tc.frame, tc.version)
			if string(prefix) != "\n"+tc.want {
				t.Fatalf("AppendFrame did not append to dst: %q", prefix)
			}
		})
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	t.Parallel()
	binary := "\x00\x01\x02\xff\x00\n\r\n\x00"
	tests := []struct {
		name    string
		version Version
		frame   *Frame
	}{
		{"1.0 plain headers and a binary body", V10, frame(CmdSend, binary, "destination", "/queue/a", "url", "http://h:1/p", "path", `C:\x`)},
		{"1.1 names and values with LF, colon and backslash", V11, frame(CmdMessage, binary, "k:\n\\", "v:\n\\:", "empty", "")},
		{"1.2 names and values with CR too", V12, frame(CmdMessage, binary, "k\r:\n\\", "v\r\n:\\", "repeat", "1", "repeat", "2")},
		{"1.2 CONNECT with backslashes", V12, frame(CmdConnect, "", "login", `dom\u`, "passcode", `p\c`)},
		{"1.2 frame without headers or body", V12, frame(CmdDisconnect, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wire := AppendFrame(nil, tc.frame, tc.version)
			for _, c := range chunkings(wire) {
				got, _, err := feed(setup{version: tc.version}, c.chunks)
				if err != nil {
					t.Fatalf("%s: %v parsing %q", c.name, err, wire)
				}
				if diff, ok := sameFrames(got, []*Frame{tc.frame}, true); !ok {
					t.Fatalf("%s: %s", c.name, diff)
				}
			}
		})
	}
}

func TestAppendFrameAllocatesOnlyToGrowDst(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	f := frame(CmdMessage, "hello world", "destination", "/topic/chat.room.5", "message-id", "T_1@@session-1@@1", "subscription", "sub-0", "x", "a:b")
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendFrame(buf[:0], f, V12) }); n != 0 {
		t.Errorf("AppendFrame into a large enough dst allocated %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = AppendFrame(nil, f, V12) }); n != 1 {
		t.Errorf("AppendFrame into nil allocated %v times, want 1", n)
	}
}

func TestAppendHeadAndTailTogetherAreAppendFrame(t *testing.T) {
	hs := []Header{{"subscription", "s:1"}, {"message-id", "m\n1"}, {"destination", "/topic/a"}, {"x", "y\\z"}, {"content-length", "9"}}
	body := []byte("bo\x00dy")
	for _, v := range []Version{V10, V11, V12} {
		for split := 0; split <= len(hs); split++ {
			for _, b := range [][]byte{nil, body} {
				whole := AppendFrame(nil, &Frame{Command: CmdMessage, Headers: hs, Body: b}, v)
				parts := AppendTail(AppendHead(nil, CmdMessage, hs[:split], v), CmdMessage, hs[split:], b, v)
				if !bytes.Equal(whole, parts) {
					t.Fatalf("%v split %d body %q:\n%q\n%q", v, split, b, whole, parts)
				}
			}
		}
	}
}
