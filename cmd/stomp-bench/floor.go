package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// The floor mode measures what this machine charges, in CPU time, for the
// two things no STOMP server can avoid, so a server's own numbers can be
// read against them:
//
//   - waking from idle: a process that sleeps until the next event, as a
//     server at a modest rate does between messages. A relayed message is
//     at least three events for the server in the middle (the SEND, the
//     broker's confirm, the delivery), each a wake when the rate is low.
//   - a small write to a loopback socket whose reader sleeps: what every
//     delivery of a fan-out costs the writer, since the kernel wakes the
//     reading process in the writer's system call.
//
// Both are pure Go programs doing nothing else, on the same runtime as the
// gateway: on a virtual machine the first can cost tens of microseconds
// (a bare C loop: over 10 us), where bare metal takes one or two.

// floorOptions are the flags of the floor mode.
type floorOptions struct {
	wakeRate  float64
	sockets   int
	writeRate float64
	size      int
	duration  time.Duration
	readerOf  string // internal: be the reading process of a write run
}

func floorFlags(fs *flag.FlagSet) func(*env) (outcome, error) {
	o := &floorOptions{}
	fs.Float64Var(&o.wakeRate, "wake-rate", 2000, "wakes per second of the idle-wake run (as messages at -rate in latency mode)")
	fs.IntVar(&o.sockets, "sockets", 1000, "loopback sockets of the write run, each read by another process")
	fs.Float64Var(&o.writeRate, "write-rate", 100, "rounds per second of the write run: one write to every socket each")
	fs.IntVar(&o.size, "size", 300, "bytes per write (a 128-byte MESSAGE with its headers and WebSocket frame)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each run measures")
	fs.StringVar(&o.readerOf, "reader-of", "", "internal: connect -sockets times to this address and read until closed")
	return o.run
}

// floorResult is what the floor mode measured.
type floorResult struct {
	WakeRate      float64 `json:"wake_rate"`
	WakeCPUUS     float64 `json:"wake_cpu_us"` // CPU per wake from idle
	Sockets       int     `json:"sockets"`
	WriteRate     float64 `json:"write_rate"`
	WritesPerSec  float64 `json:"writes_per_second"`
	Size          int     `json:"size"`
	WriteCPUUS    float64 `json:"write_cpu_us"`   // the writer's CPU per write
	WriterPercent float64 `json:"writer_percent"` // of one core
	ReadCPUUS     float64 `json:"read_cpu_us"`    // the reader's CPU per write read
	ReaderPercent float64 `json:"reader_percent"`
}

func (o *floorOptions) run(e *env) (outcome, error) {
	if o.readerOf != "" {
		return &floorResult{}, readAll(e.ctx, o.readerOf, o.sockets)
	}
	if o.wakeRate <= 0 || o.sockets <= 0 || o.writeRate <= 0 || o.size <= 0 || o.duration <= 0 {
		return nil, errors.New("-wake-rate, -sockets, -write-rate, -size and -duration must be positive")
	}
	r := &floorResult{WakeRate: o.wakeRate, Sockets: o.sockets, WriteRate: o.writeRate, Size: o.size}
	e.prog.set(func() string { return "waking from idle" })
	wake, err := o.wakes(e.ctx)
	if err != nil {
		return nil, err
	}
	r.WakeCPUUS = wake
	e.prog.set(func() string { return "writing to loopback sockets" })
	if err := o.writes(e.ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// wakes sleeps until each tick of a wakeRate ticker for duration and
// returns the process's CPU per wake, in microseconds.
func (o *floorOptions) wakes(ctx context.Context) (float64, error) {
	n := int(o.wakeRate * o.duration.Seconds())
	t := time.NewTicker(time.Duration(float64(time.Second) / o.wakeRate))
	defer t.Stop()
	c0, err := processCPU(os.Getpid())
	if err != nil {
		return 0, err
	}
	for range n {
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	c1, err := processCPU(os.Getpid())
	if err != nil {
		return 0, err
	}
	return us(c1-c0) / float64(n), nil
}

// writes runs the write rounds against a reading process started from
// this binary.
func (o *floorOptions) writes(ctx context.Context, r *floorResult) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "floor", "-quiet", "-sockets", strconv.Itoa(o.sockets), "-reader-of", ln.Addr().String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	conns := make([]net.Conn, 0, o.sockets)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for len(conns) < o.sockets {
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("the reading process did not connect: %w", err)
		}
		conns = append(conns, c)
	}
	msg := make([]byte, o.size)
	rounds := int(o.writeRate * o.duration.Seconds())
	t := time.NewTicker(time.Duration(float64(time.Second) / o.writeRate))
	defer t.Stop()
	w0, err1 := processCPU(os.Getpid())
	r0, err2 := processCPU(cmd.Process.Pid)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	start := time.Now()
	for range rounds {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, c := range conns {
			if _, err := c.Write(msg); err != nil {
				return err
			}
		}
	}
	elapsed := time.Since(start)
	w1, err1 := processCPU(os.Getpid())
	r1, err2 := processCPU(cmd.Process.Pid)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	writes := float64(rounds * o.sockets)
	r.WritesPerSec = writes / elapsed.Seconds()
	r.WriteCPUUS, r.WriterPercent = us(w1-w0)/writes, 100*(w1-w0).Seconds()/elapsed.Seconds()
	r.ReadCPUUS, r.ReaderPercent = us(r1-r0)/writes, 100*(r1-r0).Seconds()/elapsed.Seconds()
	return nil
}

// readAll is the reading process: n connections to addr, each read by a
// goroutine until it closes.
func readAll(ctx context.Context, addr string, n int) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	done := make(chan struct{}, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		go func() {
			b := make([]byte, 4096)
			for {
				if _, err := c.Read(b); err != nil {
					done <- struct{}{}
					return
				}
			}
		}()
	}
	for range n {
		select {
		case <-done:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func (r *floorResult) rows() []row {
	return []row{
		{"wake from idle", fmt.Sprintf("%.1f us CPU per wake at %.0f/s", r.WakeCPUUS, r.WakeRate)},
		{"loopback writes", fmt.Sprintf("%d-byte writes to %d sockets x %.0f/s: %.0f writes/s", r.Size, r.Sockets, r.WriteRate, r.WritesPerSec)},
		{"writer CPU", fmt.Sprintf("%.0f%% of a core, %.1f us per write", r.WriterPercent, r.WriteCPUUS)},
		{"reader CPU", fmt.Sprintf("%.0f%% of a core, %.1f us per write read", r.ReaderPercent, r.ReadCPUUS)},
	}
}

func (r *floorResult) failedChecks() []string { return nil }
