package stomp

// Defaults used for zero Limits fields. The frame size is RabbitMQ's stomp.max_frame_size
// (4 MiB since 3.12.2), so clients that work against Web-STOMP work here.
const (
	DefaultMaxFrameBytes      = 4 << 20
	DefaultMaxHeaders         = 100
	DefaultMaxHeaderLineBytes = 8 << 10
)

// Limits bound what one inbound frame may use, so that memory per session stays budgeted
// whatever a client sends. Zero (or negative) fields mean the defaults.
type Limits struct {
	// MaxFrameBytes bounds the whole frame: command line, header lines, the blank line, body
	// and the NUL. Heart-beat EOLs between frames do not count.
	MaxFrameBytes int
	// MaxHeaders bounds the number of header lines.
	MaxHeaders int
	// MaxHeaderLineBytes bounds one header line or the command line, not counting its EOL.
	MaxHeaderLineBytes int
	// MaxBodyBytes bounds the body; the default is MaxFrameBytes.
	MaxBodyBytes int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

// withDefaults fills zero or negative fields with their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderLineBytes <= 0 {
		l.MaxHeaderLineBytes = DefaultMaxHeaderLineBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = l.MaxFrameBytes
	}
	return l
}
