package gateway

import (
	"fmt"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// The ERRORs a client of RabbitMQ's STOMP plugin already knows, with the
// plugin's message header and body word for word (rabbit_stomp_processor
// on rabbitmq-server's main branch; scripts and alerts match on them).
// Where the plugin formats a value with Erlang's ~tp, the value is
// written as Erlang prints it: an atom as 'SEND', a binary as <<"id">>.
// Every ERROR also carries the plugin's version header (errorFrame).

// supportedVersionsHeader is the version header of every ERROR.
const supportedVersionsHeader = "1.0,1.1,1.2"

// erlAtom writes a command as ~tp prints the atom the plugin holds.
func erlAtom(s string) string { return "'" + s + "'" }

// erlBinary writes s as ~tp prints an Erlang binary.
func erlBinary(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `<<"` + strings.ReplaceAll(s, `"`, `\"`) + `">>`
}

func errNotLoggedIn() *closeReason {
	return protocolError("Illegal command", "You must log in using CONNECT first")
}

func errBadCommand(cmd string) *closeReason {
	return protocolError("Bad command", fmt.Sprintf("Could not interpret command \"%s\"\n", cmd))
}

func errMissingDestination(cmd string) *closeReason {
	return protocolError("Missing destination", erlAtom(cmd)+" must include a 'destination' header\n")
}

func errNotAllowedOnSend(header string) *closeReason {
	return protocolError("Invalid header", fmt.Sprintf("'%s' is not allowed on 'SEND'.\n", header))
}

// errMissingAckHeader: an ACK or NACK without its id header (id in 1.2,
// message-id before).
func errMissingAckHeader(cmd, header string) *closeReason {
	return protocolError("Missing header", fmt.Sprintf("%s must include the %s header\n", erlAtom(cmd), erlBinary(header)))
}

// errInvalidAckHeader: an ack id that is no message id of the gateway's.
func errInvalidAckHeader(cmd, header string) *closeReason {
	return protocolError("Invalid header", fmt.Sprintf("%s must include a valid %s header\n", erlAtom(cmd), erlBinary(header)))
}

// errMessageNotFound: an ack id of no delivery awaiting settlement.
func errMessageNotFound(seq uint64) *closeReason {
	return protocolError("Message not found", fmt.Sprintf("unknown delivery tag %d\n", seq))
}

// consumerTag is the plugin's name of a subscription in its errors: T_<id>.
func consumerTag(id string) string { return "T_" + id }

func errDuplicateSubscription(id string) *closeReason {
	return protocolError("Duplicated subscription identifier", fmt.Sprintf("A subscription identified by '%s' already exists.", consumerTag(id)))
}

func errDurableWithoutID() *closeReason {
	return protocolError("Missing Header", "Header 'id' is required for durable subscriptions")
}

// errInvalidID: a subscription id with the temp queues' prefix. (The
// plugin says it of UNSUBSCRIBE; a SUBSCRIBE crashes its processor.)
func errInvalidID(cmd string) *closeReason {
	return protocolError("Invalid id", fmt.Sprintf("%s 'id' may not start with %s\n", cmd, routing.TempQueuePrefix))
}

func errMissingDestinationOrID() *closeReason {
	return protocolError("Missing destination or id", "UNSUBSCRIBE must include a 'destination' or 'id' header")
}

// subscriptionDescription is how the plugin names a subscription in its
// texts: id='x', or destination='d' for one without an id.
func subscriptionDescription(id string, byDestination bool) string {
	if byDestination {
		return erlBinary("destination='" + id + "'")
	}
	return erlBinary("id='" + id + "'")
}

func errNoSubscription(id string, byDestination bool) *closeReason {
	return protocolError("No subscription found", fmt.Sprintf("UNSUBSCRIBE must refer to an existing subscription.\nSubscription to %s not found.\n", subscriptionDescription(id, byDestination)))
}

func errMissingTransaction(cmd string) *closeReason {
	return protocolError("Missing transaction", erlAtom(cmd)+" must include a 'transaction' header\n")
}

func errBadTransaction(tx string) *closeReason {
	return protocolError("Bad transaction", fmt.Sprintf("Invalid transaction identifier: %s\n", erlBinary(tx)))
}

func errTransactionLimit(n int) *closeReason {
	return protocolError("Transaction limit exceeded", fmt.Sprintf("Too many concurrent transactions (limit %d)", n))
}

func errTransactionActions(n int) *closeReason {
	return protocolError("Transaction too large", fmt.Sprintf("Too many actions in transaction (limit %d)", n))
}

// errServerCancelled: a subscription the broker ended (its queue was
// deleted); the plugin names it in a subscription header too.
func errServerCancelled(id string) *closeReason {
	r := brokerError("Server cancelled subscription", fmt.Sprintf("The server has canceled a subscription.\nNo more messages will be delivered for %s.\n", subscriptionDescription(id, false)))
	r.headers = []stomp.Header{{Key: stomp.HdrSubscription, Value: id}}
	return r
}

// errAccessRefusedUser: the credentials were refused. The same for every
// reason (unknown user, wrong password, expired token), so it tells an
// attacker nothing.
func errAccessRefusedUser(login string) *closeReason {
	return &closeReason{message: "Bad CONNECT", body: fmt.Sprintf("Access refused for user '%s'", login), code: websocket.ClosePolicyViolation, client: true}
}

// errVHostDenied: the credentials are good, the virtual host is not theirs.
func errVHostDenied(vhost string) *closeReason {
	return &closeReason{message: "Bad CONNECT", body: fmt.Sprintf("Virtual host '%s' access denied", vhost), code: websocket.ClosePolicyViolation, client: true}
}
