//go:build cluster

package relay_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// The cluster tests (`make test-cluster`, build tag cluster) run the
// gateway against a 3-node RabbitMQ cluster of private nodes on this
// machine (relaytest.Cluster), started once for the package and stopped by
// TestMain. They kill nodes, so none runs in parallel, and each leaves
// every node running for the next (requireCluster heals the cluster).

var (
	clusterMu  sync.Mutex
	theCluster *relaytest.Cluster
	clusterErr error
	clusterRan bool
)

func init() {
	stopCluster = func() {
		clusterMu.Lock()
		defer clusterMu.Unlock()
		if theCluster != nil {
			theCluster.Stop()
			theCluster = nil
		}
	}
}

// requireCluster starts the cluster on first use and makes sure every
// node runs. Without root or rabbitmq-server the test fails under CI (or
// STOMP_GATEWAY_REQUIRE_CLUSTER) and skips loudly otherwise.
func requireCluster(t *testing.T) *relaytest.Cluster {
	t.Helper()
	if err := relaytest.ClusterSupported(); err != nil {
		msg := "the cluster tests cannot run: " + err.Error()
		if os.Getenv("CI") != "" || os.Getenv("STOMP_GATEWAY_REQUIRE_CLUSTER") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	clusterMu.Lock()
	defer clusterMu.Unlock()
	if !clusterRan {
		clusterRan = true
		theCluster, clusterErr = relaytest.StartCluster(relaytest.ClusterOptions{Log: os.Stdout})
	}
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	if err := theCluster.Heal(); err != nil {
		t.Fatal(err)
	}
	return theCluster
}

// clusterNode starts an in-process gateway whose relay is given every
// node's URL (its links start at node 1, 2, ... in turn).
func clusterNode(t *testing.T, c *relaytest.Cluster, tweak ...func(*relay.Config)) *node {
	t.Helper()
	return startNode(t, append([]func(*relay.Config){func(cfg *relay.Config) {
		cfg.URLs = c.URLs()
		cfg.ReconnectMin = 50 * time.Millisecond
		cfg.ReconnectMax = time.Second
	}}, tweak...)...)
}

// clusterPrefix is a name prefix unique to one test.
func clusterPrefix() string { return "sgtest." + strings.ToLower(rand.Text()[:8]) + "." }

// deleteClusterQueues removes queues from the cluster when the test ends
// (giving up after 15 s: an AMQP call has no deadline of its own).
func deleteClusterQueues(t *testing.T, c *relaytest.Cluster, queues ...string) {
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			conn, err := c.Dial()
			if err != nil {
				return
			}
			defer conn.Close()
			for _, q := range queues {
				ch, err := conn.Channel()
				if err != nil {
					return
				}
				_, _ = ch.QueueDelete(q, false, false, false)
				ch.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Logf("queues %v not deleted within 15 s", queues)
		}
	})
}

// traffic is a stream of persistent SENDs with receipts to one quorum
// queue from publishing sessions, and client-individual consumers on it
// acking everything, recording every receipt and every delivery.
type traffic struct {
	t     *testing.T
	url   string
	queue string

	mu         sync.Mutex
	sent       map[string]time.Time // body: when its SEND was written
	receipted  map[string]bool
	deliveries map[string][]bool // body: redelivered flag of each delivery
	killedAt   time.Time         // zero until markKill
	flowingAt  time.Time         // first delivery of a message sent after the kill
	problems   []string          // anything a session should never see

	stop    chan struct{}
	writers sync.WaitGroup
	readers sync.WaitGroup
	conns   []*stompConn
}

const (
	// trafficPublishers and trafficConsumers are the sessions of a
	// traffic run.
	trafficPublishers, trafficConsumers = 2, 2
	// publishEvery paces each publisher (about 150 messages/s each).
	publishEvery = 7 * time.Millisecond
	// sendWindow bounds each publisher's SENDs without a receipt yet.
	sendWindow = 50
)

// startTraffic subscribes consumers (declaring the quorum queue, unless
// a publisher already did) and starts the publishers.
func startTraffic(t *testing.T, url, queue string, publishers, consumers int) *traffic {
	t.Helper()
	tr := &traffic{t: t, url: url, queue: queue, sent: map[string]time.Time{}, receipted: map[string]bool{},
		deliveries: map[string][]bool{}, stop: make(chan struct{})}
	t.Cleanup(tr.close)
	for i := range consumers {
		c, err := dialStomp(url)
		if err != nil {
			t.Fatal(err)
		}
		tr.conns = append(tr.conns, c)
		if err := c.subscribe("s", "/queue/"+queue, "ack:client-individual", "x-queue-type:quorum", "prefetch-count:20"); err != nil {
			t.Fatalf("consumer %d: %v", i, err)
		}
		tr.readers.Add(1)
		go tr.consume(c)
	}
	for i := range publishers {
		c, err := dialStomp(url)
		if err != nil {
			t.Fatal(err)
		}
		tr.conns = append(tr.conns, c)
		slots := make(chan struct{}, sendWindow)
		tr.readers.Add(1)
		go tr.receipts(c, slots)
		tr.writers.Add(1)
		go tr.publish(c, i, slots)
	}
	return tr
}

