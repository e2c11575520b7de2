package relay_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// stopCluster stops the RabbitMQ cluster of the cluster tests (build tag
// cluster) if one was started; without the tag it does nothing.
var stopCluster = func() {}

// TestMain fails the run when a test leaves goroutines behind: a consumer
// loop that outlived its subscription, a link supervisor not stopped.
func TestMain(m *testing.M) {
	code := m.Run()
	stopCluster()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
