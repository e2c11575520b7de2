package main

import "testing"

func TestConnects(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r connectsResult
	code, rep := bench(t, &r, "connects", "-url", gw.WSURL, "-duration", "1s", "-concurrency", "4")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Connects == 0 || r.ConnectsPerSecond <= 0 || r.Failed != 0 {
		t.Errorf("connects %d (%.0f/s), failed %d", r.Connects, r.ConnectsPerSecond, r.Failed)
	}
	if r.Latency.Count != uint64(r.Connects) || r.Latency.P50MS <= 0 || r.ConnectFrameTiming.MaxMS > r.Latency.MaxMS {
		t.Errorf("latency %+v, CONNECT to CONNECTED %+v", r.Latency, r.ConnectFrameTiming)
	}
}
