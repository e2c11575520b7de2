package stomp

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// errorCases are inputs every chunking must reject with the same sentinel, after emitting the
// same number of good frames. Inputs that stop early show the error comes before the rest.
var errorCases = []struct {
	name   string
	setup  setup
	input  string
	want   error
	frames int
}{
	{name: "undefined escape \\t in 1.2", setup: setup{version: V12}, input: "SEND\nx:a\\tb\n\n\x00", want: ErrBadEscape},
	{name: "\\r escape in 1.1", setup: setup{version: V11}, input: "SEND\nx:a\\rb\n\n\x00", want: ErrBadEscape},
	{name: "trailing lone backslash in a value", setup: setup{version: V12}, input: "SEND\nx:ab\\\n\n\x00", want: ErrBadEscape},
	{name: "bad escape in a header name", setup: setup{version: V11}, input: "SEND\na\\tb:x\n\n\x00", want: ErrBadEscape},
	{name: "bad escape after a good frame", setup: setup{version: V12}, input: "SEND\n\n\x00SEND\nx:\\q\n\n\x00", want: ErrBadEscape, frames: 1},
	{name: "header without colon", input: "SEND\ndestination\n\n\x00", want: ErrMalformedHeader},
	{name: "header with an empty name", input: "SEND\n:value\n\n\x00", want: ErrMalformedHeader},
	{name: "frame without its blank line", input: "SEND\ndestination:/queue/a\x00SEND\n\n\x00", want: ErrMalformedHeader},
	{name: "command without any EOL", input: "DISCONNECT\x00", want: ErrMalformedHeader},
	{name: "CR then NUL in a header", input: "SEND\nx:\r\x00\n\n\x00", want: ErrBadEOL},
	{name: "CR without LF inside a header", input: "SEND\nfoo:b\rar\n\n\x00", want: ErrBadEOL},
	{name: "CR without LF after the command", input: "SEND\rdestination:/q\n\n\x00", want: ErrBadEOL},
	{name: "CR without LF ending the header block", input: "SEND\n\rx", want: ErrBadEOL},
	{name: "CR without LF between frames", input: "SEND\n\n\x00\rSEND\n\n\x00", want: ErrBadEOL, frames: 1},
	{name: "content-length abc", input: "SEND\ncontent-length:abc\n\n\x00", want: ErrBadContentLength},
	{name: "content-length -1", input: "SEND\ncontent-length:-1\n\n\x00", want: ErrBadContentLength},
	{name: "content-length +1", input: "SEND\ncontent-length:+1\n\nx\x00", want: ErrBadContentLength},
	{name: "content-length empty", input: "SEND\ncontent-length:\n\n\x00", want: ErrBadContentLength},
	{name: "content-length 99999999999999999999", input: "SEND\ncontent-length:99999999999999999999\n\n", want: ErrBadContentLength},
	{name: "content-length padded in 1.2", setup: setup{version: V12}, input: "SEND\ncontent-length: 1\n\nx\x00", want: ErrBadContentLength},
	{name: "bad first content-length, good second", input: "SEND\ncontent-length:x\ncontent-length:1\n\nx\x00", want: ErrBadContentLength},
	{name: "missing NUL after content-length body", input: "SEND\ncontent-length:2\n\nabc\x00", want: ErrMissingNUL},
	{name: "content-length shorter than the body with NULs", input: "SEND\ncontent-length:1\n\na\x01\x00", want: ErrMissingNUL},
	{
		name:  "frame too large in the header block",
		setup: setup{limits: Limits{MaxFrameBytes: 32}},
		input: "SEND\na:1\nb:2\nc:3\nd:4\ne:5\nf:6\ng:7", // no blank line yet
		want:  ErrFrameTooLarge,
	},
	{
		name:  "frame too large by declared content-length",
		setup: setup{limits: Limits{MaxFrameBytes: 64, MaxBodyBytes: 1 << 20}},
		input: "SEND\ncontent-length:60\n\n",
		want:  ErrFrameTooLarge,
	},
	{
		name:  "frame too large by a streaming body",
		setup: setup{limits: Limits{MaxFrameBytes: 64}},
		input: "SEND\n\n" + strings.Repeat("x", 100),
		want:  ErrFrameTooLarge,
	},
	{
		name:  "body too large by declared content-length",
		setup: setup{limits: Limits{MaxBodyBytes: 1 << 20}},
		input: "SEND\ncontent-length:1000000000\n\n",
		want:  ErrBodyTooLarge,
	},
	{
		name:  "body too large by a streaming body without content-length",
		setup: setup{limits: Limits{MaxBodyBytes: 1024}},
		input: "SEND\ndestination:/queue/a\n\n" + strings.Repeat("x", 1100),
		want:  ErrBodyTooLarge,
	},
	{
		name:  "too many headers, before the header block ends",
		setup: setup{limits: Limits{MaxHeaders: 3}},
		input: "SEND\na:1\nb:2\nc:3\nd:4\n",
		want:  ErrTooManyHeaders,
	},
	{
		name:  "header line too long, before its EOL arrives",
		setup: setup{limits: Limits{MaxHeaderLineBytes: 16}},
		input: "SEND\ndestination:/queue/" + strings.Repeat("a", 100),
		want:  ErrHeaderTooLong,
	},
	{
		name:  "header line one byte too long with CR LF",
		setup: setup{limits: Limits{MaxHeaderLineBytes: 6}},
		input: "SEND\r\nab:cdef\r\n\r\n\x00",
		want:  ErrHeaderTooLong,
	},
	{
		name:  "command line too long",
		setup: setup{limits: Limits{MaxHeaderLineBytes: 8}},
		input: "SUBSCRIBEANDMORE",
		want:  ErrHeaderTooLong,
	},
	{name: "empty command: a line that is only a colon", input: ":\n\n\x00", want: ErrEmptyCommand},
	{name: "empty command: headers without a command", input: "destination:/queue/a\n\nhi\x00", want: ErrEmptyCommand},
	{name: "empty command: only spaces", input: "  \t\n\n\x00", want: ErrEmptyCommand},
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range chunkings([]byte(tc.input)) {
				got, p, err := feed(tc.setup, c.chunks)
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: error %v, want %v", c.name, err, tc.want)
				}
				if len(got) != tc.frames {
					t.Fatalf("%s: emitted %d frames before the error, want %d", c.name, len(got), tc.frames)
				}
				again := p.Feed([]byte("SEND\n\n\x00"), func(*Frame) error { t.Fatal("emit after an error"); return nil })
				if again != err {
					t.Fatalf("%s: Feed after the error returned %v, want the same %v", c.name, again, err)
				}
			}
		})
	}
}

