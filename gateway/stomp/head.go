package stomp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// readHead consumes header-block bytes. It parses the block in place when it arrives within one
// Feed, and otherwise collects it in p.head, copying each byte once.
func (p *Parser) readHead(data []byte) (int, error) {
	n, done, err := p.scanHead(data)
	if err != nil {
		return n, err
	}
	if !done {
		p.head = append(p.head, data[:n]...)
		return n, nil
	}
	h := data[:n]
	if len(p.head) > 0 {
		p.head = append(p.head, h...)
		h = p.head
	}
	err = p.decodeHead(h)
	if cap(p.head) > keptHeadBytes {
		p.head = nil
	} else {
		p.head = p.head[:0]
	}
	return n, err
}

// scanHead looks for the blank line that ends the header block, checking EOLs, NULs and limits
// as the bytes arrive. A NUL there is rejected at once: it means a frame without its blank line,
// which would otherwise swallow the frames after it. It returns how many bytes of data belong to the block and whether it is complete.
//
// Each search is bounded by the nearest limit, so an over-long line or block fails as soon as the
// limit is crossed, and at the same stream offset however the stream was split.
func (p *Parser) scanHead(data []byte) (int, bool, error) {
	i := 0
	for i < len(data) {
		if p.cr {
			if data[i] != '\n' {
				return i, false, fmt.Errorf("%w: in line %d", ErrBadEOL, p.lines+1)
			}
			p.cr = false
			i++
			p.headLen++
			done, err := p.endLine()
			if err != nil || done {
				return i, done, err
			}
			continue
		}
		lineRoom := p.fl.MaxHeaderLineBytes - p.lineLen + 2 // content, then CR LF
		frameRoom := p.fl.MaxFrameBytes - p.headLen
		w := min(len(data)-i, lineRoom, frameRoom)
		seg := data[i : i+w]
		j := bytes.IndexByte(seg, '\n')
		if j >= 0 {
			seg = seg[:j]
		}
		k := bytes.IndexByte(seg, '\r')
		if z := bytes.IndexByte(seg, 0); z >= 0 && (k < 0 || z < k) {
			return i + z, false, fmt.Errorf("%w: NUL in line %d, the frame ended before its blank line", ErrMalformedHeader, p.lines+1)
		}
		if j >= 0 {
			content := j
			if k >= 0 {
				if k != j-1 {
					return i + k, false, fmt.Errorf("%w: in line %d", ErrBadEOL, p.lines+1)
				}
				content--
			}
			p.lineLen += content
			if p.lineLen > p.fl.MaxHeaderLineBytes {
				return i + j, false, p.lineTooLong()
			}
			p.headLen += j + 1
			i += j + 1
			done, err := p.endLine()
			if err != nil || done {
				return i, done, err
			}
			continue
		}
		if k >= 0 && k < w-1 {
			return i + k, false, fmt.Errorf("%w: in line %d", ErrBadEOL, p.lines+1)
		}
		switch w {
		case frameRoom:
			return i + w, false, fmt.Errorf("%w: header block exceeds %d bytes", ErrFrameTooLarge, p.fl.MaxFrameBytes)
		case lineRoom:
			return i + w, false, p.lineTooLong()
		}
		p.cr = k == w-1
		p.lineLen += w
		if p.cr {
			p.lineLen--
		}
		p.headLen += w
		i += w
	}
	return i, false, nil
}

// lineTooLong reports the current line as exceeding MaxHeaderLineBytes.
func (p *Parser) lineTooLong() error {
	return fmt.Errorf("%w: line %d exceeds %d bytes", ErrHeaderTooLong, p.lines+1, p.fl.MaxHeaderLineBytes)
}

// endLine accounts for a complete line and reports whether it was the blank line ending the block.
// The command line is never blank: blank lines before it are heart-beats.
func (p *Parser) endLine() (bool, error) {
	if p.lineLen == 0 {
		return true, nil
	}
	if p.lines > 0 {
		p.nHeaders++
		if p.nHeaders > p.fl.MaxHeaders {
			return false, fmt.Errorf("%w: more than %d", ErrTooManyHeaders, p.fl.MaxHeaders)
		}
	}
	p.lines++
	p.lineLen = 0
	return false, nil
}

// decodeHead turns a complete header block (EOLs checked by scanHead) into p.frame and decides
// how the body is read. All strings are slices of one copy of the block, except decoded escapes.
func (p *Parser) decodeHead(h []byte) error {
	s := string(h)
	cmd, s := cutLine(s)
	if strings.IndexByte(cmd, ':') >= 0 || blank(cmd) {
		return fmt.Errorf("%w: first line is %q", ErrEmptyCommand, clip(cmd))
	}
	esc := escapingFor(cmd, p.fv)
	var f *Frame
	switch n := p.nHeaders; {
	case n == 0:
		f = &Frame{}
	case n <= 4:
		// The usual frames: one allocation for it and its headers.
		fh := &frameWith4{}
		f = &fh.f
		f.Headers = fh.h[:0:n]
	case n <= 8:
		fh := &frameWith8{}
		f = &fh.f
		f.Headers = fh.h[:0:n]
	default:
		f = &Frame{Headers: make([]Header, 0, n)}
	}
	f.Command = cmd
	clRaw, clSeen := "", false
	for {
		var line string
		line, s = cutLine(s)
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%w: line %d has no colon", ErrMalformedHeader, len(f.Headers)+2)
		}
		if k == "" {
			return fmt.Errorf("%w: line %d has an empty header name", ErrMalformedHeader, len(f.Headers)+2)
		}
		var err error
		if k, err = unescape(k, esc, ""); err != nil {
			return err
		}
		if v, err = unescape(v, esc, k); err != nil {
			return err
		}
		if k == HdrContentLength && !clSeen {
			clRaw, clSeen = v, true
		}
		f.Headers = append(f.Headers, Header{Key: k, Value: v})
	}
	p.frame = f
	p.state = stateBody
	if !clSeen {
		return nil
	}
	cl, err := p.contentLength(clRaw)
	if err != nil {
		return err
	}
	p.cl = cl
	if cl == 0 {
		p.state = stateNUL
	}
	return nil
}

// contentLength parses and budgets a declared body length before any of it is stored, so that a
// huge declaration costs nothing. STOMP 1.0 peers often pad values, so 1.0 trims spaces and tabs.
func (p *Parser) contentLength(raw string) (int, error) {
	s := raw
	if p.fv < V11 {
		s = strings.Trim(s, " \t")
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadContentLength, clip(raw))
	}
	if n > uint64(p.fl.MaxBodyBytes) {
		return 0, fmt.Errorf("%w: content-length %d exceeds %d", ErrBodyTooLarge, n, p.fl.MaxBodyBytes)
	}
	if room := p.fl.MaxFrameBytes - p.headLen - 1; int(n) > room {
		return 0, fmt.Errorf("%w: content-length %d exceeds the %d bytes left of %d", ErrFrameTooLarge, n, room, p.fl.MaxFrameBytes)
	}
	return int(n), nil
}

// frameWith4 and frameWith8 are a frame and room for its headers,
// allocated at once.
type (
	frameWith4 struct {
		f Frame
		h [4]Header
	}
	frameWith8 struct {
		f Frame
		h [8]Header
	}
)

// blank reports whether s holds nothing but spaces and tabs.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// cutLine splits s after its first LF, dropping the EOL (scanHead guaranteed a CR only precedes LF).
func cutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// clip shortens client text quoted in an error, so a log line stays small.
func clip(s string) string {
	const most = 32
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}
