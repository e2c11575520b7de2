package gateway

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// Writes are coalesced: the flusher hands the transport every item
// queued for the socket at once, and the transport writes them in one
// system call (writev on a plain connection), not one per frame. A burst
// of deliveries to a session costs one write, and the frame bytes are
// written from where they are (the MESSAGE tail shared by every local
// subscriber is never copied).

// batchBufs are the scratch of one batch write, pooled: an idle session
// holds none.
type batchBufs struct {
	hdrs []byte      // WebSocket frame headers, at most 10 bytes each
	bufs net.Buffers // what writev sends, in order
	flat []byte      // a batch copied into one buffer, for TLS
}

var batchPool = sync.Pool{New: func() any { return &batchBufs{} }}

// maxFlatBatch is the largest batch copied into one buffer for a
// connection without writev (TLS), where each buffer would be a record.
const maxFlatBatch = 64 << 10

// WebSocket opcodes.
const (
	wsText   = 1
	wsBinary = 2
	wsPing   = 9
	wsPong   = 10
)

// appendWSHeader appends the header of a final, unmasked (server to
// client) WebSocket frame with opcode op and an n-byte payload.
func appendWSHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
}

var eol = []byte{'\n'}

// writeBuffers writes bb to c by deadline: one writev on a plain TCP
// connection, one Write of a copy for small batches on others (TLS).
func writeBuffers(c net.Conn, bb *batchBufs, deadline time.Time) error {
	_ = c.SetWriteDeadline(deadline)
	if _, plain := c.(*net.TCPConn); !plain {
		n := 0
		for _, b := range bb.bufs {
			n += len(b)
		}
		if n <= maxFlatBatch {
			bb.flat = bb.flat[:0]
			for _, b := range bb.bufs {
				bb.flat = append(bb.flat, b...)
			}
			_, err := c.Write(bb.flat)
			return err
		}
	}
	bufs := bb.bufs // WriteTo consumes the slice header
	_, err := bufs.WriteTo(c)
	return err
}

// release returns bb to the pool without holding on to frame bytes.
func (bb *batchBufs) release() {
	clear(bb.bufs)
	bb.bufs, bb.hdrs = bb.bufs[:0], bb.hdrs[:0]
	if cap(bb.flat) > maxFlatBatch {
		bb.flat = nil
	}
	batchPool.Put(bb)
}
