//go:build cluster

package relay_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/relay"
)

// The node of the gateway's publishing connection crashes, so both of the
// gateway's connections end up on one node; when the node comes back the
// publishing connection moves home to it (Config.RebalanceInterval), and
// the stream goes on throughout without losing a receipted message.
func TestClusterConnectionsRebalanceWhenTheNodeComesBack(t *testing.T) {
	c := requireCluster(t)
	t.Cleanup(func() {
		if err := c.Heal(); err != nil {
			t.Error(err)
		}
	})
	n := clusterNode(t, c, func(cfg *relay.Config) { cfg.RebalanceInterval = time.Second })
	q := clusterPrefix() + "rebalance"
	deleteClusterQueues(t, c, q)
	tr := startTraffic(t, n.Srv.WSURL, q, trafficPublishers, trafficConsumers)
	tr.waitFlowing(200)

	// Each node starts its links at a random URL, one link per URL on.
	home := n.Relay.ConnectedURLs()
	if len(home) != 2 || home[0] == "" || home[0] == home[1] {
		t.Fatalf("connected to %v, want the two links on two nodes", home)
	}
	victim := c.Index(home[0]) // the publishing link's node
	tr.markKill(time.Now())
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	failover := tr.failover(15 * time.Second)
	t.Logf("first message sent after the kill delivered %.2f s after it", failover.Seconds())
	onOne := waitConnected(t, n.Relay, 10*time.Second, func(urls []string) bool {
		return !slices.Contains(urls, "") && !slices.Contains(urls, c.Addr(victim))
	})
	if onOne[0] != onOne[1] {
		t.Fatalf("after the kill the links are on %v, want both on the one node they can reach first", onOne)
	}

	if err := c.Start(victim); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	spread := waitConnected(t, n.Relay, 15*time.Second, func(urls []string) bool {
		return slices.Equal(urls, home)
	})
	t.Logf("connections back on %v %.1f s after node %s was up again", spread, time.Since(back).Seconds(), c.Name(victim))
	conns, err := c.ConnectionNodes(n.Relay.Node())
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) < 2 {
		t.Errorf("RabbitMQ sees the gateway's connections on nodes %v, want them spread", conns)
	}
	time.Sleep(time.Second) // traffic after the move
	v := tr.finish()
	report(t, "cluster (node back, connections rebalanced)", v)
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

// waitConnected waits until the relay's connected URLs satisfy ok and
// returns them.
func waitConnected(t *testing.T, r *relay.Relay, limit time.Duration, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		urls := r.ConnectedURLs()
		if ok(urls) {
			return urls
		}
		if time.Now().After(deadline) {
			t.Fatalf("connected to %v after %v", urls, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
