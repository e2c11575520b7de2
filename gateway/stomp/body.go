package stomp

import (
	"bytes"
	"fmt"
)

// eagerBodyBytes is the largest declared body allocated in full before it arrives. Larger
// bodies grow with what actually arrives, so a client that declares 4 MiB and sends nothing
// costs the gateway little.
const eagerBodyBytes = 64 << 10

// readBody consumes body bytes and reports whether the frame is complete.
func (p *Parser) readBody(data []byte) (int, bool, error) {
	if p.cl >= 0 {
		return p.readCountedBody(data), false, nil
	}
	return p.readBodyToNUL(data)
}

// readCountedBody stores up to the declared content-length, NULs included.
func (p *Parser) readCountedBody(data []byte) int {
	f := p.frame
	n := min(p.cl-len(f.Body), len(data))
	f.Body = appendBounded(f.Body, data[:n], p.cl)
	if len(f.Body) == p.cl {
		p.state = stateNUL
	}
	return n
}

// appendBounded appends src to b, growing b at most to limit bytes of capacity.
func appendBounded(b, src []byte, limit int) []byte {
	if need := len(b) + len(src); need > cap(b) {
		c := min(limit, max(2*cap(b), need, eagerBodyBytes))
		nb := make([]byte, len(b), c)
		copy(nb, b)
		b = nb
	}
	return append(b, src...)
}

// readBodyToNUL stores a body without content-length, which ends at the first NUL. The search
// stops at the body budget, so a body that never ends fails as soon as it is too large.
func (p *Parser) readBodyToNUL(data []byte) (int, bool, error) {
	f := p.frame
	frameRoom := p.fl.MaxFrameBytes - p.headLen - 1 // the NUL counts
	room := min(p.fl.MaxBodyBytes, frameRoom) - len(f.Body)
	w := min(len(data), room+1)
	if i := bytes.IndexByte(data[:w], 0); i >= 0 {
		if i > 0 {
			f.Body = append(f.Body, data[:i]...)
		}
		return i + 1, true, nil
	}
	if w == room+1 {
		if p.fl.MaxBodyBytes <= frameRoom {
			return w, false, fmt.Errorf("%w: no NUL within %d body bytes", ErrBodyTooLarge, p.fl.MaxBodyBytes)
		}
		return w, false, fmt.Errorf("%w: no NUL within %d bytes", ErrFrameTooLarge, p.fl.MaxFrameBytes)
	}
	f.Body = append(f.Body, data[:w]...)
	return w, false, nil
}

// readNUL checks the octet after a content-length body.
func (p *Parser) readNUL(data []byte) (int, bool, error) {
	if data[0] != 0 {
		return 0, false, fmt.Errorf("%w: content-length %d, then byte %#02x", ErrMissingNUL, p.cl, data[0])
	}
	return 1, true, nil
}
