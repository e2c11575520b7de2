package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// payloads builds and reads message bodies: "<run> <seq> <at> " padded
// with dots to the requested size. run tells this run's messages from
// leftovers of an earlier one (durable queues keep them); at is the
// intended send time in nanoseconds since base, on this process's
// monotonic clock, so that latency is measured by one clock.
type payloads struct {
	run    []byte // run id and a space
	base   time.Time
	size   int
	filler []byte
}

func newPayloads(size int) *payloads {
	var id [4]byte
	_, _ = rand.Read(id[:])
	return &payloads{
		run:    []byte(hex.EncodeToString(id[:]) + " "),
		base:   time.Now(),
		size:   size,
		filler: bytes.Repeat([]byte{'.'}, size),
	}
}

// since returns the time since base, the clock of "at".
func (p *payloads) since() time.Duration { return time.Since(p.base) }

// append appends the body of message seq, intended to be sent at at.
func (p *payloads) append(dst []byte, seq uint64, at time.Duration) []byte {
	start := len(dst)
	dst = append(dst, p.run...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(at), 10)
	dst = append(dst, ' ')
	if pad := p.size - (len(dst) - start); pad > 0 {
		dst = append(dst, p.filler[:pad]...)
	}
	return dst
}

// parse reads a body; ok is false for a body of another run.
func (p *payloads) parse(b []byte) (seq uint64, at time.Duration, ok bool) {
	rest, ok := bytes.CutPrefix(b, p.run)
	if !ok {
		return 0, 0, false
	}
	s, rest, _ := bytes.Cut(rest, []byte{' '})
	a, _, _ := bytes.Cut(rest, []byte{' '})
	seq, err1 := strconv.ParseUint(string(s), 10, 64)
	ns, err2 := strconv.ParseInt(string(a), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return seq, time.Duration(ns), true
}
