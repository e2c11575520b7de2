package main

import (
	"errors"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/rs/zerolog"
)

// The garbage collector's defaults, where the environment leaves them
// unset. A gateway's live heap is small next to the garbage it makes: at
// /queue saturation a few MiB live against 55-65 allocations per relayed
// message, most of them amqp091-go's framing. Go's default GOGC=100 then
// collects every few milliseconds, and with GOGC=400 the gateway took
// 15% less CPU per message at saturation (README, "Memory and CPU").
// What bounds the bigger heap is GOMEMLIMIT, which the runtime collects
// harder to stay under: when it is unset the gateway sets it to 90% of
// its container's memory limit (the cgroup's), as Prometheus does.
// Without a container limit there is none, and the heap may grow to five
// times what is live between collections; the memory trimmer (trim.go)
// still hands the garbage of a connect storm back to the OS.
const (
	defaultGOGC     = 400
	memoryLimitPart = 0.9
)

// gcSettings is what applyGC chose, for the log.
type gcSettings struct {
	percent     int
	percentFrom string // "GOGC", or "default"
	limit       int64  // math.MaxInt64: none
	limitFrom   string // "GOMEMLIMIT", "cgroup", or "none"
}

// applyGC sets GOGC to defaultGOGC unless the environment (getenv) sets
// it, and GOMEMLIMIT to memoryLimitPart of what limit reports unless the
// environment sets it. No limit (memlimit.ErrNoLimit), no cgroup or no
// cgroups on this system leave the runtime without one.
func applyGC(getenv func(string) string, limit memlimit.Provider) (gcSettings, error) {
	var s gcSettings
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
		s.percentFrom = "default"
	} else {
		s.percentFrom = "GOGC"
	}
	// Reading GOGC turns the collector off; it is set back at once.
	s.percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(s.percent)

	if getenv("GOMEMLIMIT") != "" {
		s.limit, s.limitFrom = debug.SetMemoryLimit(-1), "GOMEMLIMIT"
		return s, nil
	}
	n, err := memlimit.ApplyRatio(limit, memoryLimitPart)()
	if err != nil {
		s.limit, s.limitFrom = debug.SetMemoryLimit(-1), "none"
		if errors.Is(err, memlimit.ErrNoLimit) || errors.Is(err, memlimit.ErrNoCgroup) || errors.Is(err, memlimit.ErrCgroupsNotSupported) {
			return s, nil
		}
		return s, err
	}
	s.limit, s.limitFrom = int64(min(n, math.MaxInt64)), "cgroup"
	debug.SetMemoryLimit(s.limit)
	return s, nil
}

// tuneGC applies the defaults from the process's environment and cgroup
// and logs what the collector runs with.
func tuneGC(getenv func(string) string, log zerolog.Logger) {
	s, err := applyGC(getenv, memlimit.FromCgroup)
	if err != nil {
		log.Warn().Err(err).Msg("could not read the container's memory limit; GOMEMLIMIT is unset")
	}
	ev := log.Info().Int("gogc", s.percent).Str("gogc_from", s.percentFrom).Str("memory_limit_from", s.limitFrom)
	if s.limit != math.MaxInt64 {
		ev = ev.Int64("memory_limit_bytes", s.limit)
	}
	ev.Msg("garbage collector")
}
