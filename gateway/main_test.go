package gateway_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// TestMain fails the run when a test leaves goroutines behind: a session
// that does not end, a flusher stuck on a dead client, a ticker not
// stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, gatewaytest.IgnoreIdlePoller)
}
