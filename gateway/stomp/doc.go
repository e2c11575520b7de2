// Package stomp is the STOMP 1.0/1.1/1.2 frame codec of the gateway: a streaming Parser that turns
// the bytes of a connection into Frames, and AppendFrame that turns Frames back into bytes.
//
// It knows the wire grammar and nothing of sessions: it splits frames, decodes header escapes per
// negotiated Version, honours content-length, skips heart-beat EOLs and enforces Limits before it
// allocates, so that a hostile client cannot make the gateway reserve memory it did not budget.
// It does not check command names, required headers or the order of frames; the session layer
// does, and reports them to the client as ERROR frames.
//
// The wire format (STOMP 1.2, accepted for every version):
//
//	frame  = command EOL *(header EOL) EOL *OCTET NUL *(EOL)
//	EOL    = [CR] LF
//	header = name ":" value
//
// # Concurrency
//
// The package starts no goroutines. A Parser belongs to one goroutine at a time, normally the
// session's reader; it calls emit synchronously from Feed, on that same goroutine:
//
//	session reader goroutine
//	  └─ conn.Read ─► Parser.Feed ─► emit(*Frame) ─► session state machine
//	                                   (may call SetVersion / SetLimits)
//
// Frames handed to emit belong to the callee. AppendFrame only reads its Frame, so many
// goroutines may encode the same Frame at once (fan-out encodes once per version) as long as
// nobody modifies it meanwhile.
//
// The package imports the standard library only, so it can be tested and fuzzed on its own.
package stomp
