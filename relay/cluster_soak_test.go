//go:build cluster

package relay_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// TestClusterSoak churns sessions on a gateway process in front of the
// cluster while nodes crash and come back, then checks that the gateway's
// goroutines, open files and resident memory return to their baseline.
//
// Each client goroutine loops: connect, subscribe to a topic of its own and
// (client-individual) to one of four quorum queues, send three messages to
// each with receipts, wait for the receipts and its topic messages, ack
// what the queue delivered, then DISCONNECT, or (one time in six) drop the
// socket without a word. Every STOMP_GATEWAY_SOAK_RESTART_EVERY a node is
// killed (kill -9) and started again, in turn.
//
//	STOMP_GATEWAY_SOAK                 how long to churn (default 60s; make soak-cluster: 30m)
//	STOMP_GATEWAY_SOAK_RESTART_EVERY   default a sixth of that, at least 20s (30m: every 5m)
//	STOMP_GATEWAY_SOAK_CLIENTS         concurrent clients (default 40)
func TestClusterSoak(t *testing.T) {
	c := requireCluster(t)
	t.Cleanup(func() {
		if err := c.Heal(); err != nil {
			t.Error(err)
		}
	})
	duration := envDuration(t, "STOMP_GATEWAY_SOAK", time.Minute)
	every := envDuration(t, "STOMP_GATEWAY_SOAK_RESTART_EVERY", max(duration/6, 20*time.Second))
	clients := envInt(t, "STOMP_GATEWAY_SOAK_CLIENTS", 40)
	bin := gatewayBinary(t)
	gw := startGateway(t, bin, "soak", c)
	prefix := clusterPrefix()
	var queues []string
	for i := range 4 {
		queues = append(queues, fmt.Sprintf("%ssoak.q%d", prefix, i))
	}
	deleteClusterQueues(t, c, queues...)
	s := &soak{url: gw.wsURL(), prefix: prefix, queues: queues}

	// Warm-up: the same churn for a few seconds, so the baseline includes
	// what the first sessions allocate for good (pools, node queues).
	s.run(clients, time.Now().Add(5*time.Second))
	base := settle(t, gw, nil)
	t.Logf("baseline after warm-up (%d sessions): %s", s.sessions.Load(), base)
	s.reset()

	start := time.Now()
	stop := start.Add(duration)
	restarts := make(chan []window, 1)
	go func() { restarts <- restartNodes(t, c, start, stop, every) }()
	s.run(clients, stop)
	windows := <-restarts
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	end := settle(t, gw, &base)

	expected, unexpected := s.classify(windows)
	line := fmt.Sprintf("soak: %v, %d clients, %d sessions (%d dropped without DISCONNECT), %d messages receipted, %d node restarts, %d errors (%d during restarts, %d otherwise); goroutines %s, open fds %s, RSS %s",
		duration, clients, s.sessions.Load(), s.dropped.Load(), s.receipted.Load(), len(windows), expected+len(unexpected), expected, len(unexpected),
		change(base.goroutines, end.goroutines, 1), change(base.fds, end.fds, 1), change(base.rss, end.rss, 1<<20)+" MB")
	t.Log(line)
	fmt.Println(line)
	for _, kind := range s.kinds() {
		t.Logf("errors: %s", kind)
	}
	if expected+len(unexpected) > 0 {
		t.Logf("the gateway's warnings and errors:\n%s", logSummary(gw.logs.String()))
	}
	for _, e := range unexpected {
		t.Errorf("error outside any node restart: %s", e)
	}
	if s.sessions.Load() < int64(clients) {
		t.Errorf("only %d sessions in %v", s.sessions.Load(), duration)
	}
	// Goroutines and open files come back exactly, give or take a few in
	// flight (an admin request, a relay channel being reopened); RSS may
	// keep some of the heap the peak needed (Go returns freed memory to the
	// OS gradually), so it gets 50% or 16 MB, whichever is more.
	if end.goroutines > base.goroutines+10 {
		t.Errorf("goroutines %v after the churn, %v before: a leak", end.goroutines, base.goroutines)
	}
	if end.fds > base.fds+5 {
		t.Errorf("open files %v after the churn, %v before: a leak", end.fds, base.fds)
	}
	if end.rss > max(base.rss*1.5, base.rss+16<<20) {
		t.Errorf("RSS %.1f MB after the churn, %.1f MB before", end.rss/(1<<20), base.rss/(1<<20))
	}
	if end.sessions != 0 {
		t.Errorf("%v sessions still open after every client left", end.sessions)
	}
}

// soak is the client side of the soak: counters and the errors seen.
type soak struct {
	url    string
	prefix string
	queues []string

	sessions, dropped, receipted atomic.Int64

	mu     sync.Mutex
	errors []soakError
}

type soakError struct {
	at   time.Time
	what string
}

func (s *soak) reset() {
	s.sessions.Store(0)
	s.dropped.Store(0)
	s.receipted.Store(0)
	s.mu.Lock()
	s.errors = nil
	s.mu.Unlock()
}

