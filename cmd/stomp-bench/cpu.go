package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: 100 on every architecture Go runs Linux on.
const clockTicks = 100

// processCPU returns the CPU time (user + system, every thread) process
// pid has used so far, from /proc/<pid>/stat: 10 ms resolution.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a stat line.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so the count starts after its last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("/proc stat: utime or stime is not a number")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuFlags are the -pid and -broker-pid flags of the modes that stream
// messages: whose CPU time to measure over the measured window.
type cpuFlags struct{ server, broker int }

// register registers -broker-pid, and -pid where there is a server in
// front of the broker.
func (c *cpuFlags) register(fs *flag.FlagSet, server bool) {
	if server {
		c.registerServer(fs)
	}
	fs.IntVar(&c.broker, "broker-pid", 0, "process id of the broker on this machine (beam.smp): report its CPU time per message over the measured window too")
}

func (c *cpuFlags) registerServer(fs *flag.FlagSet) {
	fs.IntVar(&c.server, "pid", 0, "process id of the server under test on this machine (the gateway, or RabbitMQ's beam.smp for Web-STOMP): report its CPU time per message over the measured window, from /proc/<pid>/stat")
}

// watch checks the processes exist and returns a watch over them and
// this process (the load has a cost too, on the same cores when the
// server runs on this machine); nil where /proc is missing.
func (c *cpuFlags) watch() (*cpuWatch, error) {
	w := &cpuWatch{pids: [3]int{c.server, c.broker, os.Getpid()}}
	for _, pid := range w.pids[:2] {
		if pid <= 0 {
			continue
		}
		if _, err := processCPU(pid); err != nil {
			return nil, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
	}
	if _, err := processCPU(w.pids[2]); err != nil {
		if c.server > 0 || c.broker > 0 {
			return nil, err
		}
		return nil, nil // no /proc, and nothing asked for
	}
	return w, nil
}

// cpuWatch measures the CPU time of the server, the broker and this
// process between start and stop. A nil watch measures nothing.
type cpuWatch struct {
	pids    [3]int // server, broker, this process; 0 for none
	at      time.Time
	cpu     [3]time.Duration
	elapsed time.Duration
	used    [3]time.Duration
	err     error
}

// start marks the beginning of the measured window.
func (w *cpuWatch) start() {
	if w == nil {
		return
	}
	w.at = time.Now()
	w.cpu, w.err = w.read()
}

// stop marks its end.
func (w *cpuWatch) stop() {
	if w == nil || w.at.IsZero() {
		return
	}
	cpu, err := w.read()
	w.elapsed = time.Since(w.at)
	w.err = errors.Join(w.err, err)
	for i := range cpu {
		w.used[i] = cpu[i] - w.cpu[i]
	}
}

func (w *cpuWatch) read() ([3]time.Duration, error) {
	var out [3]time.Duration
	var errs []error
	for i, pid := range w.pids {
		if pid > 0 {
			d, err := processCPU(pid)
			out[i] = d
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// results returns what the server, the broker and this process used, per
// message sent and per delivery during the window: nil for a process not
// watched, or when the window was never closed.
func (w *cpuWatch) results(sent, delivered int64) (server, broker, client *cpuResult) {
	if w == nil || w.elapsed <= 0 || w.err != nil {
		return nil, nil, nil
	}
	out := [3]*cpuResult{}
	for i, pid := range w.pids {
		if pid <= 0 {
			continue
		}
		r := &cpuResult{PID: pid, CPUSeconds: w.used[i].Seconds(), WindowSeconds: w.elapsed.Seconds()}
		r.Cores = r.CPUSeconds / r.WindowSeconds
		if sent > 0 {
			r.USPerMessage = r.CPUSeconds * 1e6 / float64(sent)
		}
		if delivered > 0 {
			r.USPerDelivery = r.CPUSeconds * 1e6 / float64(delivered)
		}
		out[i] = r
	}
	return out[0], out[1], out[2]
}

// cpuResult is a process's CPU time over the measured window.
type cpuResult struct {
	PID           int     `json:"pid"`
	CPUSeconds    float64 `json:"cpu_seconds"`    // user + system
	WindowSeconds float64 `json:"window_seconds"` // wall time it was measured over
	Cores         float64 `json:"cores"`          // CPUSeconds / WindowSeconds: 0.36 is 36% of one core
	USPerMessage  float64 `json:"us_per_message"` // microseconds per message sent in the window
	// USPerDelivery is per message delivered in the window: the same as
	// USPerMessage for a queue in steady state, a tenth of it for a topic
	// with ten subscribers.
	USPerDelivery float64 `json:"us_per_delivery"`
}

func cpuRows(who string, r *cpuResult) []row {
	if r == nil {
		return nil
	}
	return []row{{who + " CPU", fmt.Sprintf("%.0f%% of a core, %.1f us per message sent, %.1f us per delivery (pid %d)",
		100*r.Cores, r.USPerMessage, r.USPerDelivery, r.PID)}}
}
