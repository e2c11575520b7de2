//go:build unix

package compat_test

import (
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
)

// stompPyDir holds the stomp.py client test, a unittest module run by
// Debian's /usr/bin/python3 with its python3-stomp package, which `make
// test` installs (make stomppy-deps).
const stompPyDir = "testdata/stomppy"

// TestStompPy runs testdata/stomppy/client_test.py, Python's stomp.py
// client with its own API, over the gateway's STOMP over TCP listener,
// against a gateway on RabbitMQ and against one on the embedded broker.
//
// Without /usr/bin/python3 able to import stomp it skips, loudly; with CI
// or STOMP_GATEWAY_REQUIRE_CLIENT_TESTS set it fails instead, so a CI run
// can never pass without it.
func TestStompPy(t *testing.T) {
	t.Parallel()
	python := gatewaytest.RequirePython(t, "stomp.py client test",
		"run `make test`, which installs it (make stomppy-deps: apt-get install python3-stomp) before go test", "stomp")

	t.Run("rabbitmq", func(t *testing.T) {
		t.Parallel()
		runStompPy(t, python, "rabbitmq", rabbitTarget(t))
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		runStompPy(t, python, "memory", memoryTarget(t))
	})
}

// runStompPy runs the unittest module against the gateway of st, served
// over TCP.
func runStompPy(t *testing.T, python, brokerName string, st scriptTarget) {
	t.Helper()
	addr := serveTCP(t, st.srv.GW)
	gatewaytest.RunPython(t, python, stompPyDir, append(st.vars(brokerName), "GATEWAY_ADDR="+addr),
		2*time.Minute, "stomp.py["+brokerName+"]: ", "-m", "unittest", "-v", "client_test")
}
