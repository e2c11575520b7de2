package main

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// keepGC restores the collector's settings when the test ends.
func keepGC(t *testing.T) {
	t.Helper()
	percent, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(percent)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestGCDefaultsFollowTheContainersMemoryLimit(t *testing.T) {
	keepGC(t)
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	s, err := applyGC(env(nil), memlimit.Limit(1000<<20))
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(-1); got != defaultGOGC || s.percent != defaultGOGC || s.percentFrom != "default" {
		t.Errorf("GOGC is %d (reported %d from %s), want %d by default", got, s.percent, s.percentFrom, defaultGOGC)
	}
	if got, want := debug.SetMemoryLimit(-1), int64(900<<20); got != want || s.limit != want || s.limitFrom != "cgroup" {
		t.Errorf("GOMEMLIMIT is %d (reported %d from %s), want %d: 90%% of the container's", got, s.limit, s.limitFrom, want)
	}
}

func TestGCKeepsWhatTheEnvironmentSets(t *testing.T) {
	keepGC(t)
	// The runtime read GOGC and GOMEMLIMIT at start; these stand for them.
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(300 << 20)
	unasked := func() (uint64, error) {
		t.Error("the container's limit was read although GOMEMLIMIT is set")
		return 0, errors.New("unasked")
	}
	s, err := applyGC(env(map[string]string{"GOGC": "150", "GOMEMLIMIT": "300MiB"}), unasked)
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(-1); got != 150 || s.percent != 150 || s.percentFrom != "GOGC" {
		t.Errorf("GOGC is %d (reported %d from %s), want the environment's 150", got, s.percent, s.percentFrom)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 || s.limit != 300<<20 || s.limitFrom != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT is %d (reported %d from %s), want the environment's 300 MiB", got, s.limit, s.limitFrom)
	}
}

func TestGCHasNoMemoryLimitOutsideAContainer(t *testing.T) {
	for _, why := range []error{memlimit.ErrNoLimit, memlimit.ErrNoCgroup, memlimit.ErrCgroupsNotSupported} {
		t.Run(why.Error(), func(t *testing.T) {
			keepGC(t)
			debug.SetMemoryLimit(math.MaxInt64)
			s, err := applyGC(env(nil), func() (uint64, error) { return 0, why })
			if err != nil {
				t.Fatal(err)
			}
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 || s.limitFrom != "none" {
				t.Errorf("GOMEMLIMIT is %d (from %s), want none", got, s.limitFrom)
			}
		})
	}
}

func TestGCReportsAnUnreadableLimit(t *testing.T) {
	keepGC(t)
	debug.SetMemoryLimit(math.MaxInt64)
	broken := errors.New("permission denied")
	s, err := applyGC(env(nil), func() (uint64, error) { return 0, broken })
	if !errors.Is(err, broken) {
		t.Fatalf("err = %v, want the provider's", err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 || s.limitFrom != "none" {
		t.Errorf("GOMEMLIMIT is %d (from %s), want none", got, s.limitFrom)
	}
}
