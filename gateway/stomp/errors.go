package stomp

import "errors"

// Sentinel errors of the Parser. Feed wraps them with detail (which header, which escape, which
// limit) for the log; the session matches them with errors.Is to choose the ERROR message and the
// close code. Every one of them leaves the Parser unusable: the stream is out of sync.
var (
	// ErrFrameTooLarge means the frame would exceed Limits.MaxFrameBytes. It is reported as
	// soon as the frame crosses the limit, before the rest of it arrives.
	ErrFrameTooLarge = errors.New("stomp: frame too large")

	// ErrTooManyHeaders means the frame has more than Limits.MaxHeaders headers.
	ErrTooManyHeaders = errors.New("stomp: too many headers")

	// ErrHeaderTooLong means the command line or a header line exceeds
	// Limits.MaxHeaderLineBytes. It is reported while the line is still arriving.
	ErrHeaderTooLong = errors.New("stomp: header line too long")

	// ErrBodyTooLarge means the body exceeds Limits.MaxBodyBytes, either by its declared
	// content-length (reported before any body byte is stored) or while it streams.
	ErrBodyTooLarge = errors.New("stomp: body too large")

	// ErrBadEscape means a header name or value of a 1.1/1.2 frame holds a backslash sequence
	// that version does not define; the spec makes that fatal.
	ErrBadEscape = errors.New("stomp: undefined escape sequence")

	// ErrMalformedHeader means a header line has no colon or an empty name, or the header block
	// holds a NUL (a frame sent without its blank line).
	ErrMalformedHeader = errors.New("stomp: malformed header")

	// ErrBadContentLength means the first content-length header is not a non-negative decimal
	// integer that fits in 63 bits.
	ErrBadContentLength = errors.New("stomp: bad content-length")

	// ErrBadEOL means a CR was not followed by LF.
	ErrBadEOL = errors.New("stomp: CR not followed by LF")

	// ErrMissingNUL means the octet after a content-length body is not the NUL that ends the frame.
	ErrMissingNUL = errors.New("stomp: body not terminated by NUL")

	// ErrEmptyCommand means the frame has no command: its first line is blank apart from spaces
	// and tabs, or holds a colon (it is a header, so the command was left out).
	ErrEmptyCommand = errors.New("stomp: missing command")
)
