package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// amqpQueueRun is one amqp-throughput run on a fresh queue of RabbitMQ's
// named after name, with args after the URL and destination.
func amqpQueueRun(t *testing.T, r *throughputResult, name string, args ...string) (int, jsonReport) {
	t.Helper()
	rb := relaytest.Require(t)
	q := rb.Name(name)
	rb.DeleteQueue(q)
	return bench(t, r, append([]string{"amqp-throughput", "-url", relaytest.URL(), "-dest", "/queue/" + q}, args...)...)
}

func TestAMQPThroughputQueue(t *testing.T) {
	t.Parallel()
	var r throughputResult
	code, rep := amqpQueueRun(t, &r, "bench-amqp-queue", "-duration", "300ms", "-warmup", "100ms", "-window", "100")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Protocol != "amqp" || r.Sent == 0 || r.Confirmed != r.Sent || r.Delivered != r.Sent || r.Undelivered != 0 {
		t.Errorf("protocol %q: sent %d, confirmed %d, delivered %d, undelivered %d", r.Protocol, r.Sent, r.Confirmed, r.Delivered, r.Undelivered)
	}
	if r.SentPerSecond <= 0 || r.DeliveredPerSecond <= 0 {
		t.Errorf("sent %.0f/s, delivered %.0f/s", r.SentPerSecond, r.DeliveredPerSecond)
	}
}

func TestAMQPThroughputTopicFansOutToEverySubscriber(t *testing.T) {
	t.Parallel()
	rb := relaytest.Require(t)
	var r throughputResult
	code, rep := bench(t, &r, "amqp-throughput", "-url", relaytest.URL(), "-duration", "300ms", "-warmup", "100ms",
		"-dest", "/topic/"+rb.Name("bench-amqp-topic"), "-subscribers", "3", "-publishers", "2", "-ack", "client", "-prefetch", "50")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Delivered != 3*r.Sent || r.Expected != 3*r.Sent || r.Sent == 0 {
		t.Errorf("sent %d, delivered %d, expected %d: every subscriber gets every message", r.Sent, r.Delivered, r.Expected)
	}
}

func TestAMQPReportHidesThePassword(t *testing.T) {
	t.Parallel()
	var r throughputResult
	_, rep := amqpQueueRun(t, &r, "bench-amqp-pw", "-duration", "100ms", "-warmup", "0s")
	for _, u := range []string{rep.URL, rep.Flags["url"]} {
		if u != redactURL(relaytest.URL()) {
			t.Errorf("url %q in the report, want %q", u, redactURL(relaytest.URL()))
		}
	}
}

// With one multiple ack per 10 deliveries and a prefetch of 50, the
// consumer only keeps getting messages if its acks reach the broker.
func TestAMQPThroughputAcksAsTheGatewayDoes(t *testing.T) {
	t.Parallel()
	var r throughputResult
	code, rep := amqpQueueRun(t, &r, "bench-amqp-multiple", "-duration", "300ms", "-warmup", "100ms",
		"-ack", "multiple", "-ack-every", "10", "-prefetch", "50", "-mandatory", "-header", "x-stomp-user:bench", "-window", "100")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Ack != "multiple" || r.Sent <= 50 || r.Delivered != r.Sent || len(r.Errors) != 0 {
		t.Errorf("ack %q: sent %d, delivered %d, errors %v", r.Ack, r.Sent, r.Delivered, r.Errors)
	}
}

func TestAMQPThroughputRefusesAPrefetchItsAcksCannotFree(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code := run(context.Background(), []string{"amqp-throughput", "-url", "amqp://127.0.0.1:1/", "-ack", "multiple", "-ack-every", "100", "-prefetch", "50"}, &out, &out)
	if code != 2 || !strings.Contains(out.String(), "-prefetch 50 is below -ack-every 100") {
		t.Errorf("exit %d, want 2 and why:\n%s", code, out.String())
	}
}

func TestHeaderFlags(t *testing.T) {
	var h headerFlag
	for _, v := range []string{"x-stomp-user:alice", "empty:", "colon:a:b"} {
		if err := h.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	for _, bad := range []string{"novalue", ":value"} {
		if err := h.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	want := map[string]any{"x-stomp-user": "alice", "empty": "", "colon": "a:b"}
	got := h.table()
	if len(got) != len(want) {
		t.Fatalf("table %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("table[%q] = %v, want %v", k, got[k], v)
		}
	}
	if headerFlag(nil).table() != nil {
		t.Error("no -header flags make a table")
	}
}
