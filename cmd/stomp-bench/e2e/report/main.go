// Command report turns the stomp-bench JSON results of cmd/stomp-bench/e2e/e2e.sh into
// docs/BENCHMARKS.md: issue 13's table with Web-STOMP, direct AMQP and the
// gateway side by side, ratios, each goal and by how much it is missed,
// the machine the numbers come from, every run, and the gateway's profiles.
//
//	go run ./cmd/stomp-bench/e2e/report -results bin/bench-e2e -out docs/BENCHMARKS.md ...
//
// `make bench-e2e` runs it; it reads only the results folder and this
// machine's /proc, so it can also be re-run over a kept results folder.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// meta describes the run, from cmd/stomp-bench/e2e/e2e.sh's flags.
type meta struct {
	mode, started, elapsed string
	rabbitmq, erlang       string
	loadStart, loadEnd     string
	rounds                 int
	duration               string
	idleN                  int
	machine                machine
	commit                 string
	profiles               []string
}

func main() {
	var m meta
	var resultsDir, out string
	flag.StringVar(&resultsDir, "results", "bin/bench-e2e", "folder of stomp-bench JSON results, <measure>.<target>[.r<round>].json")
	flag.StringVar(&out, "out", "docs/BENCHMARKS.md", "Markdown file to write; - for stdout")
	flag.StringVar(&m.mode, "mode", "default", "the run's mode: default or quick")
	flag.StringVar(&m.started, "started", "", "when the run started (UTC)")
	flag.StringVar(&m.elapsed, "elapsed", "", "how long the run took")
	flag.StringVar(&m.rabbitmq, "rabbitmq", "", "RabbitMQ version of the node")
	flag.StringVar(&m.erlang, "erlang", "", "Erlang/OTP release of the node")
	flag.StringVar(&m.loadStart, "load-start", "", "load average (1, 5, 15 min) when the run started")
	flag.StringVar(&m.loadEnd, "load-end", "", "load average when it ended")
	flag.IntVar(&m.rounds, "rounds", 1, "rounds of the throughput set")
	flag.StringVar(&m.duration, "duration", "", "measured time of each throughput, latency and fan-out run")
	flag.IntVar(&m.idleN, "idle-n", 0, "idle sessions asked of each server")
	flag.StringVar(&m.commit, "commit", "", "commit measured (git describe --always --dirty when the run started); empty: this tree's")
	flag.Parse()

	runs, err := loadRuns(resultsDir)
	if err != nil {
		fail(err)
	}
	if len(runs) == 0 {
		fail(fmt.Errorf("no results in %s", resultsDir))
	}
	m.machine = thisMachine()
	if m.commit == "" {
		m.commit = gitCommit()
	}
	m.profiles = profiles(resultsDir)
	var buf bytes.Buffer
	write(&buf, m, set{runs: runs}, resultsDir)
	if out == "-" {
		_, err = os.Stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(out, buf.Bytes(), 0o644)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// machine is what the numbers were measured on.
type machine struct {
	cpus             int
	cpuModel, memory string
	kernel, goVer    string
}

func thisMachine() machine {
	m := machine{cpus: runtime.NumCPU(), goVer: runtime.Version()}
	m.cpuModel = procField("/proc/cpuinfo", "model name")
	if kbStr := strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"); kbStr != "" {
		if v, err := strconv.ParseFloat(strings.TrimSpace(kbStr), 64); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", v/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gitCommit names the commit measured, marked when the tree had changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		c += " with uncommitted changes"
	}
	return c
}

// profileOrder is the order of the profiles in the report, as the table.
var profileOrder = []string{"cpu2000", "saturation", "fanout200", "idle-heap", "connects"}

// profiles returns the gateway profiles cmd/stomp-bench/e2e/e2e.sh saved, in table order.
func profiles(dir string) []string {
	var out []string
	for _, name := range profileOrder {
		if p := filepath.Join(dir, "profile-"+name+".txt"); fileExists(p) {
			out = append(out, p)
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func write(w io.Writer, m meta, s set, dir string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench-e2e` (`cmd/stomp-bench/e2e/e2e.sh` runs `cmd/stomp-bench`, `cmd/stomp-bench/e2e/report` writes this file):\n")
	p("do not edit it by hand, run it again. Issue 13's measures, side by side in one run against one\n")
	p("private RabbitMQ node without the management plugin: RabbitMQ's own Web-STOMP plugin on that node,\n")
	p("a Go AMQP client (amqp091-go) talking to the node directly, and stomp-gateway in front of it.\n")
	p("128-byte bodies throughout.\n\n")
	if m.mode == "quick" {
		p("**This is a quick smoke run (`BENCH_QUICK=1`): runs are short and numbers rough.**\n\n")
	}

	p("## Machine and run\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %d cores, %s |\n", m.machine.cpus, orNA(m.machine.cpuModel))
	p("| memory | %s |\n", orNA(m.machine.memory))
	p("| OS | %s |\n", orNA(m.machine.kernel))
	p("| Go | %s |\n", m.machine.goVer)
	p("| RabbitMQ | %s on Erlang/OTP %s: one private node started for the run, plugins: rabbitmq_web_stomp (and what it needs) only |\n", orNA(m.rabbitmq), orNA(m.erlang))
	p("| stomp-gateway | commit %s, `STOMP_GATEWAY_AUTH=none`, defaults otherwise; a fresh process for every run |\n", m.commit)
	p("| load tool | stomp-bench on the same machine: it shares the cores with the broker and the server it measures |\n")
	p("| date | %s, %s mode, took %s |\n", orNA(m.started), m.mode, orNA(m.elapsed))
	p("| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", orNA(m.loadStart), orNA(m.loadEnd))
	p("| runs | %s measured after a warmup; throughput set: %d round(s), interleaved Web-STOMP, AMQP (for /queue also AMQP asking what the gateway asks), gateway; %d idle sessions asked of each server |\n\n", orNA(m.duration), m.rounds, m.idleN)
	if load1 := max(firstFloat(m.loadStart), firstFloat(m.loadEnd)); load1 > float64(m.machine.cpus)/2 {
		p("The 1-minute load average was %.1f at the start and %.1f at the end, on %d cores: other processes\n", firstFloat(m.loadStart), firstFloat(m.loadEnd), m.machine.cpus)
		p("were using the machine, so the processes measured got only part of it (each run's CPU share is\n")
		p("in [Every run](#every-run)). Rates and latencies are low and noisy: compare them as ratios within\n")
		p("one run, not across runs. CPU per message is the steadiest measure.\n\n")
	}

	p("## Issue 13's table\n\n")
	p("| measure | Web-STOMP | direct AMQP | stomp-gateway | ratio | goal | met |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, r := range s.table() {
		p("| %s | %s | %s | %s | %s | %s | %s |\n", r.measure, r.webstomp, r.amqp, r.gateway, orDash(r.ratio), r.goal, r.met)
	}
	p("\n")
	p("A range is the lowest and highest of the rounds; ratios and goals use their mean. `*`: a run of\n")
	p("that cell failed one of stomp-bench's own checks (a backlog left after the drain, messages\n")
	p("missing, sessions lost): see [Every run](#every-run). How each row is measured:\n\n")
	p("- Throughput: `stomp-bench throughput` (`amqp-throughput` for direct AMQP) with the publishers sending\n")
	p("  as fast as they can for the measured time; the rate is what the subscribers received in that\n")
	p("  time. STOMP publishers send without receipts unless the row says so; the AMQP publisher uses\n")
	p("  publisher confirms, pipelined (1,000 in flight), as the gateway does for every SEND. Subscribers\n")
	p("  use `ack:auto` (AMQP: no-ack consumers). \"backlog grows\": the publishers sent faster than the\n")
	p("  subscribers received, so the queue grew through the run.\n")
	p("- CPU: user + system time of the process (`/proc/<pid>/stat`) over the measured window, divided by\n")
	p("  the messages of the window; at 2,000 msg/s by the messages sent (`stomp-bench latency -rate 2000`,\n")
	p("  open loop), at saturation by the messages delivered in the /queue 1 / 1 throughput runs. Web-STOMP's\n")
	p("  figure is the whole node's (beam.smp: broker and STOMP in one process); \"broker alone\" is the\n")
	p("  node's CPU per message for direct AMQP.\n")
	p("- Fan-out: `stomp-bench fanout`, one publisher at a fixed rate to one topic with 1,000 subscriber\n")
	p("  sessions; deliveries/s count the messages due in the window that arrived by the end of the drain,\n")
	p("  so late ones count too: the p99, from each message's intended send time (no coordinated\n")
	p("  omission), says how late. \"backlog grows\": some had not arrived when the drain ended.\n")
	p("- Idle sessions: `stomp-bench idle`, each session CONNECTs and SUBSCRIBEs to a topic of its own, is held\n")
	p("  idle, then gets one message; RSS per session is (RSS after the hold - RSS before the first session) /\n")
	p("  sessions, of the gateway process and of beam.smp for Web-STOMP.\n")
	p("- Connects: `stomp-bench connects`, 32 loops of dial, CONNECT, CONNECTED, DISCONNECT; the gateway\n")
	p("  authenticates nobody (`none`), Web-STOMP checks guest's password in its internal database.\n\n")

	writeSpeed(w, s)
	writeFloor(w, s)
	writeBudget(w, s, m.machine.cpus)
	writeIdleMetrics(w, dir, s)
	writeRuns(w, s)
	if len(m.profiles) > 0 {
		p("## Gateway profiles\n\n")
		p("CPU profiles of the gateway (`STOMP_GATEWAY_PPROF=true`, `go tool pprof -top`), taken in separate\n")
		p("runs so that profiling does not touch the numbers above, and its heap with every idle session open.\n")
		p("The raw profiles are in the results folder (`bin/bench-e2e/profile-*.pb.gz`).\n\n")
		for _, path := range m.profiles {
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "profile-"), ".txt")
			text := profileText(path)
			p("### %s\n\n```\n%s```\n\n", profileTitle(name), text)
			if name == "saturation" {
				writeSaturationShares(w, text, s)
			}
		}
	}
}

// writeFloor reads the gateway's CPU numbers against what this machine
// charges any process for the same work (stomp-bench floor).
func writeFloor(w io.Writer, s set) {
	fl := s.of("floor", "machine")
	if len(fl) == 0 {
		return
	}
	f := fl[0].Result
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## What this machine charges\n\n")
	p("`stomp-bench floor`, in the same run: two Go programs that do nothing but what a relay cannot\n")
	p("avoid, the floor under the CPU rows above.\n\n")
	p("| work | CPU on this machine | the gateway's, for the same |\n|---|---|---|\n")
	gw := s.cell("cpu2000", "gateway", cpuOf(server, perMessage))
	gwNote := "-"
	if gw.ok() && f.WakeCPUUS > 0 {
		gwNote = fmt.Sprintf("%s per relayed message at 2,000 msg/s: %.1fx the wakes' floor of %s", us(gw.mean), gw.mean/(3*f.WakeCPUUS), us(3*f.WakeCPUUS))
	}
	p("| a wake from idle, %.0f times a second (a process sleeping until its next event) | %.1f us per wake | %s |\n", f.WakeRate, f.WakeCPUUS, gwNote)
	fan := s.cell(fmt.Sprintf("fanout%.0f", f.WriteRate), "gateway", cpuOf(server, perDelivery))
	fanNote := "-"
	if fan.ok() && f.WriteCPUUS > 0 {
		fanNote = fmt.Sprintf("%.1f us per delivery (fan-out, 1,000 subs x %.0f msg/s): %.2fx one write", fan.mean, f.WriteRate, fan.mean/f.WriteCPUUS)
	}
	p("| a %d-byte write to each of %d loopback sockets, %.0f times a second, another process reading | writer %.1f us per write (%.0f%% of a core); reader %.1f us | %s |\n\n",
		f.Size, f.Sockets, f.WriteRate, f.WriteCPUUS, f.WriterPercent, f.ReadCPUUS, fanNote)
	p("A message relayed at a low rate is at least three events for the gateway that arrive apart (the\n")
	p("SEND, RabbitMQ's confirm, the delivery), each a wake from idle; on a virtual machine a wake costs\n")
	p("tens of microseconds where bare metal takes one or two. A fan-out delivery is a write to a socket\n")
	p("whose reader (here stomp-bench, on the same 2 cores) sleeps: the writer's system call pays for\n")
	p("waking it. Below these floors only fewer events help: more messages per write (which the\n")
	p("gateway gets under load, when a session's queue holds several), or fewer processes to wake.\n\n")
}

func profileTitle(name string) string {
	switch name {
	case "cpu2000":
		return "CPU at 2,000 msg/s (/queue 1 / 1)"
	case "saturation":
		return "CPU at saturation (/queue 1 / 1)"
	case "fanout200":
		return "CPU in fan-out, 1,000 subscribers x 200 msg/s"
	case "connects":
		return "CPU while connecting (connects mode)"
	case "idle-heap":
		return "heap in use with every idle session open"
	}
	return name
}

// profileText returns a saved pprof listing without the lines that
// change with every build (File, Build ID).
func profileText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(l, "File: ") || strings.HasPrefix(l, "Build ID: ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// writeIdleMetrics reads the gateway's /metrics scraped halfway through the
// idle hold: goroutines and Go memory per session say where the RSS goes.
func writeIdleMetrics(w io.Writer, dir string, s set) {
	b, err := os.ReadFile(filepath.Join(dir, "idle.gateway.metrics"))
	if err != nil {
		return
	}
	n := s.cell("idle", "gateway", established)
	if !n.ok() || n.mean == 0 {
		return
	}
	mt := parseMetrics(b)
	fmt.Fprintf(w, "## Where an idle gateway session's memory goes\n\n")
	fmt.Fprintf(w, "The gateway's `/metrics` halfway through the hold, %.0f sessions open:\n\n", n.mean)
	fmt.Fprintf(w, "| metric | total | per session |\n|---|---|---|\n")
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"} {
		v, ok := mt[k]
		if !ok {
			continue
		}
		if strings.HasSuffix(k, "_bytes") {
			fmt.Fprintf(w, "| `%s` | %.1f MB | %.1f KB |\n", k, v/(1<<20), v/1024/n.mean)
		} else {
			fmt.Fprintf(w, "| `%s` | %.0f | %.2f |\n", k, v, v/n.mean)
		}
	}
	fmt.Fprintln(w)
}

// parseMetrics reads unlabelled samples of a Prometheus text page.
func parseMetrics(b []byte) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

// writeRuns lists every run with its main numbers and failed checks.
func writeRuns(w io.Writer, s set) {
	fmt.Fprintf(w, "## Every run\n\n| run | mode | numbers | checks |\n|---|---|---|---|\n")
	runs := append([]*run{}, s.runs...)
	// The runs under the profiler last: their numbers carry its cost.
	sort.SliceStable(runs, func(i, j int) bool { return !isProfileRun(runs[i]) && isProfileRun(runs[j]) })
	for _, r := range runs {
		checks := "OK"
		if !r.OK {
			checks = "failed: " + strings.Join(r.FailedChecks, "; ")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Name, r.Mode, runNumbers(r), checks)
	}
	fmt.Fprintln(w)
}

func isProfileRun(r *run) bool { return strings.HasPrefix(r.Name, "profile-run-") }

func runNumbers(r *run) string {
	x := r.Result
	var parts []string
	switch r.Mode {
	case "throughput", "amqp-throughput":
		parts = append(parts, fmt.Sprintf("%d pub / %d sub", x.Publishers, x.Subscribers),
			fmt.Sprintf("sent %s/s", num(x.SentPerSecond)))
		if x.Receipts {
			parts = append(parts, fmt.Sprintf("confirmed %s/s", num(x.ConfirmedPerSecond)))
		}
		parts = append(parts, fmt.Sprintf("delivered %s/s", num(x.DeliveredPerSecond)))
		if x.Undelivered > 0 {
			parts = append(parts, fmt.Sprintf("%d undelivered", x.Undelivered))
		}
	case "latency", "fanout":
		parts = append(parts, fmt.Sprintf("%d subs at %s msg/s", x.Subscribers, num(x.TargetRate)),
			fmt.Sprintf("delivered %s/s", num(x.DeliveriesPerSec)),
			fmt.Sprintf("p50 %s, p99 %s, p99.9 %s, max %s", ms(x.Latency.P50MS), ms(x.Latency.P99MS), ms(x.Latency.P999MS), ms(x.Latency.MaxMS)))
		if x.Missing > 0 {
			parts = append(parts, fmt.Sprintf("%d missing", x.Missing))
		}
	case "idle":
		parts = append(parts, fmt.Sprintf("%d/%d established at %s/s", x.Established, x.Sessions, num(x.ConnectRate)),
			fmt.Sprintf("%d alive after %.0f s", x.Alive, x.HoldSeconds))
		if x.ServerRSS != nil {
			parts = append(parts, fmt.Sprintf("server RSS %.1f -> %.1f MB, %.1f KB per session",
				float64(x.ServerRSS.BeforeKB)/1024, float64(x.ServerRSS.IdleKB)/1024, x.ServerRSS.PerSessionKB))
		}
	case "floor":
		parts = append(parts, fmt.Sprintf("wake from idle %.1f us at %.0f/s", x.WakeCPUUS, x.WakeRate),
			fmt.Sprintf("%d-byte loopback writes to %d sockets x %.0f/s: writer %.0f%%, %.1f us/write; reader %.0f%%, %.1f us/write",
				x.Size, x.Sockets, x.WriteRate, x.WriterPercent, x.WriteCPUUS, x.ReaderPercent, x.ReadCPUUS))
	case "connects":
		parts = append(parts, fmt.Sprintf("%s connects/s", num(x.ConnectsPerSecond)),
			fmt.Sprintf("CONNECT to CONNECTED p50 %s, p99 %s", ms(x.ConnectFrame.P50MS), ms(x.ConnectFrame.P99MS)))
		if x.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d failed", x.Failed))
		}
	}
	for _, c := range []struct {
		who string
		c   *cpu
	}{{"server", x.ServerCPU}, {"broker", x.BrokerCPU}, {"stomp-bench", x.ClientCPU}} {
		if c.c != nil {
			parts = append(parts, fmt.Sprintf("%s CPU %.0f%%, %.1f us/msg, %.1f us/delivery", c.who, 100*c.c.Cores, c.c.USPerMessage, c.c.USPerDelivery))
		}
	}
	return strings.Join(parts, "; ")
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstFloat(s string) float64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
