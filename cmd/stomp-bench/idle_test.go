package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
)

func TestIdleSessionsAllGetTheirCheckMessage(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r idleResult
	code, rep := bench(t, &r, "idle", "-url", gw.WSURL, "-n", "200", "-hold", "200ms", "-pid", strconv.Itoa(os.Getpid()))
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.Established != 200 || r.Failed != 0 || r.AliveAfterHold != 200 {
		t.Errorf("established %d, failed %d, alive %d; want 200, 0, 200", r.Established, r.Failed, r.AliveAfterHold)
	}
	if r.Published != 200 || r.Confirmed != 200 || r.Delivered != 200 || r.Missing != 0 || r.Duplicates != 0 {
		t.Errorf("published %d, confirmed %d, delivered %d, missing %d, duplicates %d", r.Published, r.Confirmed, r.Delivered, r.Missing, r.Duplicates)
	}
	if r.ConnectRate <= 0 || r.ConnectLatency.Count != 200 {
		t.Errorf("connect rate %v, %d connect samples", r.ConnectRate, r.ConnectLatency.Count)
	}
	// The gateway runs in this process, so -pid measures it and the
	// client together; the point is that it is read.
	if r.ServerRSS == nil || r.ServerRSS.BeforeKB <= 0 || r.ServerRSS.IdleKB <= 0 {
		t.Errorf("server RSS %+v", r.ServerRSS)
	}
	if r.FileLimit == 0 {
		t.Error("no open-file limit reported")
	}
}

func TestIdleClientAckQueuesOverTCPWithRSSFromMetrics(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	// A metrics endpoint whose RSS grows by 100 KB per scrape.
	var scrapes atomic.Int64
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", (1000+100*scrapes.Add(1))*1024)
	}))
	t.Cleanup(metrics.Close)
	var r idleResult
	code, rep := bench(t, &r, "idle", "-url", serveTCP(t, gw), "-n", "50", "-hold", "0s",
		"-dest", "/queue/bench.q.{n}", "-ack", "client-individual", "-rate", "500", "-concurrency", "8",
		"-server-rss-url", metrics.URL)
	if code != 0 || r.Delivered != 50 || r.Missing != 0 {
		t.Fatalf("exit %d (%v), delivered %d, missing %d", code, rep.FailedChecks, r.Delivered, r.Missing)
	}
	if s := r.ServerRSS; s == nil || s.BeforeKB != 1100 || s.ConnectedKB != 1200 || s.IdleKB != 1300 || s.PerSessionKB != 4 {
		t.Errorf("server RSS %+v, want 1100, 1200, 1300 KB and 4 KB per session", s)
	}
	// 50 sessions at 500/s take about 0.1 s.
	if r.ConnectRate > 600 {
		t.Errorf("connect rate %.0f/s, over -rate 500", r.ConnectRate)
	}
}

func TestIdleHeartbeatsKeepSessionsAlive(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r idleResult
	// The gateway closes a session silent for twice the negotiated 250 ms;
	// the hold is six of those. (At 100 ms, a machine loaded by the race
	// detector and parallel tests stalled the heart-beats themselves.)
	code, rep := bench(t, &r, "idle", "-url", gw.WSURL, "-n", "20", "-hold", "1500ms", "-heartbeat", "250,0")
	if code != 0 || r.AliveAfterHold != 20 || r.Delivered != 20 {
		t.Fatalf("exit %d (%v), alive %d, delivered %d, lost %v", code, rep.FailedChecks, r.AliveAfterHold, r.Delivered, r.Lost)
	}
}

func TestIdleCountsFailuresByErrorMessage(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	var r idleResult
	code, rep := bench(t, &r, "idle", "-url", gw.WSURL, "-n", "5", "-hold", "0s", "-dest", "/nowhere/{n}")
	if code != 1 || rep.OK {
		t.Fatalf("exit %d, ok %v; want a failed run", code, rep.OK)
	}
	if r.Established != 0 || r.Failed != 5 {
		t.Errorf("established %d, failed %d", r.Established, r.Failed)
	}
	if len(r.Failures) != 1 || r.Failures[0].Count != 5 || r.Failures[0].Reason != `ERROR "Unknown destination"` {
		t.Errorf("failures %+v, want 5 x ERROR \"Unknown destination\"", r.Failures)
	}
}

func TestIdleAgainstNothingFails(t *testing.T) {
	t.Parallel()
	ln := closedPort(t)
	var r idleResult
	code, _ := bench(t, &r, "idle", "-url", "ws://"+ln+"/ws", "-n", "3", "-hold", "0s")
	if code != 1 || r.Failed != 3 {
		t.Fatalf("exit %d, failed %d", code, r.Failed)
	}
	if len(r.Failures) != 1 || r.Failures[0].Reason != "dial: connect: connection refused" {
		t.Errorf("failures %+v: want one reason without addresses", r.Failures)
	}
}
