package relay_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// TestMain fails the run when a test leaves goroutines behind: a consumer
// loop that outlived its subscription, a link supervisor not stopped. The
// gateways the tests start share one idle poller for the life of the
// process, which is no leak.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, gatewaytest.IgnoreIdlePoller)
}
