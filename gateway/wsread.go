package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// wsDecoder reads the client-to-server side of a WebSocket (RFC 6455) from
// whatever pieces the socket gives, with no buffer of its own beyond a
// frame header: data payloads are unmasked in place and handed on as they
// arrive, control frames (at most 125 bytes) are gathered and handed on
// whole. Reading the socket ourselves, rather than through gorilla's
// buffered reader, is what lets an idle session hold no read buffer
// (sockread.go): between reads, the only state is this struct.
type wsDecoder struct {
	hdr     [14]byte // a frame header being received
	hdrLen  int
	inFrame bool   // a header was read; payload bytes follow
	op      byte   // the current frame's opcode
	fin     bool   // the current frame ends its message
	left    uint64 // payload bytes of the current frame still to come
	mask    [4]byte
	maskPos int
	inMsg   bool   // a fragmented data message is under way
	ctl     []byte // the current control frame's payload, gathered
}

// WebSocket opcodes the decoder handles beyond batch.go's.
const (
	wsContinuation = 0
	wsClose        = 8
)

// errWSClose is a close frame from the peer: the session ends.
var errWSClose = errors.New("websocket: close frame received")

// errWSProtocol is a frame RFC 6455 forbids; the session ends.
var errWSProtocol = errors.New("websocket: protocol error")

// decode consumes p, which it modifies (payloads are unmasked in place),
// calling data with each run of message payload, in order, and control
// with each complete ping or pong. A close frame ends decoding with
// errWSClose.
func (d *wsDecoder) decode(p []byte, data func([]byte), control func(op byte, payload []byte)) error {
	for {
		if !d.inFrame {
			if len(p) == 0 {
				return nil
			}
			n, err := d.header(p)
			p = p[n:]
			if err != nil {
				return err
			}
			if !d.inFrame {
				return nil // the header continues in the next read
			}
		}
		n := int(min(uint64(len(p)), d.left))
		chunk := p[:n]
		for i := range chunk {
			chunk[i] ^= d.mask[d.maskPos&3]
			d.maskPos++
		}
		d.left -= uint64(n)
		p = p[n:]
		if d.op >= wsClose {
			d.ctl = append(d.ctl, chunk...)
		} else if n > 0 {
			data(chunk)
		}
		if d.left > 0 {
			return nil // the payload continues in the next read
		}
		d.inFrame = false
		if d.op < wsClose {
			d.inMsg = !d.fin
			continue
		}
		payload := d.ctl
		d.ctl = nil // pings are rare: an idle session keeps no buffer
		if d.op == wsClose {
			return errWSClose
		}
		control(d.op, payload)
	}
}

// header gathers a frame header from p and returns how many bytes it
// used. It sets inFrame once the header is complete and valid.
func (d *wsDecoder) header(p []byte) (int, error) {
	used := 0
	for {
		need := 2
		if d.hdrLen >= 2 {
			need = 2 + 4 // and the mask
			switch d.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
		}
		if d.hdrLen >= need {
			break
		}
		if used == len(p) {
			return used, nil
		}
		k := copy(d.hdr[d.hdrLen:need], p[used:])
		d.hdrLen += k
		used += k
	}
	h := d.hdr[:d.hdrLen]
	d.hdrLen = 0
	fin, rsv, op := h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0f
	if rsv != 0 {
		return used, fmt.Errorf("%w: reserved bits set", errWSProtocol)
	}
	if h[1]&0x80 == 0 {
		return used, fmt.Errorf("%w: a client frame is not masked", errWSProtocol)
	}
	var n uint64
	switch l := h[1] & 0x7f; l {
	case 126:
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		n = binary.BigEndian.Uint64(h[2:10])
		if n>>63 != 0 {
			return used, fmt.Errorf("%w: payload length", errWSProtocol)
		}
	default:
		n = uint64(l)
	}
	copy(d.mask[:], h[len(h)-4:])
	switch op {
	case wsClose, wsPing, wsPong:
		if !fin || n > 125 {
			return used, fmt.Errorf("%w: control frame fragmented or over 125 bytes", errWSProtocol)
		}
	case wsContinuation:
		if !d.inMsg {
			return used, fmt.Errorf("%w: continuation without a message", errWSProtocol)
		}
	case wsText, wsBinary:
		if d.inMsg {
			return used, fmt.Errorf("%w: a message started inside another", errWSProtocol)
		}
	default:
		return used, fmt.Errorf("%w: opcode %d", errWSProtocol, op)
	}
	d.op, d.fin, d.left, d.maskPos, d.inFrame = op, fin, n, 0, true
	return used, nil
}
