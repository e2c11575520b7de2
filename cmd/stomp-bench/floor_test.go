package main

import "testing"

func TestFloorMeasuresWakesAndLoopbackWrites(t *testing.T) {
	var r floorResult
	code, _ := bench(t, &r, "floor", "-wake-rate", "500", "-sockets", "20", "-write-rate", "50", "-duration", "1s")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if r.WakeCPUUS <= 0 || r.WritesPerSec <= 0 || r.WriteCPUUS <= 0 || r.ReadCPUUS < 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
	if r.Sockets != 20 || r.Size != 300 {
		t.Fatalf("options not applied: %+v", r)
	}
}
