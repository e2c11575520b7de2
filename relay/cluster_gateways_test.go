//go:build cluster

package relay_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// stompJSDir is the Node project of the @stomp/stompjs tests.
const stompJSDir = "../gateway/compat/testdata/stompjs"

// Two gateway processes on the cluster, driven by @stomp/stompjs
// (cluster.test.mjs): a topic published through gateway A reaches a
// subscriber on gateway B; then gateway A gets SIGTERM mid-stream and its
// clients (reconnectDelay set, a WebSocket factory that tries A, then B)
// reconnect through B and miss no queue message they got a RECEIPT for.
func TestClusterTwoGatewaysStompJS(t *testing.T) {
	c := requireCluster(t)
	node := gatewaytest.RequireNode(t, "stompjs cluster test",
		"run `make test-cluster`, which installs the client packages (npm ci --prefix gateway/compat/testdata/stompjs) first",
		stompJSDir, "@stomp/stompjs", "ws")
	bin := gatewayBinary(t)
	a := startGateway(t, bin, "A", c)
	b := startGateway(t, bin, "B", c)
	prefix := clusterPrefix()
	deleteClusterQueues(t, c, prefix+"cluster.work")

	stopFile := filepath.Join(t.TempDir(), "stop-a")
	stopped := make(chan time.Duration, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := os.Stat(stopFile); err == nil {
				start := time.Now()
				t.Log("SIGTERM to gateway A")
				a.terminate(t)
				stopped <- time.Since(start)
				return
			}
		}
	}()
	gatewaytest.RunNode(t, node, stompJSDir, []string{
		"GATEWAY_A=" + a.wsURL(), "GATEWAY_B=" + b.wsURL(), "PREFIX=" + prefix, "STOP_FILE=" + stopFile,
	}, 2*time.Minute, "node[cluster]: ", "--test", "--test-reporter=spec", "cluster.test.mjs")
	if _, err := os.Stat(stopFile); err != nil {
		t.Fatal("the script never asked for gateway A to stop")
	}
	t.Logf("gateway A exited %.1f s after SIGTERM", (<-stopped).Seconds())
	if !b.ready() {
		t.Error("gateway B is not ready after the run")
	}
}
