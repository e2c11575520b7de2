package relay_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind: a consumer
// loop that outlived its subscription, a link supervisor not stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
