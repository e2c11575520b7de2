//go:build unix

package compat_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// stompJSDir holds the Node project of the @stomp/stompjs client test; its
// node_modules come from `npm ci --prefix gateway/compat/testdata/stompjs`,
// which `make test` runs.
const stompJSDir = "testdata/stompjs"

// TestStompJS runs testdata/stompjs/client.test.mjs, the @stomp/stompjs
// client (on the ws package) under node's test runner, against a gateway
// on RabbitMQ and against one on the embedded broker.
//
// Without node or the installed packages it skips, loudly; with CI or
// STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead, so a CI run can
// never pass without it.
func TestStompJS(t *testing.T) {
	t.Parallel()
	node := requireStompJS(t)

	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		runStompJS(t, node, "rabbitmq", rabbitTarget(t))
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		runStompJS(t, node, "memory", memoryTarget(t))
	})
}

// runStompJS runs the Node test file against the gateway of st.
func runStompJS(t *testing.T, node, brokerName string, st scriptTarget) {
	t.Helper()
	gatewaytest.RunNode(t, node, stompJSDir, append(st.vars(brokerName), "GATEWAY_URL="+st.srv.WSURL),
		2*time.Minute, "node["+brokerName+"]: ", "--test", "--test-reporter=spec", "client.test.mjs")
}

// requireStompJS returns the path of node once the client packages are
// installed (see gatewaytest.Missing for when it skips or fails).
func requireStompJS(t *testing.T) string {
	t.Helper()
	return gatewaytest.RequireNode(t, "stompjs client test",
		"run `make test`, which installs the client packages (npm ci --prefix gateway/compat/testdata/stompjs) before go test",
		stompJSDir, "@stomp/stompjs", "ws")
}
