package gateway

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// Every error a broker can return is a reason the client can act on, never
// "internal error": client mistakes are told as such (1002/1008), broker
// trouble as such (1013). The body is the broker's detail without the
// port's sentinel, as RabbitMQ words it.
func TestEveryBrokerErrorMapsToAClientFacingReason(t *testing.T) {
	cases := []struct {
		err     error
		message string
		client  bool
		code    int
	}{
		{broker.ErrUnknownDestination, "Unknown destination", true, websocket.CloseProtocolError},
		{broker.ErrInvalidDestination, "Invalid destination", true, websocket.CloseProtocolError},
		{broker.ErrInvalidHeader, "Invalid header", true, websocket.CloseProtocolError},
		{broker.ErrDuplicateSubscription, "Duplicated subscription identifier", true, websocket.CloseProtocolError},
		{broker.ErrUnknownSubscription, "Subscription not found", true, websocket.CloseProtocolError},
		{broker.ErrUnknownDelivery, "Subscription not found", true, websocket.CloseProtocolError},
		{broker.ErrNotFound, "not_found", true, websocket.ClosePolicyViolation},
		{broker.ErrAccessRefused, "access_refused", true, websocket.ClosePolicyViolation},
		{broker.ErrPreconditionFailed, "precondition_failed", true, websocket.ClosePolicyViolation},
		{broker.ErrResourceLocked, "resource_locked", true, websocket.ClosePolicyViolation},
		{broker.ErrLimit, "resource limit", true, websocket.ClosePolicyViolation},
		{fmt.Errorf("%w: %w", broker.ErrLimit, broker.ErrUnavailable), "resource limit", false, websocket.CloseTryAgainLater},
		{broker.ErrNacked, "message rejected", true, websocket.ClosePolicyViolation},
		{broker.ErrUnavailable, "broker unavailable", false, websocket.CloseTryAgainLater},
		{broker.ErrClosed, "broker unavailable", false, websocket.CloseTryAgainLater},
	}
	sentinels := map[error]bool{}
	for _, tc := range cases {
		sentinels[tc.err] = true
		err := fmt.Errorf("%w: the detail", tc.err)
		r := brokerReason(err)
		if r.message != tc.message || r.client != tc.client || r.code != tc.code {
			t.Errorf("%v: ERROR %q (client %v, close %d), want %q (client %v, close %d)", tc.err, r.message, r.client, r.code, tc.message, tc.client, tc.code)
		}
		if r.client && r.body != "the detail" {
			t.Errorf("%v: body %q, want the detail alone", tc.err, r.body)
		}
	}
	// The list above covers every error the port declares.
	for _, e := range []error{broker.ErrInvalidDestination, broker.ErrUnknownDestination, broker.ErrInvalidHeader, broker.ErrNotFound,
		broker.ErrAccessRefused, broker.ErrPreconditionFailed, broker.ErrResourceLocked, broker.ErrUnknownDelivery,
		broker.ErrUnknownSubscription, broker.ErrDuplicateSubscription, broker.ErrNacked, broker.ErrLimit,
		broker.ErrUnavailable, broker.ErrClosed} {
		if !sentinels[e] {
			t.Errorf("no case for %v", e)
		}
	}
	// Only an error no broker should return is internal.
	if r := brokerReason(errors.New("a bug")); r.message != "internal error" {
		t.Errorf("an unknown error is %q", r.message)
	}
}
