//go:build linux

package relaytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Cluster is N private RabbitMQ nodes of the installed rabbitmq-server,
// joined with join_cluster, for the cluster tests (`make test-cluster`).
// Each node has its own name (sgc1@localhost, ...), AMQP and distribution
// ports, and data folder under a temporary directory; none has plugins.
// The system node (rabbit@localhost on 5672) is never touched.
//
// Each node runs as the rabbitmq user (so it shares that user's Erlang
// cookie with rabbitmqctl) under a reaper (reaper.go) that kills and reaps
// everything the node started once a pipe this process holds closes: the
// nodes die with the test binary even when it panics, times out or is
// killed, and leave no zombie behind. Stop kills them at once and checks
// that nothing with their names is left; StartCluster first kills what an
// earlier run may have left with the same node names.
//
// Its methods are safe for concurrent use.
type Cluster struct {
	opts ClusterOptions
	dir  string

	mu    sync.Mutex
	nodes []*clusterNode
}

// ClusterOptions says how many nodes to run and where.
type ClusterOptions struct {
	// Nodes is the cluster size (default 3).
	Nodes int
	// Prefix names the nodes: Prefix1@localhost, Prefix2@localhost, ...
	// (default "sgc").
	Prefix string
	// AMQPPort is node 1's AMQP port; node i listens on AMQPPort+i-1
	// (default 5691).
	AMQPPort int
	// DistPort is node 1's Erlang distribution port (default 25691).
	DistPort int
	// Log gets a line per step (boots, joins, kills), with timings.
	Log io.Writer
}

type clusterNode struct {
	name string
	amqp int
	dist int
	dir  string

	proc *reaped // its rabbitmq-server under a reaper; nil while stopped
}

const (
	rabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitmqCtl    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
	rabbitmqHome   = "/var/lib/rabbitmq"
	// bootTimeout bounds one node's boot (5-15 s on 2 cores).
	bootTimeout = 90 * time.Second
	// ctlTimeout bounds one rabbitmqctl command.
	ctlTimeout = 60 * time.Second
)

// ClusterSupported reports why this machine cannot run a private cluster:
// the nodes run as the rabbitmq user, which needs root, and need the
// installed rabbitmq-server, setpriv and prlimit.
func ClusterSupported() error {
	if os.Geteuid() != 0 {
		return errors.New("the cluster tests run RabbitMQ nodes as the rabbitmq user, which needs root")
	}
	for _, f := range []string{rabbitmqServer, rabbitmqCtl} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("rabbitmq-server is not installed (%v); apt-get install rabbitmq-server", err)
		}
	}
	for _, tool := range []string{"setpriv", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not on PATH (util-linux)", tool)
		}
	}
	if _, err := user.Lookup("rabbitmq"); err != nil {
		return fmt.Errorf("no rabbitmq user: %v", err)
	}
	return nil
}

// StartCluster boots the nodes in parallel, joins nodes 2..N to node 1
// (stop_app, join_cluster, start_app) and returns once every node runs in
// the cluster. On error nothing is left running.
func StartCluster(opts ClusterOptions) (*Cluster, error) {
	if err := ClusterSupported(); err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.Prefix == "" {
		opts.Prefix = "sgc"
	}
	if opts.AMQPPort == 0 {
		opts.AMQPPort = 5691
	}
	if opts.DistPort == 0 {
		opts.DistPort = 25691
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	c := &Cluster{opts: opts}
	for i := range opts.Nodes {
		c.nodes = append(c.nodes, &clusterNode{
			name: fmt.Sprintf("%s%d@localhost", opts.Prefix, i+1),
			amqp: opts.AMQPPort + i,
			dist: opts.DistPort + i,
		})
	}
	start := time.Now()
	c.killStale()
	for _, n := range c.nodes {
		for _, port := range []int{n.amqp, n.dist} {
			if portInUse(port) {
				return nil, fmt.Errorf("port %d, which node %s needs, is in use by another program", port, n.name)
			}
		}
	}
	dir, err := os.MkdirTemp("", staleDirPrefix+opts.Prefix+"-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	// The rabbitmq user must reach the nodes' folders.
	if err := os.Chmod(dir, 0o755); err != nil {
		c.Stop()
		return nil, err
	}
	errs := make(chan error, len(c.nodes))
	for i := range c.nodes {
		go func() { errs <- c.boot(i) }()
	}
	var bootErr error
	for range c.nodes {
		bootErr = errors.Join(bootErr, <-errs)
	}
	if bootErr != nil {
		c.Stop()
		return nil, bootErr
	}
	c.logf("cluster: %d nodes booted in %.1f s", len(c.nodes), time.Since(start).Seconds())
	joined := time.Now()
	for i := 1; i < len(c.nodes); i++ {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.nodes[0].name}, {"start_app"}} {
			if _, err := c.Ctl(i, args...); err != nil {
				c.Stop()
				return nil, err
			}
		}
	}
	if _, err := c.Ctl(0, "await_online_nodes", strconv.Itoa(len(c.nodes)), "--timeout", "60"); err != nil {
		c.Stop()
		return nil, err
	}
	c.logf("cluster: %d nodes joined in %.1f s (%.1f s in all)", len(c.nodes), time.Since(joined).Seconds(), time.Since(start).Seconds())
	return c, nil
}

