package stomp

import (
	"bytes"
	"testing"
)

// fuzzLimits are small so that the fuzzer reaches every limit with short inputs.
var fuzzLimits = Limits{MaxFrameBytes: 2048, MaxHeaders: 8, MaxHeaderLineBytes: 128, MaxBodyBytes: 1024}

// FuzzParser checks that no input panics the Parser, that chunking never changes the result, and
// that every frame it accepts survives AppendFrame and a second parse unchanged.
//
//	go test -run=^$ -fuzz=FuzzParser -fuzztime=30s ./gateway/stomp
func FuzzParser(f *testing.F) {
	seeds := []struct {
		v     Version
		input string
	}{
		{V10, "CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:10000,10000\n\n\x00"},
		{V12, "STOMP\r\naccept-version:1.2\r\nhost:/\r\n\r\n\x00\r\n"},
		{V12, "SEND\ndestination:/queue/a\ncontent-type:application/json\ncontent-length:13\nreceipt:1\n\n{\"text\":\"hi\"}\x00\n"},
		{V12, "SUBSCRIBE\nid:0\ndestination:/topic/chat.room.5\nack:client-individual\n\n\x00\n\n"},
		{V11, "ACK\nmessage-id:m\\c1\nsubscription:0\n\n\x00"},
		{V12, "SEND\nx:a\\r\\n\\c\\\\\n\nbody\x00BEGIN\ntransaction:tx1\n\n\x00"},
		{V12, "SEND\ncontent-length:4\n\n\x00\x01\x00\x02\x00"},
		{V10, "\n\n\r\nDISCONNECT\nreceipt:77\n\n\x00\n"},
		{V12, "SEND\nx:\\t\n\n\x00"},
		{V11, "SEND\nx:\\r\n\n\x00"},
		{V12, "SEND\ncontent-length:99999999999999999999\n\n\x00"},
		{V12, "SEND\ncontent-length:2\n\nabc\x00"},
		{V12, "SEND\ndestination\n\n\x00"},
		{V12, "SEND\rx\n\n\x00"},
		{V12, ":\n\n\x00"},
		{V10, "SEND\n\n" + string(bytes.Repeat([]byte("x"), 1100))},
	}
	for _, s := range seeds {
		f.Add([]byte(s.input), uint8(s.v-V10))
	}
	f.Fuzz(func(t *testing.T, data []byte, v uint8) {
		s := setup{version: V10 + Version(v%3), limits: fuzzLimits}
		whole, _, wholeErr := feed(s, [][]byte{data})
		bytewise := make([][]byte, len(data))
		for i := range data {
			bytewise[i] = data[i : i+1]
		}
		single, _, singleErr := feed(s, bytewise)
		if errClass(wholeErr) != errClass(singleErr) {
			t.Fatalf("whole: %v, byte by byte: %v", wholeErr, singleErr)
		}
		if diff, ok := sameFrames(single, whole, false); !ok {
			t.Fatalf("byte by byte differs from whole: %s", diff)
		}
		a, b := len(data)/3, 2*len(data)/3
		thirds, _, thirdsErr := feed(s, [][]byte{data[:a], data[a:b], data[b:]})
		if diff, ok := sameFrames(thirds, whole, false); !ok || errClass(thirdsErr) != errClass(wholeErr) {
			t.Fatalf("thirds differ from whole: %s; errors %v, %v", diff, thirdsErr, wholeErr)
		}
		for _, fr := range whole {
			wire := AppendFrame(nil, fr, s.version)
			again, p, err := feed(setup{version: s.version}, [][]byte{wire})
			if err != nil {
				t.Fatalf("re-parsing %q: %v", wire, err)
			}
			if diff, ok := sameFrames(again, []*Frame{fr}, true); !ok {
				t.Fatalf("round trip of %q: %s", wire, diff)
			}
			if p.Buffered() != 0 {
				t.Fatalf("re-parsing %q left %d bytes buffered", wire, p.Buffered())
			}
		}
	})
}
