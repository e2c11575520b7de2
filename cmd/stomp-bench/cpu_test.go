package main

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestParseStatCPUCountsFieldsAfterTheCommandName(t *testing.T) {
	t.Parallel()
	// A command name may hold spaces and parentheses; utime and stime
	// are fields 14 and 15 counted after its last ')'.
	line := "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 1 0 77 0 0\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Errorf("CPU %v, want %v (250 + 130 ticks of 10 ms)", got, want)
	}
	for _, bad := range []string{"", "4242 no name 1 2 3", "4242 (x) S 1 2"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestThroughputReportsServerAndClientCPU(t *testing.T) {
	t.Parallel()
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Skip("no /proc:", err)
	}
	gw := startGateway(t)
	// The gateway runs in this process: it is the server and the client.
	pid := strconv.Itoa(os.Getpid())
	var r throughputResult
	code, rep := bench(t, &r, "throughput", "-url", gw.WSURL, "-duration", "1s", "-warmup", "100ms", "-dest", "/queue/bench.cpu", "-pid", pid)
	if code != 0 {
		t.Fatalf("exit %d: %v", code, rep.FailedChecks)
	}
	if r.ServerCPU == nil || r.ClientCPU == nil {
		t.Fatalf("server CPU %v, client CPU %v", r.ServerCPU, r.ClientCPU)
	}
	if r.BrokerCPU != nil {
		t.Errorf("broker CPU %+v without -broker-pid", r.BrokerCPU)
	}
	c := r.ServerCPU
	if c.PID != os.Getpid() || c.WindowSeconds < 0.9 || c.CPUSeconds <= 0 || c.USPerMessage <= 0 || c.USPerDelivery <= 0 {
		t.Errorf("server CPU %+v", c)
	}
	if want := c.CPUSeconds / c.WindowSeconds; c.Cores != want {
		t.Errorf("cores %v, want %v", c.Cores, want)
	}
}
