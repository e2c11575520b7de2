package stomp

import (
	"slices"
	"strconv"
)

// AppendFrame appends the wire encoding of f for version v to dst and returns it: command, LF,
// headers escaped as v requires (1.0 none; 1.1 \n \c \\; 1.2 also \r; never in CONNECT,
// CONNECTED or STOMP frames), a blank line, the body and a NUL. Lines end in LF only.
//
// It writes content-length itself, last, whenever the body is non-empty, and drops any
// content-length in f.Headers, so the header always matches the body and bodies with NULs
// survive. Headers with an empty name are dropped, and bytes v cannot carry are written as a
// space (see appendEscaped), so no header can break the framing. It allocates only to grow dst,
// at most once.
func AppendFrame(dst []byte, f *Frame, v Version) []byte {
	esc := escapingFor(f.Command, v)
	dst = slices.Grow(dst, encodedLen(f, esc))
	dst = appendEscaped(dst, f.Command, escapeNone, false)
	dst = append(dst, '\n')
	return appendTail(dst, f.Headers, f.Body, esc)
}

// AppendHead appends the first part of a frame: the command line and the
// headers hs. AppendTail appends the rest. Together they write exactly
// what AppendFrame writes for the frame with both header lists, so a
// message going to many subscribers, which differ only in a few headers,
// can have its large common part encoded once.
func AppendHead(dst []byte, cmd string, hs []Header, v Version) []byte {
	esc := escapingFor(cmd, v)
	dst = appendEscaped(dst, cmd, escapeNone, false)
	dst = append(dst, '\n')
	return appendHeaders(dst, hs, esc)
}

// AppendTail appends the headers hs of a cmd frame after those written by
// AppendHead, content-length, the blank line, the body and the NUL.
func AppendTail(dst []byte, cmd string, hs []Header, body []byte, v Version) []byte {
	return appendTail(dst, hs, body, escapingFor(cmd, v))
}

func appendHeaders(dst []byte, hs []Header, esc escaping) []byte {
	for _, h := range hs {
		if skipHeader(h.Key) {
			continue
		}
		dst = appendEscaped(dst, h.Key, esc, true)
		dst = append(dst, ':')
		dst = appendEscaped(dst, h.Value, esc, false)
		dst = append(dst, '\n')
	}
	return dst
}

func appendTail(dst []byte, hs []Header, body []byte, esc escaping) []byte {
	dst = appendHeaders(dst, hs, esc)
	if len(body) > 0 {
		dst = append(dst, HdrContentLength+":"...)
		dst = strconv.AppendInt(dst, int64(len(body)), 10)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, body...)
	return append(dst, 0)
}

// encodedLen returns how many bytes AppendFrame writes for f.
func encodedLen(f *Frame, esc escaping) int {
	n := len(f.Command) + 1
	for _, h := range f.Headers {
		if !skipHeader(h.Key) {
			n += escapedLen(h.Key, esc) + 1 + escapedLen(h.Value, esc) + 1
		}
	}
	if len(f.Body) > 0 {
		n += len(HdrContentLength) + 1 + decimalLen(len(f.Body)) + 1
	}
	return n + 1 + len(f.Body) + 1
}

// skipHeader reports whether AppendFrame leaves out a header named key.
func skipHeader(key string) bool {
	return key == "" || key == HdrContentLength
}

// decimalLen returns the number of digits of n >= 0.
func decimalLen(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// AppendHeader appends one header line of a cmd frame, name and value
// escaped as AppendFrame escapes them, so a caller can write a frame's
// head piece by piece without building a header list.
func AppendHeader(dst []byte, cmd, name, value string, v Version) []byte {
	esc := escapingFor(cmd, v)
	dst = appendEscaped(dst, name, esc, true)
	dst = append(dst, ':')
	dst = appendEscaped(dst, value, esc, false)
	return append(dst, '\n')
}

// AppendValue appends part of a header value of a cmd frame, escaped: a
// value made of parts is escaped as the whole would be.
func AppendValue(dst []byte, cmd, part string, v Version) []byte {
	return appendEscaped(dst, part, escapingFor(cmd, v), false)
}