// run churns with n clients until stop.
func (s *soak) run(n int, stop time.Time) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := s.session(i); err != nil {
					s.mu.Lock()
					s.errors = append(s.errors, soakError{time.Now(), err.Error()})
					s.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

// session is one client's session, start to end.
func (s *soak) session(i int) error {
	c, err := dialStomp(s.url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.close()
	s.sessions.Add(1)
	topic := fmt.Sprintf("/topic/%ssoak.c%d", s.prefix, i)
	queue := "/queue/" + s.queues[i%len(s.queues)]
	if err := c.subscribe("t", topic); err != nil {
		return fmt.Errorf("subscribe topic: %w", err)
	}
	if err := c.subscribe("q", queue, "ack:client-individual", "x-queue-type:quorum", "prefetch-count:10"); err != nil {
		return fmt.Errorf("subscribe queue: %w", err)
	}
	const each = 3
	for k := range each {
		if err := c.send(stomp.CmdSend, fmt.Sprintf("t%d", k), "destination:"+topic, fmt.Sprintf("receipt:t%d", k)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if err := c.send(stomp.CmdSend, fmt.Sprintf("q%d", k), "destination:"+queue, "persistent:true", fmt.Sprintf("receipt:q%d", k)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	receipts, topicMessages := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for receipts < 2*each || topicMessages < each {
		f, err := c.readUntil(deadline)
		if err != nil {
			if strings.Contains(err.Error(), "timeout") {
				return fmt.Errorf("timeout: %d of %d receipts, %d of %d topic messages in 10 s", receipts, 2*each, topicMessages, each)
			}
			return fmt.Errorf("read: %w", err)
		}
		switch {
		case f.Command == stomp.CmdReceipt:
			receipts++
			s.receipted.Add(1)
		case f.Command == stomp.CmdMessage && f.Get("subscription") == "t":
			topicMessages++
		case f.Command == stomp.CmdMessage && f.Get("subscription") == "q":
			if err := c.send(stomp.CmdAck, "", "id:"+f.Get("ack")); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
		default:
			return frameError(f)
		}
	}
	if rand.IntN(6) == 0 {
		s.dropped.Add(1)
		return nil // the deferred close drops the socket
	}
	if err := c.disconnect(); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	return nil
}

// window is a node restart: from the kill until some seconds after the
// node was up again (sessions restoring consumers).
type window struct{ from, to time.Time }

// restartGrace is how long after a node is back errors still count as the
// restart's.
const restartGrace = 10 * time.Second

// classify splits the errors into those during a restart window and the
// others.
func (s *soak) classify(ws []window) (during int, outside []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errors {
		in := false
		for _, w := range ws {
			in = in || (!e.at.Before(w.from) && !e.at.After(w.to))
		}
		if in {
			during++
		} else {
			outside = append(outside, e.at.Format("15:04:05.000")+" "+e.what)
		}
	}
	return during, outside
}

// kinds summarises the errors by their text up to the first colon, with
// the first one of each kind in full.
func (s *soak) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	first := map[string]string{}
	for _, e := range s.errors {
		kind, _, _ := strings.Cut(e.what, ":")
		if n[kind] == 0 {
			first[kind] = e.at.Format("15:04:05.000") + " " + e.what
		}
		n[kind]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%d x %s (first: %s)", v, k, first[k]))
	}
	sort.Strings(out)
	return out
}

// restartNodes kills a node (in turn) every interval from start until
// stop and starts it again at once; it returns the restart windows.
func restartNodes(t *testing.T, c *relaytest.Cluster, start, stop time.Time, every time.Duration) []window {
	var ws []window
	for k := 0; ; k++ {
		at := start.Add(time.Duration(k+1) * every)
		if !at.Before(stop) {
			return ws
		}
		time.Sleep(time.Until(at))
		i := k % c.Size()
		w := window{from: time.Now()}
		if err := c.Kill(i); err != nil {
			t.Errorf("restart %d: %v", k+1, err)
			return ws
		}
		if err := c.Start(i); err != nil {
			t.Errorf("restart %d: %v", k+1, err)
			return ws
		}
		w.to = time.Now().Add(restartGrace)
		t.Logf("%s node %s restarted (down %.1f s)", w.from.Format("15:04:05.000"), c.Name(i), time.Since(w.from).Seconds())
		ws = append(ws, w)
	}
}

// sample is what the gateway's /metrics says about its resources.
type sample struct {
	goroutines, fds, rss, sessions float64
}

func (s sample) String() string {
	return fmt.Sprintf("%v goroutines, %v open fds, RSS %.1f MB, %v sessions", s.goroutines, s.fds, s.rss/(1<<20), s.sessions)
}

// settle waits until the gateway has no session left and its goroutines
// stop falling (or, with a baseline, are back within its margin), up to
// 60 s, and returns the last sample.
func settle(t *testing.T, gw *gatewayProc, base *sample) sample {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last sample
	steady := 0
	for {
		time.Sleep(time.Second)
		m, err := gw.metrics()
		if err != nil {
			t.Fatal(err)
		}
		s := sample{goroutines: m["go_goroutines"], fds: m["process_open_fds"], rss: m["process_resident_memory_bytes"], sessions: m["stomp_gateway_sessions"]}
		if s.sessions == 0 && s.goroutines == last.goroutines {
			steady++
		} else {
			steady = 0
		}
		last = s
		back := base != nil && s.sessions == 0 && s.goroutines <= base.goroutines && s.fds <= base.fds
		if steady >= 3 || back || time.Now().After(deadline) {
			return s
		}
	}
}

// change shows a value before and after, divided by unit.
func change(before, after, unit float64) string {
	return fmt.Sprintf("%.0f -> %.0f", before/unit, after/unit)
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// logSummary counts a gateway log's warn and error lines by level,
// message and error.
func logSummary(logs string) string {
	n := map[string]int{}
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Level, Message, Error, Op string
		}
		if json.Unmarshal([]byte(line), &l) != nil || (l.Level != "warn" && l.Level != "error") {
			continue
		}
		n[fmt.Sprintf("%s %q op=%s error=%q", l.Level, l.Message, l.Op, l.Error)]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%5d x %s", v, k))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