// publish sends persistent messages with receipts until stopped.
func (tr *traffic) publish(c *stompConn, p int, slots chan struct{}) {
	defer tr.writers.Done()
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-tr.stop:
			return
		case slots <- struct{}{}:
		}
		select {
		case <-tr.stop:
			return
		case <-tick.C:
		}
		body := fmt.Sprintf("p%d-%d", p, seq)
		tr.mu.Lock()
		tr.sent[body] = time.Now()
		tr.mu.Unlock()
		// The first SEND declares the queue as quorum when no consumer
		// has yet.
		if err := c.send(stomp.CmdSend, body, "destination:/queue/"+tr.queue, "persistent:true", "receipt:"+body, "x-queue-type:quorum"); err != nil {
			tr.problem("publisher %d: write: %v", p, err)
			return
		}
	}
}

// receipts reads a publisher's RECEIPTs.
func (tr *traffic) receipts(c *stompConn, slots chan struct{}) {
	defer tr.readers.Done()
	for {
		f, err := c.read()
		if err != nil {
			tr.closed(err)
			return
		}
		if f.Command != stomp.CmdReceipt {
			tr.problem("publisher: %v", frameError(f))
			continue
		}
		tr.mu.Lock()
		tr.receipted[f.Get(stomp.HdrReceiptID)] = true
		tr.mu.Unlock()
		<-slots
	}
}

// consume records and acks every MESSAGE.
func (tr *traffic) consume(c *stompConn) {
	defer tr.readers.Done()
	for {
		f, err := c.read()
		if err != nil {
			tr.closed(err)
			return
		}
		if f.Command != stomp.CmdMessage {
			tr.problem("consumer: %v", frameError(f))
			continue
		}
		body := string(f.Body)
		now := time.Now()
		tr.mu.Lock()
		tr.deliveries[body] = append(tr.deliveries[body], f.Get("redelivered") == "true")
		if !tr.killedAt.IsZero() && tr.flowingAt.IsZero() && tr.sent[body].After(tr.killedAt) {
			tr.flowingAt = now
		}
		tr.mu.Unlock()
		if err := c.send(stomp.CmdAck, "", "id:"+f.Get("ack")); err != nil {
			tr.problem("consumer: ACK: %v", err)
			return
		}
	}
}

func (tr *traffic) problem(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.problems = append(tr.problems, fmt.Sprintf(format, args...))
}

// closed records a session that ended, unless the test is closing it.
func (tr *traffic) closed(err error) {
	select {
	case <-tr.stop:
		if tr.isClosing() {
			return
		}
	default:
	}
	tr.problem("session closed: %v", err)
}

func (tr *traffic) isClosing() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.conns == nil
}

// count returns how many distinct messages were receipted and delivered.
func (tr *traffic) count() (receipted, delivered int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.receipted), len(tr.deliveries)
}

