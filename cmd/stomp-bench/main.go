// Command stomp-bench loads a STOMP over WebSocket (ws://, wss://) or STOMP
// over TCP (tcp://host:port) endpoint, the gateway's or any other broker's
// (RabbitMQ Web-STOMP listens on ws://127.0.0.1:15674/ws), to size a
// deployment and compare it with what runs today.
//
// Modes:
//
//	idle        hold N subscribed sessions, then check each still gets a message; server RSS per session
//	throughput  publishers and subscribers on one queue or topic, as fast as they go
//	latency     open-loop publishing at a fixed rate; latency from the intended send time
//	fanout      one topic, many subscribers, a fixed publish rate; deliveries/s and latency
//	connects    connect, CONNECTED, DISCONNECT in a loop; connects/s and connect latency
//	amqp-throughput  the throughput mode's shapes over AMQP 0-9-1 straight to RabbitMQ: the baseline
//	floor       the machine's CPU cost of waking from idle and of a loopback write to a sleeping reader
//
// Run `stomp-bench <mode> -h` for a mode's flags. Progress goes to stderr
// once a second, the result table to stdout (stderr with -json, which
// prints the result as JSON on stdout). The exit status is 1 when the run
// failed its own checks (sessions that did not connect, messages missing,
// errors), 2 for bad flags.
//
// # Goroutines
//
// Each session has one reader goroutine, which parses frames and runs the
// mode's handlers (count, record latency, ACK); writes are serialised by a
// mutex. Publishers, the session opener's workers, one heart-beat sender
// and one progress printer are the only other goroutines. In the
// amqp-throughput mode amqp091-go runs its own goroutines per connection;
// each consumer adds one that counts its deliveries and each confirming
// publisher one that counts its confirms.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mode is one kind of run. flags registers its flags and returns the
// function that runs it once they are parsed.
type mode struct {
	name    string
	summary string
	// readBytes is each session's read buffer: small where sessions are
	// many and idle, larger where messages stream.
	readBytes int
	// sessionless modes open no STOMP session (amqp-throughput talks
	// AMQP 0-9-1, floor measures the machine): they register their own
	// flags and none of the STOMP session flags.
	sessionless bool
	flags       func(fs *flag.FlagSet) func(e *env) (outcome, error)
}

var modes = []mode{
	{"idle", "open N subscribed sessions, hold them, check each still gets a message; server RSS per session", 512, false, idleFlags},
	{"throughput", "publishers and subscribers on one queue or topic, as fast as they go; messages/s", 4 << 10, false, throughputFlags},
	{"latency", "one publisher at a fixed rate (open loop), latency from the intended send time", 4 << 10, false, latencyFlags},
	{"fanout", "one topic, many subscribers, a fixed publish rate; deliveries/s and latency", 4 << 10, false, fanoutFlags},
	{"connects", "connect, CONNECTED, DISCONNECT in a loop; connects/s and connect latency", 512, false, connectsFlags},
	{"amqp-throughput", "the throughput mode's shapes over AMQP 0-9-1 straight to RabbitMQ (amqp091-go): the baseline for a STOMP server in front of it", 0, true, amqpFlags},
	{"floor", "what this machine charges a process for waking from idle and for a loopback write to a sleeping reader: the floors under a server's CPU numbers", 0, true, floorFlags},
}

// env is what a running mode gets. cfg and hb are nil in sessionless modes.
type env struct {
	ctx    context.Context
	cfg    *sessionConfig
	stderr io.Writer // warnings
	prog   *progress
	hb     *heartbeater
}

// opener returns a session opener for this run.
func (e *env) opener(concurrency int, rate float64, fails *failures) *opener {
	return &opener{cfg: e.cfg, concurrency: concurrency, rate: rate, fails: fails, hb: e.hb}
}

