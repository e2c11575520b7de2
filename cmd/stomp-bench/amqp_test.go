package main

import (
	"testing"

	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

func TestAMQPThroughputQueue(t *testing.T) {
	t.Parallel()
	rb := relaytest.Require(t)
	q := rb.Name("bench-amqp-queue")
	rb.DeleteQueue(q)
	var r throughputResult
	code, rep := bench(t, &r, "amqp-throughput", "-url", relaytest.URL(), "-duration", "300ms", "-warmup", "100ms", "-dest", "/queue/"+q, "-window", "100")
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
	rb := relaytest.Require(t)
	q := rb.Name("bench-amqp-pw")
	rb.DeleteQueue(q)
	var r throughputResult
	_, rep := bench(t, &r, "amqp-throughput", "-url", relaytest.URL(), "-duration", "100ms", "-warmup", "0s", "-dest", "/queue/"+q)
	for _, u := range []string{rep.URL, rep.Flags["url"]} {
		if u != redactURL(relaytest.URL()) {
			t.Errorf("url %q in the report, want %q", u, redactURL(relaytest.URL()))
		}
	}
}
