package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// clientFrame encodes a frame as a client sends it: masked.
func clientFrame(fin bool, op byte, payload []byte, mask [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

// decodeAll feeds in to a fresh decoder in pieces of at most step bytes
// and returns the payload, the control frames seen (as "op:payload") and
// the error that ended decoding.
func decodeAll(in []byte, step int) (data []byte, controls []string, err error) {
	var d wsDecoder
	in = bytes.Clone(in)
	for len(in) > 0 && err == nil {
		n := min(step, len(in))
		err = d.decode(in[:n], func(p []byte) { data = append(data, p...) },
			func(op byte, p []byte) { controls = append(controls, fmt.Sprintf("%d:%s", op, p)) })
		in = in[n:]
	}
	return data, controls, err
}

func TestWSDecoderReassemblesFramesSplitAnywhere(t *testing.T) {
	mask := [4]byte{0x11, 0x22, 0x33, 0x44}
	big := bytes.Repeat([]byte("0123456789"), 7000) // a 64-bit length
	var in []byte
	in = append(in, clientFrame(true, wsText, []byte("CONNECT\n\n\x00"), mask)...)
	in = append(in, clientFrame(true, wsPing, nil, mask)...)
	in = append(in, clientFrame(false, wsText, []byte("SEND\ndestination:/queue/a\n\n"), mask)...)
	in = append(in, clientFrame(true, wsPing, []byte("are you there"), mask)...)
	in = append(in, clientFrame(false, wsContinuation, bytes.Repeat([]byte("x"), 300), mask)...) // a 16-bit length
	in = append(in, clientFrame(true, wsContinuation, []byte("\x00"), mask)...)
	in = append(in, clientFrame(true, wsText, nil, mask)...)
	in = append(in, clientFrame(true, wsPong, []byte("p"), mask)...)
	in = append(in, clientFrame(true, wsBinary, big, mask)...)
	want := "CONNECT\n\n\x00SEND\ndestination:/queue/a\n\n" + string(bytes.Repeat([]byte("x"), 300)) + "\x00" + string(big)
	for _, step := range []int{1, 2, 3, 7, 13, 100, 4096, len(in)} {
		data, controls, err := decodeAll(in, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if string(data) != want {
			t.Fatalf("step %d: payload differs (%d bytes, want %d)", step, len(data), len(want))
		}
		if fmt.Sprint(controls) != "[9: 9:are you there 10:p]" {
			t.Fatalf("step %d: controls %q", step, controls)
		}
	}
}

func TestWSDecoderEndsOnCloseAfterWhatCameBefore(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	in := append(clientFrame(true, wsText, []byte("DISCONNECT\n\n\x00"), mask), clientFrame(true, wsClose, []byte{3, 232}, mask)...)
	data, _, err := decodeAll(in, 5)
	if !errors.Is(err, errWSClose) || string(data) != "DISCONNECT\n\n\x00" {
		t.Fatalf("data %q, err %v", data, err)
	}
}

func TestWSDecoderRefusesWhatRFC6455Forbids(t *testing.T) {
	mask := [4]byte{9, 8, 7, 6}
	unmasked := clientFrame(true, wsText, []byte("hi"), mask)
	unmasked[1] &^= 0x80
	for name, in := range map[string][]byte{
		"unmasked frame":         unmasked,
		"reserved bits":          append([]byte{0x80 | 0x40 | wsText}, clientFrame(true, wsText, nil, mask)[1:]...),
		"unknown opcode":         clientFrame(true, 3, nil, mask),
		"continuation first":     clientFrame(true, wsContinuation, []byte("x"), mask),
		"message inside message": append(clientFrame(false, wsText, []byte("a"), mask), clientFrame(true, wsText, []byte("b"), mask)...),
		"fragmented ping":        clientFrame(false, wsPing, nil, mask),
		"ping over 125 bytes":    clientFrame(true, wsPing, make([]byte, 126), mask),
		"length over 2^63":       append([]byte{0x80 | wsBinary, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, mask[:]...),
	} {
		if _, _, err := decodeAll(in, 3); !errors.Is(err, errWSProtocol) {
			t.Errorf("%s: %v, want a protocol error", name, err)
		}
	}
}

// FuzzWSDecoder checks that the decoder never panics and that how the
// bytes are split across reads changes nothing.
func FuzzWSDecoder(f *testing.F) {
	mask := [4]byte{0xa, 0xb, 0xc, 0xd}
	f.Add(append(clientFrame(true, wsText, []byte("SEND\n\nx\x00"), mask), clientFrame(true, wsPing, []byte("p"), mask)...), 3)
	f.Add(clientFrame(false, wsBinary, make([]byte, 200), mask), 1)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		step = 1 + abs(step)%64
		d1, c1, e1 := decodeAll(in, len(in)+1)
		d2, c2, e2 := decodeAll(in, step)
		if !bytes.Equal(d1, d2) || fmt.Sprint(c1) != fmt.Sprint(c2) || fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("split every %d bytes: %q %q %v; whole: %q %q %v", step, d2, c2, e2, d1, c1, e1)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
