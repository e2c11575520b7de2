package gateway

import (
	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// closeReason says why a session ends: the STOMP ERROR the client gets
// (none when message is empty), the WebSocket close code, and how the log
// should rate it. Every way a session can end is one of these values, so
// the mapping from cause to what the client sees lives in one place.
type closeReason struct {
	message string         // ERROR "message" header; "" sends no ERROR
	why     string         // for the log when there is no ERROR message
	body    string         // ERROR body: detail safe to show the client
	code    int            // WebSocket close code
	receipt string         // receipt-id for the ERROR, when the failing frame asked for one
	headers []stomp.Header // more ERROR headers, e.g. version on a version mismatch
	// client is true when the client caused it (logged as a warning, not an error).
	client bool
	// dropQueued discards frames still queued for the client instead of
	// sending them first.
	dropQueued bool
}

func (r closeReason) withReceipt(id string) closeReason {
	r.receipt = id
	return r
}

func reasonTooManyFailures() *closeReason {
	return &closeReason{message: "too many failed logins", body: "Too many failed logins from this address; try again later.", code: websocket.ClosePolicyViolation, client: true}
}

// protocolError is a client mistake: ERROR then close 1002.
func protocolError(message, body string) *closeReason {
	return &closeReason{message: message, body: body, code: websocket.CloseProtocolError, client: true}
}

// brokerError is a failure the broker reported for the client's request.
func brokerError(message, body string) *closeReason {
	return &closeReason{message: message, body: body, code: websocket.ClosePolicyViolation, client: true}
}

var (
	reasonDisconnect   = closeReason{why: "client disconnected", code: websocket.CloseNormalClosure}
	reasonPeerGone     = closeReason{why: "connection lost", code: websocket.CloseNormalClosure}
	reasonShutdown     = closeReason{message: "server shutting down", body: "The gateway is restarting; reconnect to another node.", code: websocket.CloseGoingAway}
	reasonConnectSlow  = closeReason{message: "connect timeout", body: "No CONNECT frame arrived in time.", code: websocket.ClosePolicyViolation, client: true}
	reasonHeartbeat    = closeReason{message: "heart-beat timeout", body: "Nothing arrived from the client within the negotiated heart-beat interval.", code: websocket.ClosePolicyViolation, client: true}
	reasonSlowConsumer = closeReason{message: "slow consumer", body: "The client did not read its messages fast enough; unacknowledged messages will be redelivered.", code: websocket.ClosePolicyViolation, client: true, dropQueued: true}
	reasonTooBig       = closeReason{message: "frame too large", code: websocket.CloseMessageTooBig, client: true}
	reasonInternal     = closeReason{message: "internal error", body: "The gateway failed to process the request.", code: websocket.CloseInternalServerErr}
	reasonTokenExpired = closeReason{message: "token expired", body: "The credentials of this session expired; reconnect with new ones.", code: websocket.ClosePolicyViolation, client: true, dropQueued: true}
	reasonBrokerLost   = closeReason{message: "broker unavailable", body: "The connection to the message broker was lost.", code: websocket.CloseTryAgainLater}
)
