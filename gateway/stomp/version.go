package stomp

import "strconv"

// Version is a negotiated STOMP protocol version. It decides how header escapes are read and
// written, so the session passes it to the Parser and to AppendFrame once CONNECT is done.
type Version int

// The versions the gateway speaks. The zero Version is not one of them; the codec treats it as V10.
const (
	V10 Version = iota + 1
	V11
	V12
)

// String returns the version as it appears in accept-version and version headers.
func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// ParseVersion reads one entry of an accept-version or version header ("1.0", "1.1" or "1.2").
// The session splits accept-version at commas; ParseVersion does not trim or split.
func ParseVersion(s string) (Version, bool) {
	switch s {
	case "1.0":
		return V10, true
	case "1.1":
		return V11, true
	case "1.2":
		return V12, true
	}
	return 0, false
}

// escaping names the header escape rules of one frame on the wire.
type escaping uint8

const (
	escapeNone escaping = iota // STOMP 1.0, and CONNECT/STOMP/CONNECTED in every version
	escape11                   // \n \c \\
	escape12                   // \n \c \\ \r
)

// escapingFor returns the rules for a frame with command cmd in version v. The spec exempts the
// connection frames so that a client can connect before it knows which version it will get.
func escapingFor(cmd string, v Version) escaping {
	switch cmd {
	case CmdConnect, CmdStomp, CmdConnected:
		return escapeNone
	}
	switch {
	case v >= V12:
		return escape12
	case v == V11:
		return escape11
	}
	return escapeNone
}
