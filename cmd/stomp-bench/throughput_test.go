package main

import "testing"

func TestThroughputQueue(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r throughputResult
	code, rep := bench(t, &r, "throughput", "-url", gw.WSURL, "-duration", "1s", "-warmup", "200ms", "-dest", "/queue/bench.tq")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.SentPerSecond <= 0 || r.DeliveredPerSecond <= 0 {
		t.Errorf("sent %.0f/s, delivered %.0f/s", r.SentPerSecond, r.DeliveredPerSecond)
	}
	if r.Delivered != r.Sent || r.Undelivered != 0 || len(r.Errors) != 0 {
		t.Errorf("sent %d, delivered %d, undelivered %d, errors %v", r.Sent, r.Delivered, r.Undelivered, r.Errors)
	}
}

func TestThroughputTopicWithReceiptsAndClientAck(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r throughputResult
	code, rep := bench(t, &r, "throughput", "-url", gw.WSURL, "-duration", "1s", "-warmup", "100ms",
		"-dest", "/topic/bench.tt", "-publishers", "2", "-subscribers", "3", "-receipts", "-ack", "client", "-size", "512")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Confirmed != r.Sent || r.ConfirmedPerSecond <= 0 {
		t.Errorf("sent %d, confirmed %d (%.0f/s)", r.Sent, r.Confirmed, r.ConfirmedPerSecond)
	}
	if r.Delivered != 3*r.Sent || r.Expected != 3*r.Sent {
		t.Errorf("sent %d, delivered %d, expected %d: every subscriber gets every message", r.Sent, r.Delivered, r.Expected)
	}
}
