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
//	reader (session.serve) only while the client is sending: reads the
//	                       transport, parses frames, runs the state machine.
//	                       A session with nothing to read parks (park.go):
//	                       the one idle poller goroutine watches its socket,
//	                       and a new reader starts when bytes arrive or the
//	                       session must close. (TLS and non-Linux: one
//	                       reader for the session's whole life.)
//	flusher (session.flush) only while a write must wait for the socket (a
//	                       slow client, TLS) or the close handshake is
//	                       due: drains the outbound queue by deadlines,
//	                       then exits. Writes that the socket takes at once
//	                       are done by the server's flushers instead.
//	handshake (Server.handshake) STOMP over TLS only, before the session
//	                       exists: the TLS handshake, bounded by
//	                       ConnectTimeout from accept and by Shutdown
//
// Memory per idle session. The budget is 8 KB of the process's RSS for a
// session that connected and subscribed once and is now silent (issue 13;
// RabbitMQ's Web-STOMP uses about 180 KB). What it holds, measured with a
// heap profile at 9,000 such sessions on RabbitMQ:
//
//	session struct, id, channels            ~0.7 KB
//	WebSocket transport and decoder state   ~0.2 KB
//	parser (and the SUBSCRIBE's header text) ~0.25 KB
//	the subscription, here and in the relay ~0.8 KB (its node-queue
//	                                          binding and topic index node)
//	the socket (net.FD, addresses)          ~0.2 KB
//	the outbound queue's array, kept        ~0.1 KB (write.go: spare)
//	no goroutine stack, no read or write buffer, no logger, no timer
//
// about 3 KB of live heap in all; RSS per session (stomp-bench idle, from
// the kernel's count) is 5.6 KB at 9,000 sessions and 4.9 KB at 18,600.
// Read and write buffers come from pools only while bytes move; the
// logger is built per line; the session is its own context.Context, so
// requests leave nothing behind. The freed garbage of a connect storm is
// returned to the OS by cmd/stomp-gateway's memory trimmer.
//
// Shared by all sessions: one ticker goroutine (ticker.go) for CONNECT
// timeouts, heart-beats and pings, and up to GOMAXPROCS flushers
// (flushers.go) that write every session's queue without waiting, in
// turn, so a fan-out to thousands of sessions starts no goroutine. Broker deliveries and publish confirms
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
