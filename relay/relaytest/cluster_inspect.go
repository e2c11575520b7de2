//go:build linux

package relaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// What a test asks the cluster: rabbitmqctl, AMQP connections, which node
// a connection or a quorum queue's consumer is on.

// Ctl runs rabbitmqctl -n <node i> args as the rabbitmq user and returns
// its output.
func (c *Cluster) Ctl(i int, args ...string) (string, error) {
	argv := append([]string{"setpriv", "--reuid=rabbitmq", "--regid=rabbitmq", "--init-groups",
		"env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + rabbitmqHome, "LANG=C.UTF-8",
		rabbitmqCtl, "-q", "-n", c.nodes[i].name}, args...)
	var out lockedBuffer
	p, err := startReaped(rabbitmqHome, &out, argv...)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-time.After(ctlTimeout):
		p.kill()
		return out.String(), fmt.Errorf("rabbitmqctl -n %s %s: no answer within %v\n%s", c.nodes[i].name, strings.Join(args, " "), ctlTimeout, out.String())
	}
	if p.err != nil {
		return out.String(), fmt.Errorf("rabbitmqctl -n %s %s: %v\n%s", c.nodes[i].name, strings.Join(args, " "), p.err, out.String())
	}
	return out.String(), nil
}

// lockedBuffer collects a command's output, written from os/exec's
// copying goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Dial opens an AMQP connection to the first node that accepts one.
func (c *Cluster) Dial() (*amqp.Connection, error) {
	var errs error
	for i := range c.nodes {
		conn, err := amqp.Dial(c.URL(i))
		if err == nil {
			return conn, nil
		}
		errs = errors.Join(errs, err)
	}
	return nil, errs
}

// live is the index of a running node, for cluster-wide listings.
func (c *Cluster) live() (int, error) {
	for i := range c.nodes {
		if c.Running(i) {
			return i, nil
		}
	}
	return -1, errors.New("no node of the cluster is running")
}

// ClusterConnection is one AMQP connection as a node lists it.
type ClusterConnection struct {
	Node int    // the index of the node it is on
	Name string // the client's connection_name property
	Port int    // the node's port it came in on
}

// Connections lists the AMQP connections of the whole cluster with the
// node each is on (rabbitmqctl list_connections, asked of a running node).
func (c *Cluster) Connections() ([]ClusterConnection, error) {
	i, err := c.live()
	if err != nil {
		return nil, err
	}
	out, err := c.Ctl(i, "list_connections", "port", "client_properties", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Port  int               `json:"port"`
		Props []json.RawMessage `json:"client_properties"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("list_connections: %v: %q", err, out)
	}
	var conns []ClusterConnection
	for _, r := range rows {
		cc := ClusterConnection{Node: c.portNode(r.Port), Port: r.Port}
		for _, raw := range r.Props {
			var prop []any
			if json.Unmarshal(raw, &prop) == nil && len(prop) == 3 && prop[0] == "connection_name" {
				cc.Name, _ = prop[2].(string)
			}
		}
		conns = append(conns, cc)
	}
	return conns, nil
}

// ConnectionNodes counts, per node index, the AMQP connections whose
// connection_name is name (a relay's Node()).
func (c *Cluster) ConnectionNodes(name string) (map[int]int, error) {
	conns, err := c.Connections()
	if err != nil {
		return nil, err
	}
	nodes := map[int]int{}
	for _, cc := range conns {
		if cc.Name == name {
			nodes[cc.Node]++
		}
	}
	return nodes, nil
}

// ConsumerNodes returns, for each live consumer of quorum queue in the
// default virtual host, the index of the node its channel (so its
// connection) is on. It asks the queue's leader (rabbitmqctl eval): the
// consumer listings show channel pids without their node, and keep the
// consumers of a dead node (suspected_down) in case it comes back, which
// this leaves out. While the queue elects a leader it fails; it tries for
// up to 10 s.
func (c *Cluster) ConsumerNodes(queue string) ([]int, error) {
	if strings.ContainsAny(queue, `"\`) {
		return nil, fmt.Errorf("queue name %q: quotes and backslashes are not supported", queue)
	}
	expr := `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"` + queue + `">>)),
		{ok, {_, Cs}, _} = ra:leader_query(amqqueue:get_pid(Q), fun rabbit_fifo:query_consumers/1),
		[node(element(1, C)) || C <- maps:values(Cs), element(6, C) =:= up].`
	deadline := time.Now().Add(10 * time.Second)
	for {
		i, err := c.live()
		if err != nil {
			return nil, err
		}
		out, err := c.Ctl(i, "eval", expr)
		if err == nil {
			var nodes []int
			for _, name := range nodeName.FindAllString(out, -1) {
				nodes = append(nodes, c.Index(name))
			}
			return nodes, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nodeName matches an Erlang node name in eval's output.
var nodeName = regexp.MustCompile(`[A-Za-z0-9_-]+@[A-Za-z0-9_.-]+`)

// QueueLeader names the node leading quorum queue q in the default
// virtual host.
func (c *Cluster) QueueLeader(queue string) (string, error) {
	i, err := c.live()
	if err != nil {
		return "", err
	}
	out, err := c.Ctl(i, "list_queues", "name", "leader", "--formatter", "json")
	if err != nil {
		return "", err
	}
	var rows []struct {
		Name   string `json:"name"`
		Leader string `json:"leader"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return "", fmt.Errorf("list_queues: %v: %q", err, out)
	}
	for _, r := range rows {
		if r.Name == queue {
			return r.Leader, nil
		}
	}
	return "", fmt.Errorf("no queue %s", queue)
}

// portNode is the index of the node listening on AMQP port, -1 when none.
func (c *Cluster) portNode(port int) int {
	for i, n := range c.nodes {
		if n.amqp == port {
			return i
		}
	}
	return -1
}
