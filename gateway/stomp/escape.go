package stomp

import (
	"fmt"
	"strings"
)

// unescape decodes the header escapes of esc in s, the name (header "") or value of header name.
// It returns s itself when there is nothing to decode, so most headers cost no allocation.
func unescape(s string, esc escaping, header string) (string, error) {
	if esc == escapeNone {
		return s, nil
	}
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) - 1)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", badEscape(`\`, header)
		}
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'c':
			b.WriteByte(':')
		case '\\':
			b.WriteByte('\\')
		case 'r':
			if esc != escape12 {
				return "", badEscape(`\r`, header)
			}
			b.WriteByte('\r')
		default:
			return "", badEscape(s[i-1:i+1], header)
		}
	}
	return b.String(), nil
}

// badEscape reports an undefined escape seq; it names the header but never quotes a value,
// which may be a secret.
func badEscape(seq, header string) error {
	if header == "" {
		return fmt.Errorf("%w: %q in a header name", ErrBadEscape, seq)
	}
	return fmt.Errorf("%w: %q in the value of header %q", ErrBadEscape, seq, clip(header))
}

// escapedLen returns how many bytes appendEscaped writes for s.
func escapedLen(s string, esc escaping) int {
	if esc == escapeNone {
		return len(s)
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !mayEscape[s[i]] {
			continue
		}
		switch s[i] {
		case '\\', '\n', ':':
			n++
		case '\r':
			if esc == escape12 {
				n++
			}
		}
	}
	return n
}

// appendEscaped appends s encoded for esc. Bytes that esc cannot carry without breaking the frame
// (LF and CR in 1.0 and connection frames, CR in 1.1, ':' in a 1.0 name) become a space: headers
// relayed from AMQP must never be able to inject lines into a client's frame.
func appendEscaped(dst []byte, s string, esc escaping, name bool) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if !mayEscape[s[i]] {
			continue
		}
		rep := replacement(s[i], esc, name)
		if rep == "" {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// mayEscape marks the bytes replacement may change, so common bytes cost one table lookup.
var mayEscape = [256]bool{'\n': true, '\r': true, ':': true, '\\': true}

// replacement returns what byte c is written as under esc, or "" when it is written as itself.
func replacement(c byte, esc escaping, name bool) string {
	switch c {
	case '\n':
		if esc == escapeNone {
			return " "
		}
		return `\n`
	case '\r':
		if esc == escape12 {
			return `\r`
		}
		return " "
	case ':':
		if esc != escapeNone {
			return `\c`
		}
		if name {
			return " "
		}
	case '\\':
		if esc != escapeNone {
			return `\\`
		}
	}
	return ""
}