// waitFlowing waits until n messages have been delivered.
func (tr *traffic) waitFlowing(n int) {
	tr.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, d := tr.count(); d >= n {
			return
		}
		if time.Now().After(deadline) {
			r, d := tr.count()
			tr.t.Fatalf("traffic not flowing: %d receipted, %d delivered in 20 s; problems: %v", r, d, tr.problemList())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// markKill notes the moment a node was killed.
func (tr *traffic) markKill(at time.Time) {
	tr.mu.Lock()
	tr.killedAt = at
	tr.mu.Unlock()
}

// failover waits until a message sent after the kill is delivered and
// returns how long after the kill that was.
func (tr *traffic) failover(limit time.Duration) time.Duration {
	tr.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		tr.mu.Lock()
		kill, flowing := tr.killedAt, tr.flowingAt
		tr.mu.Unlock()
		if !flowing.IsZero() {
			return flowing.Sub(kill)
		}
		if time.Now().After(deadline) {
			return time.Since(kill)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish stops publishing, waits for the last receipts and for every
// receipted message to be consumed (up to 30 s), and returns the
// verdict.
func (tr *traffic) finish() verdict {
	tr.t.Helper()
	close(tr.stop)
	tr.writers.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tr.mu.Lock()
		missing := 0
		for body := range tr.receipted {
			if len(tr.deliveries[body]) == 0 {
				missing++
			}
		}
		outstanding := 0
		for body := range tr.sent {
			if !tr.receipted[body] {
				outstanding++
			}
		}
		tr.mu.Unlock()
		if (missing == 0 && outstanding == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A moment for redeliveries still on their way.
	time.Sleep(300 * time.Millisecond)
	tr.close()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	v := verdict{receipted: len(tr.receipted), sent: len(tr.sent), problems: tr.problems}
	for body := range tr.receipted {
		ds := tr.deliveries[body]
		if len(ds) == 0 {
			v.lost++
			continue
		}
		firsts := 0
		for _, redelivered := range ds {
			if !redelivered {
				firsts++
			} else {
				v.redelivered++
			}
		}
		if firsts > 1 {
			v.duplicates++
		}
	}
	for body := range tr.sent {
		if !tr.receipted[body] && len(tr.deliveries[body]) > 0 {
			v.unreceipted++
		}
	}
	if !tr.flowingAt.IsZero() {
		v.failover = tr.flowingAt.Sub(tr.killedAt)
	} else {
		v.failover = -1
	}
	return v
}

// close ends every session (idempotent).
func (tr *traffic) close() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.writers.Wait()
	tr.mu.Lock()
	conns := tr.conns
	tr.conns = nil
	tr.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	tr.readers.Wait()
}

func (tr *traffic) problemList() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.problems)
}

// verdict is what a traffic run came to.
type verdict struct {
	sent, receipted int
	lost            int           // receipted, never delivered
	duplicates      int           // delivered more than once without redelivered:true
	redelivered     int           // deliveries flagged redelivered:true
	unreceipted     int           // delivered without a receipt (the publisher's session ended first)
	failover        time.Duration // kill to the first delivery of a message sent after it; -1: none
	problems        []string
}

// report prints the result line to the test log and to stdout (so make
// shows it).
func report(t *testing.T, label string, v verdict) {
	t.Helper()
	line := fmt.Sprintf("%s: %d receipted, %d lost, failover %.2f s", label, v.receipted, v.lost, v.failover.Seconds())
	t.Log(line)
	fmt.Println(line)
	t.Logf("%d sent, %d redelivered deliveries, %d duplicates, %d delivered without a receipt", v.sent, v.redelivered, v.duplicates, v.unreceipted)
}

// consumerNode returns the node the queue's consumers are on, checking
// that there are n of them, all on one node.
func consumerNode(t *testing.T, c *relaytest.Cluster, queue string, n int) int {
	t.Helper()
	nodes, err := c.ConsumerNodes(queue)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != n {
		t.Fatalf("queue %s has consumers on nodes %v, want %d consumers", queue, nodes, n)
	}
	for _, i := range nodes {
		if i != nodes[0] {
			t.Fatalf("consumers of %s on nodes %v, want them on one (one consuming link)", queue, nodes)
		}
	}
	return nodes[0]
}

// The node carrying the gateway's consuming AMQP connection crashes
// (kill -9) while publishers stream persistent messages with receipts to
// a quorum queue and client-individual consumers ack them: the consumers
// come back on a surviving node within 5 s, no session is closed, and
// every receipted message is consumed, exactly once or else flagged
// redelivered.
func TestClusterFailoverWhenTheConsumingNodeDies(t *testing.T) {
	c := requireCluster(t)
	t.Cleanup(func() {
		if err := c.Heal(); err != nil {
			t.Error(err)
		}
	})
	n := clusterNode(t, c)
	q := clusterPrefix() + "failover"
	deleteClusterQueues(t, c, q)

	// The consumers subscribe first: the quorum queue's leader is on the
	// consuming connection's node, so the kill takes the leader too.
	tr := startTraffic(t, n.Srv.WSURL, q, trafficPublishers, trafficConsumers)
	tr.waitFlowing(200)
	victim := consumerNode(t, c, q, trafficConsumers)
	t.Logf("consumers on %s; queue leader: %s", c.Name(victim), queueLeader(t, c, q))

	tr.markKill(time.Now())
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	failover := tr.failover(15 * time.Second)
	t.Logf("first message sent after the kill delivered %.2f s after it", failover.Seconds())
	checkConsumersMoved(t, c, q, victim, n.Relay.Node())
	time.Sleep(time.Second) // traffic on the surviving nodes
	v := tr.finish()
	report(t, "cluster", v)

	if v.lost != 0 {
		t.Errorf("%d receipted messages lost", v.lost)
	}
	if v.duplicates != 0 {
		t.Errorf("%d messages delivered twice without redelivered:true", v.duplicates)
	}
	if len(v.problems) > 0 {
		t.Errorf("sessions saw problems: %v", v.problems)
	}
	if v.failover < 0 || v.failover > 5*time.Second {
		t.Errorf("failover took %v, want at most 5 s", v.failover)
	}
}

// checkConsumersMoved checks, while the traffic runs, that the relay's
// connections and the queue's consumers are on surviving nodes.
func checkConsumersMoved(t *testing.T, c *relaytest.Cluster, q string, victim int, name string) {
	t.Helper()
	conns, err := c.ConnectionNodes(name)
	if err != nil {
		t.Fatal(err)
	}
	if conns[victim] > 0 || conns[-1] > 0 {
		t.Errorf("gateway connections per node %v: some on the killed node %d", conns, victim)
	}
	nodes, err := c.ConsumerNodes(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != trafficConsumers || slices.Contains(nodes, victim) || slices.Contains(nodes, -1) {
		t.Errorf("consumers of %s on nodes %v after node %d was killed", q, nodes, victim)
	}
	t.Logf("after the failover: gateway connections per node %v, consumers on nodes %v", conns, nodes)
}

// The node carrying the gateway's publishing AMQP connection (and the
// quorum queue's leader) crashes: SENDs not yet confirmed are published
// again on a surviving node, so every receipted message is consumed; a
// message may then be delivered twice (it was on the queue before the
// confirm was lost), which is counted, not failed.
func TestClusterFailoverWhenThePublishingNodeDies(t *testing.T) {
	c := requireCluster(t)
	t.Cleanup(func() {
		if err := c.Heal(); err != nil {
			t.Error(err)
		}
	})
	n := clusterNode(t, c)
	q := clusterPrefix() + "failover-pub"
	deleteClusterQueues(t, c, q)

	// A publisher declares the queue first: its leader is on the
	// publishing connection's node.
	pub := n.Client(t)
	pub.Publish("/queue/"+q, "declare", "persistent:true", "x-queue-type:quorum")
	tr := startTraffic(t, n.Srv.WSURL, q, trafficPublishers, trafficConsumers)
	tr.waitFlowing(200)
	consumers := consumerNode(t, c, q, trafficConsumers)
	conns, err := c.ConnectionNodes(n.Relay.Node())
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i, k := range conns {
		if i != consumers && k > 0 {
			victim = i
		}
	}
	if victim < 0 || len(conns) != 2 {
		t.Fatalf("gateway connections per node %v, consumers on %d: no publishing node apart", conns, consumers)
	}
	t.Logf("publishing connection on %s, consumers on %s; queue leader: %s", c.Name(victim), c.Name(consumers), queueLeader(t, c, q))

	tr.markKill(time.Now())
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	failover := tr.failover(15 * time.Second)
	t.Logf("first message sent after the kill delivered %.2f s after it", failover.Seconds())
	checkConsumersMoved(t, c, q, victim, n.Relay.Node())
	time.Sleep(time.Second)
	v := tr.finish()
	report(t, "cluster (publishing node killed)", v)

	if v.lost != 0 {
		t.Errorf("%d receipted messages lost", v.lost)
	}
	if len(v.problems) > 0 {
		t.Errorf("sessions saw problems: %v", v.problems)
	}
	if v.failover < 0 || v.failover > 5*time.Second {
		t.Errorf("failover took %v, want at most 5 s", v.failover)
	}
}

// queueLeader names the node leading quorum queue q, for the log.
func queueLeader(t *testing.T, c *relaytest.Cluster, q string) string {
	t.Helper()
	leader, err := c.QueueLeader(q)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return leader
}

// The node carrying the gateway's node queue (the one exclusive queue
// serving every plain topic subscription of the gateway) crashes: the
// relay declares the node queue again on a surviving node, under a new
// name (the dead node's exclusive queue holds the old one for a while),
// and every subscription receives what is published after the failover,
// without an ERROR.
func TestClusterTopicSubscriptionsSurviveTheConsumingNodesCrash(t *testing.T) {
	c := requireCluster(t)
	t.Cleanup(func() {
		if err := c.Heal(); err != nil {
			t.Error(err)
		}
	})
	n := clusterNode(t, c)
	prefix := clusterPrefix()
	const subscribers = 20
	var subs []*stompConn
	for i := range subscribers {
		s, err := dialStomp(n.Srv.WSURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.close)
		if err := s.subscribe("t", fmt.Sprintf("/topic/%snews.%d", prefix, i)); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if err := c.Kill(1); err != nil { // link 1, the consuming one, starts on node 2
		t.Fatal(err)
	}
	// The link restores its consumers before it reports ready again.
	waitReconnected(t, n)
	pub := n.Client(t)
	for i := range subscribers {
		pub.Publish(fmt.Sprintf("/topic/%snews.%d", prefix, i), "after")
	}
	for i, s := range subs {
		f, err := s.readTimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		if f.Command != stomp.CmdMessage || string(f.Body) != "after" {
			t.Fatalf("subscriber %d: got %v %q, want the message sent after the kill", i, frameError(f), f.Body)
		}
	}
}
