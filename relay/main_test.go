package relay_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// stopCluster stops the RabbitMQ cluster of the cluster tests (build tag
// cluster) if one was started; without the tag it does nothing.
var stopCluster = func() {}

// TestMain fails the run when a test leaves goroutines behind: a consumer
// loop that outlived its subscription, a link supervisor not stopped. The
// gateways the tests start share one idle poller for the life of the
// process, which is no leak.
func TestMain(m *testing.M) {
	code := m.Run()
	stopCluster()
	if code == 0 {
		if err := goleak.Find(gatewaytest.IgnoreIdlePoller); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
