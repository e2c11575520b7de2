package stomp

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// setup says how a test Parser is configured before and while it is fed.
type setup struct {
	version Version
	limits  Limits
	onFrame func(p *Parser, f *Frame) // called from emit, e.g. to SetVersion after CONNECT
}

// chunking is one way of cutting an input into Feed calls.
type chunking struct {
	name   string
	chunks [][]byte
}

// chunkings returns the ways every input is fed: whole, byte by byte, in two pieces at every
// split point, and in random pieces from fixed seeds.
func chunkings(data []byte) []chunking {
	out := []chunking{{name: "whole", chunks: [][]byte{data}}}
	bytewise := make([][]byte, len(data))
	for i := range data {
		bytewise[i] = data[i : i+1]
	}
	out = append(out, chunking{name: "byte by byte", chunks: bytewise})
	for i := 1; i < len(data); i++ {
		out = append(out, chunking{name: fmt.Sprintf("halves at %d", i), chunks: [][]byte{data[:i], data[i:]}})
	}
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		var chunks [][]byte
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(8))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		out = append(out, chunking{name: fmt.Sprintf("random seed %d", seed), chunks: chunks})
	}
	return out
}

// feed runs a fresh Parser over chunks and returns the frames it emitted and its error. Each chunk
// is a private copy that is scribbled over once Feed returns, so frames that alias the input show.
func feed(s setup, chunks [][]byte) ([]*Frame, *Parser, error) {
	p := NewParser(s.limits)
	if s.version != 0 {
		p.SetVersion(s.version)
	}
	var frames []*Frame
	emit := func(f *Frame) error {
		frames = append(frames, f)
		if s.onFrame != nil {
			s.onFrame(p, f)
		}
		return nil
	}
	for _, c := range chunks {
		own := bytes.Clone(c)
		err := p.Feed(own, emit)
		for i := range own {
			own[i] = 0xA5
		}
		if err != nil {
			return frames, p, err
		}
	}
	return frames, p, nil
}

// frame builds an expected Frame from a command, a body and header key/value pairs.
func frame(cmd, body string, kv ...string) *Frame {
	f := &Frame{Command: cmd}
	if body != "" {
		f.Body = []byte(body)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// sameFrame reports whether a and b have the same command, headers (in order) and body.
// With ignoreCL, content-length headers are left out, as AppendFrame rewrites them.
func sameFrame(a, b *Frame, ignoreCL bool) bool {
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) {
		return false
	}
	ha, hb := a.Headers, b.Headers
	if ignoreCL {
		ha, hb = withoutCL(ha), withoutCL(hb)
	}
	if len(ha) != len(hb) {
		return false
	}
	for i := range ha {
		if ha[i] != hb[i] {
			return false
		}
	}
	return true
}

func withoutCL(hs []Header) []Header {
	var out []Header
	for _, h := range hs {
		if h.Key != HdrContentLength {
			out = append(out, h)
		}
	}
	return out
}

// sameFrames compares two frame lists, describing the first difference.
func sameFrames(got, want []*Frame, ignoreCL bool) (string, bool) {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d frames %s, want %d %s", len(got), showFrames(got), len(want), showFrames(want)), false
	}
	for i := range got {
		if !sameFrame(got[i], want[i], ignoreCL) {
			return fmt.Sprintf("frame %d: got %s, want %s", i, showFrame(got[i]), showFrame(want[i])), false
		}
	}
	return "", true
}

func showFrame(f *Frame) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%q", f.Command)
	for _, h := range f.Headers {
		fmt.Fprintf(&b, " %q:%q", h.Key, h.Value)
	}
	fmt.Fprintf(&b, " body %q}", f.Body)
	return b.String()
}

func showFrames(fs []*Frame) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = showFrame(f)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sentinels lists the parse errors, for naming the class of an error.
var sentinels = []error{
	ErrFrameTooLarge, ErrTooManyHeaders, ErrHeaderTooLong, ErrBodyTooLarge, ErrBadEscape,
	ErrMalformedHeader, ErrBadContentLength, ErrBadEOL, ErrMissingNUL, ErrEmptyCommand,
}

// errClass returns the sentinel err wraps, nil for nil, or err itself when it wraps none.
func errClass(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
