package main

import "testing"

func TestLatencyOpenLoop(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r openLoopResult
	code, rep := bench(t, &r, "latency", "-url", gw.WSURL, "-rate", "200", "-duration", "1s", "-warmup", "200ms", "-dest", "/queue/bench.lat")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Sent != 240 || r.Delivered != 240 || r.Missing != 0 {
		t.Errorf("sent %d, delivered %d, missing %d; want 240 (1.2 s at 200/s)", r.Sent, r.Delivered, r.Missing)
	}
	l := r.Latency
	if l.Count != 200 {
		t.Errorf("%d timed messages, want the 200 of the measured second", l.Count)
	}
	if !(0 < l.P50MS && l.P50MS <= l.P90MS && l.P90MS <= l.P99MS && l.P99MS <= l.P999MS && l.P999MS <= l.MaxMS) {
		t.Errorf("percentiles out of order: %+v", l)
	}
	if r.SentPerSecond < 190 || r.SentPerSecond > 210 {
		t.Errorf("sent %.1f/s, want about 200", r.SentPerSecond)
	}
}

func TestFanoutTwentySubscribers(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r openLoopResult
	code, rep := bench(t, &r, "fanout", "-url", gw.WSURL, "-subscribers", "20", "-rate", "50", "-duration", "1s", "-warmup", "100ms")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Delivered != 20*r.Sent || r.Missing != 0 {
		t.Errorf("sent %d, delivered %d, missing %d", r.Sent, r.Delivered, r.Missing)
	}
	if r.DeliveriesPerSec < 900 || r.DeliveriesPerSec > 1100 || r.Latency.Count != 1000 {
		t.Errorf("%.0f deliveries/s, %d timed; want 1000 (20 x 50/s)", r.DeliveriesPerSec, r.Latency.Count)
	}
}