// staleDirPrefix names the clusters' temporary folders, so a later run
// can remove what a crashed one left.
const staleDirPrefix = "stomp-gateway-cluster-"

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, format+"\n", args...)
}

// Size is the number of nodes.
func (c *Cluster) Size() int { return len(c.nodes) }

// Name is node i's Erlang node name (i from 0).
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// Addr is node i's AMQP address, host:port.
func (c *Cluster) Addr(i int) string { return "127.0.0.1:" + strconv.Itoa(c.nodes[i].amqp) }

// URL is node i's AMQP URL (guest on the default virtual host).
func (c *Cluster) URL(i int) string { return "amqp://guest:guest@" + c.Addr(i) + "/" }

// URLs are every node's AMQP URL, node 1 first.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i := range c.nodes {
		urls[i] = c.URL(i)
	}
	return urls
}

// Index is the index of the node with Erlang name (or AMQP host:port)
// name, -1 when none.
func (c *Cluster) Index(name string) int {
	for i, n := range c.nodes {
		if n.name == name || c.Addr(i) == name {
			return i
		}
	}
	return -1
}

// boot starts node i with a fresh data folder and waits until it runs.
func (c *Cluster) boot(i int) error {
	n := c.nodes[i]
	n.dir = filepath.Join(c.dir, strings.TrimSuffix(n.name, "@localhost"))
	for _, d := range []string{n.dir, filepath.Join(n.dir, "mnesia"), filepath.Join(n.dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"rabbitmq.conf":   fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\n", n.amqp),
		"enabled_plugins": "[].\n", // no plugins
		"env.conf":        "",      // not /etc/rabbitmq/rabbitmq-env.conf
		"advanced.config": "[].\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := chownRabbitmq(n.dir); err != nil {
		return err
	}
	return c.run(i)
}

// run starts node i's VM on its data folder under a guard and waits until
// the node has booted.
func (c *Cluster) run(i int) error {
	start := time.Now()
	c.mu.Lock()
	n := c.nodes[i]
	if n.proc != nil {
		c.mu.Unlock()
		return fmt.Errorf("node %s is already running", n.name)
	}
	pidFile := filepath.Join(n.dir, "pid")
	_ = os.Remove(pidFile) // a killed node's stale one
	server := []string{
		"prlimit", "--nofile=20000:20000",
		"setpriv", "--reuid=rabbitmq", "--regid=rabbitmq", "--init-groups",
		"env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + rabbitmqHome,
		"RABBITMQ_NODENAME=" + n.name,
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(n.dist),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(n.dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(n.dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(n.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(n.dir, "log"),
		"RABBITMQ_PID_FILE=" + pidFile,
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(n.dir, "env.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(n.dir, "advanced.config"),
		// Distribution on loopback only, as the system node's.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		rabbitmqServer,
	}
	log, err := os.OpenFile(filepath.Join(n.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	p, err := startReaped(n.dir, log, server...)
	log.Close()
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	n.proc = p
	c.mu.Unlock()

	if _, err := c.Ctl(i, "wait", "--timeout", strconv.Itoa(int(bootTimeout.Seconds())), pidFile); err != nil {
		return fmt.Errorf("node %s did not boot: %w\n%s", n.name, err, c.logTail(i))
	}
	c.logf("cluster: node %s up on %s in %.1f s", n.name, c.Addr(i), time.Since(start).Seconds())
	return nil
}

// logTail is the end of node i's logs, for errors.
func (c *Cluster) logTail(i int) string {
	n := c.nodes[i]
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(n.dir, "log", "*.log"))
	for _, f := range append([]string{filepath.Join(n.dir, "stdout.log")}, logs...) {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", f, data)
	}
	return b.String()
}

// Running reports whether node i's VM is up (it may still be booting).
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	n := c.nodes[i]
	c.mu.Unlock()
	return vmPid(n) > 0
}

// vmPid is the pid of n's Erlang VM from its pid file, 0 when it has none
// or the process is gone.
func vmPid(n *clusterNode) int {
	b, err := os.ReadFile(filepath.Join(n.dir, "pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if !hasEnv(pid, "RABBITMQ_NODENAME="+n.name) {
		return 0 // gone, or the pid was reused
	}
	return pid
}

// Kill crashes node i: kill -9 of its Erlang VM (the pid file's process),
// no polite stop. It returns once the VM is gone; its AMQP clients see
// their connections drop at once.
func (c *Cluster) Kill(i int) error {
	c.mu.Lock()
	n := c.nodes[i]
	c.mu.Unlock()
	pid := vmPid(n)
	if pid == 0 {
		return fmt.Errorf("node %s is not running", n.name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d (%s): %w", pid, n.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for processExists(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s (pid %d) still there 10 s after kill -9", n.name, pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.logf("cluster: node %s killed (kill -9 %d)", n.name, pid)
	return nil
}

// Start boots node i again on its data folder after Kill: it rejoins the
// cluster. It returns once the node runs.
func (c *Cluster) Start(i int) error {
	c.reap(i)
	return c.run(i)
}

// Heal starts every node that is not running, in parallel, so a test
// leaves the whole cluster up for the next one.
func (c *Cluster) Heal() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		if c.Running(i) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Start(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reap kills what is left of node i's processes and forgets them.
func (c *Cluster) reap(i int) {
	c.mu.Lock()
	n := c.nodes[i]
	p := n.proc
	n.proc = nil
	c.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Stop kills every node at once (no polite stop: the data goes too),
// makes sure no process of theirs is left, and removes their folders.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.reap(i)
		}()
	}
	wg.Wait()
	c.killStale()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	c.logf("cluster: stopped")
}

// killStale kills -9 every process that runs one of this cluster's node
// names (the node's scripts and VM carry RABBITMQ_NODENAME in their
// environment): leftovers of a run that crashed before it could stop
// them. It then removes the folders such runs left.
func (c *Cluster) killStale() {
	want := map[string]bool{}
	for _, n := range c.nodes {
		want["RABBITMQ_NODENAME="+n.name] = true
	}
	procs, _ := os.ReadDir("/proc")
	var killed []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if want[string(kv)] {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed = append(killed, pid)
				}
				break
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range killed {
		for processExists(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if len(killed) > 0 {
		c.logf("cluster: killed %d leftover processes of nodes %s*: %v", len(killed), c.opts.Prefix, killed)
	}
	if c.dir == "" {
		old, _ := filepath.Glob(filepath.Join(os.TempDir(), staleDirPrefix+c.opts.Prefix+"-*"))
		for _, d := range old {
			_ = os.RemoveAll(d)
		}
	}
}

// hasEnv reports whether process pid's environment holds kv.
func hasEnv(pid int, kv string) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(env, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}

// processExists reports whether pid is alive (a zombie counts as gone).
func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func portInUse(port int) bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func chownRabbitmq(dir string) error {
	u, err := user.Lookup("rabbitmq")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
