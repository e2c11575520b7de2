package relay_test

import (
	"strings"

	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// Short names for the shared RabbitMQ test support.
type (
	node = relaytest.Node
)

var (
	amqpURL       = relaytest.URL
	requireRabbit = relaytest.Require
	receive       = relaytest.Receive
	newRelay      = relaytest.NewRelay
	waitReady     = relaytest.WaitReady
	startNode     = relaytest.StartNode
	testLogger    = relaytest.Logger
	rabbitmqctl   = relaytest.Rabbitmqctl
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }
