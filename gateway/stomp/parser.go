package stomp

import "fmt"

// state is where the Parser is in the frame grammar.
type state uint8

const (
	stateIdle state = iota // between frames, skipping heart-beat EOLs
	stateHead              // receiving the command line and header lines
	stateBody              // receiving the body
	stateNUL               // content-length body complete, expecting its NUL
)

// keptHeadBytes is the largest head buffer kept for the next frame; a larger one, left by an
// unusually big header block, is dropped so an idle session holds little memory. The buffer is
// only used when a header block arrives split across Feed calls.
const keptHeadBytes = 1 << 10

// Parser is a streaming STOMP parser: Feed it the bytes of a connection in whatever pieces they
// arrive, and it calls back with each complete frame. It copies only what a frame still needs
// across Feed calls: the header block while it is incomplete, and the body into the Frame itself.
// The zero Parser is ready to use with DefaultLimits and version 1.0 decoding.
type Parser struct {
	limits  Limits  // for frames not started yet (SetLimits)
	version Version // for frames not started yet (SetVersion)
	err     error   // first error; Feed keeps returning it

	state state
	cr    bool // the last byte seen was a CR whose LF has not arrived yet

	// The frame being received. Its rules are fixed by its first byte, so the result does not
	// depend on how the stream was split.
	fl       Limits
	fv       Version
	head     []byte // header block held across Feed calls; empty when parsed in place
	headLen  int    // bytes of the header block so far, EOLs included
	lineLen  int    // bytes of the current line so far, EOL excluded
	lines    int    // complete lines so far, the command line included
	nHeaders int
	frame    *Frame
	cl       int // declared content-length, or -1 for a body that ends at the first NUL
}

// NewParser returns a Parser with the given limits, decoding as STOMP 1.0 until SetVersion.
func NewParser(l Limits) *Parser {
	return &Parser{limits: l, version: V10}
}

// SetVersion sets the escaping rules for the frames that follow (1.0 until it is called).
// CONNECT, STOMP and CONNECTED frames are never unescaped whatever the version. A frame already
// partly received keeps the rules it started with.
func (p *Parser) SetVersion(v Version) { p.version = v }

// SetLimits changes the limits for the frames that follow, e.g. to lift a small pre-login limit
// once CONNECT succeeded. A frame already partly received keeps the limits it started with.
func (p *Parser) SetLimits(l Limits) { p.limits = l }

// Feed consumes data, calling emit (never nil) for each complete frame in order. emit runs
// synchronously on the caller's goroutine, so a SetVersion or SetLimits it makes applies to the
// very next frame, even one in the same data. Bare EOLs (LF or CR LF) and NULs between frames
// are heart-beats and are skipped.
//
// Feed returns the first parse error, wrapping one of the package's sentinel errors, or the first
// error emit returns; after an error the Parser is unusable and Feed keeps returning that error.
// The Frame passed to emit is the callee's: the Parser never touches it again, and none of it
// aliases data.
func (p *Parser) Feed(data []byte, emit func(*Frame) error) error {
	if p.err != nil {
		return p.err
	}
	for len(data) > 0 {
		var (
			n    int
			done bool
			err  error
		)
		switch p.state {
		case stateIdle:
			n, err = p.skipHeartbeats(data)
		case stateHead:
			n, err = p.readHead(data)
		case stateBody:
			n, done, err = p.readBody(data)
		case stateNUL:
			n, done, err = p.readNUL(data)
		}
		data = data[n:]
		if done {
			f := p.frame
			p.frame, p.state = nil, stateIdle
			err = emit(f)
		}
		if err != nil {
			p.fail(err)
			return err
		}
	}
	return nil
}

// Buffered reports how many bytes of an incomplete frame the Parser holds (for tests and metrics).
func (p *Parser) Buffered() int {
	switch p.state {
	case stateHead:
		return p.headLen
	case stateBody, stateNUL:
		return p.headLen + len(p.frame.Body)
	}
	return 0
}

// fail makes the Parser unusable and lets go of the frame in progress.
func (p *Parser) fail(err error) {
	p.err = err
	p.head, p.frame = nil, nil
}

// skipHeartbeats consumes EOLs and NULs between frames and starts a frame at the first other byte.
// NULs are accepted as RabbitMQ does, for clients that end frames with an extra NUL.
func (p *Parser) skipHeartbeats(data []byte) (int, error) {
	i := 0
	if p.cr {
		if data[0] != '\n' {
			return 0, fmt.Errorf("%w: between frames", ErrBadEOL)
		}
		p.cr = false
		i = 1
	}
	for i < len(data) {
		switch data[i] {
		case '\n', 0:
			i++
		case '\r':
			if i+1 == len(data) {
				p.cr = true
				return len(data), nil
			}
			if data[i+1] != '\n' {
				return i, fmt.Errorf("%w: between frames", ErrBadEOL)
			}
			i += 2
		default:
			p.startFrame()
			return i, nil
		}
	}
	return i, nil
}

// startFrame fixes the rules of the frame whose first byte has arrived.
func (p *Parser) startFrame() {
	p.state = stateHead
	p.fl = p.limits.withDefaults()
	p.fv = p.version
	p.headLen, p.lineLen, p.lines, p.nHeaders = 0, 0, 0, 0
	p.cl = -1
}