func TestEmitErrorStopsTheParser(t *testing.T) {
	t.Parallel()
	stop := errors.New("session closed")
	p := NewParser(Limits{})
	calls := 0
	err := p.Feed([]byte("SEND\n\na\x00SEND\n\nb\x00"), func(*Frame) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("Feed = %v after %d emits, want %v after 1", err, calls, stop)
	}
	if err := p.Feed([]byte("SEND\n\n\x00"), func(*Frame) error { calls++; return nil }); err != stop || calls != 1 {
		t.Fatalf("Feed after an emit error = %v with %d emits, want %v and no emit", err, calls, stop)
	}
}

// TestHugeContentLengthAllocatesNothing checks a declared size is budgeted before memory is reserved.
func TestHugeContentLengthAllocatesNothing(t *testing.T) {
	p := NewParser(Limits{MaxBodyBytes: 1 << 20})
	in := []byte("SEND\ndestination:/queue/a\ncontent-length:1000000000\n\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := p.Feed(in, func(*Frame) error { return nil })
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("error %v, want ErrBodyTooLarge right after the header block", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("allocated %d bytes for a rejected content-length", n)
	}
}

// TestDeclaredBodyGrowsWithWhatArrives checks a large declared body that never comes costs little.
func TestDeclaredBodyGrowsWithWhatArrives(t *testing.T) {
	p := NewParser(Limits{})
	in := []byte("SEND\ncontent-length:3000000\n\n0123456789")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := p.Feed(in, func(*Frame) error { return nil })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 2*eagerBodyBytes {
		t.Fatalf("allocated %d bytes for 10 body bytes of 3 MB declared", n)
	}
}

func TestStreamingBodyFailsWhenItCrossesTheLimit(t *testing.T) {
	t.Parallel()
	p := NewParser(Limits{MaxBodyBytes: 1024})
	emit := func(*Frame) error { return nil }
	if err := p.Feed([]byte("SEND\n\n"), emit); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 1024; i++ {
		if err := p.Feed([]byte("x"), emit); err != nil {
			t.Fatalf("body byte %d: %v, want no error up to the limit", i, err)
		}
	}
	if err := p.Feed([]byte("x"), emit); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("body byte 1025: %v, want ErrBodyTooLarge", err)
	}
}

func TestLongHeaderLineFailsBeforeItsEOL(t *testing.T) {
	t.Parallel()
	const limit = 64
	p := NewParser(Limits{MaxHeaderLineBytes: limit})
	emit := func(*Frame) error { return nil }
	if err := p.Feed([]byte("SEND\n"), emit); err != nil {
		t.Fatal(err)
	}
	for i := 1; ; i++ {
		err := p.Feed([]byte("h"), emit)
		if err == nil && i <= limit+2 {
			continue
		}
		if !errors.Is(err, ErrHeaderTooLong) {
			t.Fatalf("line byte %d: %v, want ErrHeaderTooLong within %d bytes", i, err, limit+2)
		}
		return
	}
}
