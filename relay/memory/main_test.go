package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

var _ broker.Broker = (*memory.Broker)(nil)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
