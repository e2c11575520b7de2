package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

// TestMain fails the run when a mode leaves a goroutine behind: a reader
// whose session was never closed, a publisher, the heart-beat sender. It
// also lets the test binary be the floor mode's reading process, which
// the mode starts from its own executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m, gatewaytest.IgnoreIdlePoller)
}

// startGateway runs a gateway with the embedded broker on a random port
// until the test ends.
func startGateway(t *testing.T) *gatewaytest.Server {
	t.Helper()
	b := memory.New()
	t.Cleanup(func() { b.Close() })
	return gatewaytest.Start(t, b, gatewaytest.TestConfig())
}

// serveTCP adds a STOMP over TCP listener to gw and returns its tcp:// URL.
func serveTCP(t *testing.T, gw *gatewaytest.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.GW.ServeTCP(ln) }()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "tcp://" + ln.Addr().String()
}

// closedPort returns the address of a port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// jsonReport is report as a test reads it back: the result stays raw
// until the test decodes it into its mode's type.
type jsonReport struct {
	Mode         string            `json:"mode"`
	URL          string            `json:"url"`
	Flags        map[string]string `json:"flags"`
	OK           bool              `json:"ok"`
	FailedChecks []string          `json:"failed_checks"`
	Result       json.RawMessage   `json:"result"`
}

// bench runs stomp-bench with args, -json and -quiet, decodes the result
// into result and returns the exit status and the report.
func bench(t *testing.T, result any, args ...string) (int, jsonReport) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, "-json", "-quiet"), &stdout, &stderr)
	t.Logf("stomp-bench %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	var r jsonReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout.String())
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		t.Fatalf("result: %v\n%s", err, r.Result)
	}
	if r.OK != (code == 0) {
		t.Errorf("ok %v with exit status %d", r.OK, code)
	}
	if _, ok := r.Flags["passcode"]; ok {
		t.Error("the report shows the passcode")
	}
	return code, r
}

func TestHelpNamesEveryModeAndFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, m := range modes {
		if !strings.Contains(out.String(), m.name) {
			t.Errorf("usage does not list %s:\n%s", m.name, out.String())
		}
	}
	for _, args := range [][]string{
		{"idle", "-n", "-dest", "-ack", "-rate", "-concurrency", "-hold", "-pid", "-server-rss-url", "-heartbeat", "-url", "-login", "-passcode", "-vhost", "-json"},
		{"throughput", "-publishers", "-subscribers", "-size", "-receipts", "-ack", "-duration", "-warmup", "-pid", "-broker-pid"},
		{"latency", "-rate", "-subscribers", "-duration", "-pid", "-broker-pid"},
		{"fanout", "-subscribers", "-rate", "-pid", "-broker-pid"},
		{"amqp-throughput", "-url", "-dest", "-publishers", "-subscribers", "-size", "-confirms", "-window", "-ack", "-prefetch", "-duration", "-warmup", "-broker-pid", "-json", "-timeout"},
		{"connects", "-concurrency", "-rate", "-duration"},
		{"floor", "-wake-rate", "-sockets", "-write-rate", "-size", "-duration", "-json"},
	} {
		var help bytes.Buffer
		if code := run(context.Background(), []string{args[0], "-h"}, &help, &help); code != 0 {
			t.Errorf("%s -h: exit %d", args[0], code)
		}
		for _, f := range args[1:] {
			if !strings.Contains(help.String(), "  "+f+" ") && !strings.Contains(help.String(), "  "+f+"\n") {
				t.Errorf("%s -h does not document %s:\n%s", args[0], f, help.String())
			}
		}
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"idle", "-url", "http://example.com/"},
		{"idle", "-ack", "sometimes"},
		{"idle", "-heartbeat", "10"},
		{"throughput", "extra"},
		{"throughput", "-pid", "999999999"},
		{"amqp-throughput", "-dest", "/temp-queue/x"},
		{"amqp-throughput", "-url", "http://example.com/"},
		{"amqp-throughput", "-ack", "client-individual"},
		{"amqp-throughput", "-login", "guest"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, out.String())
		}
	}
}
