// Package gateway serves STOMP 1.0, 1.1 and 1.2 over WebSocket and runs
// each client's session against a broker.Broker.
//
// The packages beside it: gateway/stomp is the frame codec; gateway/broker
// is the port a broker implements (relay for RabbitMQ, relay/memory
// embedded); gateway/routing is RabbitMQ's destination semantics, which
// the gateway applies to authorize what a frame really touches and the
// brokers apply to carry it out, so all three agree.
//
// Goroutines per session:
//
//	reader (session.run)   one per session, for its whole life: reads the
//	                       transport, parses frames, runs the state machine
//	flusher (session.flush) only while there is something to write: drains
//	                       the outbound queue, then exits
//	handshake (Server.handshake) STOMP over TLS only, before the session
//	                       exists: the TLS handshake, bounded by
//	                       ConnectTimeout from accept and by Shutdown
//
// Shared by all sessions: one ticker goroutine (ticker.go) for CONNECT
// timeouts, heart-beats and pings. Broker deliveries and publish confirms
// arrive on the broker's goroutines; they lock session.mu (subscriptions
// and pending acks) or session.wmu (outbound queue) briefly and never
// block. The reader never holds session.mu while calling the broker.
//
// A panic in session code on any of these goroutines (reader, flusher,
// broker callbacks, the ticker's check of one session) ends that session
// only, as an internal error (panic.go).
//
// Every way a session ends is a closeReason (close.go), which fixes the
// ERROR frame and WebSocket close code the client sees. The slow-consumer
// policy is stated in write.go.
package gateway