// commonFlags are the flags of every mode.
type commonFlags struct {
	url, login, passcode, vhost string
	heartbeat                   string
	timeout                     time.Duration
	insecure, json, quiet       bool
	cpuProfile                  string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	c.registerOutput(fs)
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:15674/ws", "endpoint: ws://host:port/path, wss://... or tcp://host:port (STOMP over TCP)")
	fs.StringVar(&c.login, "login", "guest", "CONNECT login header (empty: send no login or passcode)")
	fs.StringVar(&c.passcode, "passcode", "guest", "CONNECT passcode header (never printed in reports)")
	fs.StringVar(&c.vhost, "vhost", "/", "CONNECT host header: the RabbitMQ virtual host")
	fs.StringVar(&c.heartbeat, "heartbeat", "0,0", "CONNECT heart-beat header in ms, cx,cy: with cx > 0 every session sends heart-beats as negotiated")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long a dial, a write, CONNECTED or a RECEIPT may take before it counts as failed")
	fs.BoolVar(&c.insecure, "insecure", false, "wss://: accept any server certificate (self-signed test servers)")
}

// registerOutput registers the flags every mode has, AMQP ones too.
func (c *commonFlags) registerOutput(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print the result as JSON on stdout (the table goes to stderr)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write stomp-bench's own CPU profile to this file: is the load tool what limits the run?")
}

func (c *commonFlags) sessionConfig(readBytes int) (*sessionConfig, error) {
	d, err := newDialer(c.url, c.insecure, c.timeout, readBytes)
	if err != nil {
		return nil, err
	}
	hb, err := parseHeartbeat(c.heartbeat)
	if err != nil {
		return nil, err
	}
	if c.timeout <= 0 {
		return nil, errors.New("-timeout must be positive")
	}
	return &sessionConfig{dialer: d, login: c.login, passcode: c.passcode, vhost: c.vhost, heartbeat: hb, timeout: c.timeout}, nil
}

func parseHeartbeat(s string) ([2]time.Duration, error) {
	var hb [2]time.Duration
	a, b, ok := strings.Cut(s, ",")
	x, err1 := strconv.Atoi(strings.TrimSpace(a))
	y, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 {
		return hb, fmt.Errorf("-heartbeat %q: want cx,cy in milliseconds, e.g. 0,0 or 10000,10000", s)
	}
	hb[0], hb[1] = time.Duration(x)*time.Millisecond, time.Duration(y)*time.Millisecond
	return hb, nil
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	var m *mode
	for i := range modes {
		if modes[i].name == args[0] {
			m = &modes[i]
		}
	}
	if m == nil {
		fmt.Fprintf(stderr, "stomp-bench: unknown mode %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("stomp-bench "+m.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	if m.sessionless {
		c.registerOutput(fs)
	} else {
		c.register(fs)
	}
	runMode := m.flags(fs)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: stomp-bench %s [flags]\n\n%s.\n\nflags:\n", m.name, m.summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stomp-bench %s: unexpected arguments %q\n", m.name, fs.Args())
		return 2
	}
	var cfg *sessionConfig
	if !m.sessionless {
		var err error
		if cfg, err = c.sessionConfig(m.readBytes); err != nil {
			fmt.Fprintf(stderr, "stomp-bench %s: %v\n", m.name, err)
			return 2
		}
	}
	progressOut := stderr
	if c.quiet {
		progressOut = io.Discard
	}
	if c.cpuProfile != "" {
		stopProfile, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "stomp-bench %s: %v\n", m.name, err)
			return 2
		}
		defer stopProfile()
	}
	e := &env{ctx: ctx, cfg: cfg, stderr: stderr, prog: startProgress(progressOut)}
	if cfg != nil {
		e.hb = startHeartbeats(cfg.heartbeat[0])
	}
	o, err := runMode(e)
	e.prog.close()
	e.hb.close()
	if err != nil {
		fmt.Fprintf(stderr, "stomp-bench %s: %v\n", m.name, err)
		return 2
	}
	r := newReport(m.name, fs, o)
	if c.json {
		if err := r.writeJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "stomp-bench %s: %v\n", m.name, err)
			return 1
		}
		r.writeTable(stderr)
	} else {
		r.writeTable(stdout)
	}
	if !r.OK {
		return 1
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: stomp-bench <mode> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Load a STOMP over WebSocket (ws://, wss://) or STOMP over TCP (tcp://) endpoint.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "modes:")
	for _, m := range modes {
		fmt.Fprintf(w, "  %-16s %s\n", m.name, m.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run stomp-bench <mode> -h for the flags of a mode. Exit status: 0 passed, 1 the run failed its checks, 2 bad usage.")
}
