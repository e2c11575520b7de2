package deploy_test

import (
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHAProxy: the load balancer's frontend, health checks and backends
// agree with the gateways of docker-compose.yml and with the drain.
func TestHAProxy(t *testing.T) {
	table := configTable(t)
	sections := map[string][]string{} // "frontend stomp" → directives
	var order []string
	cur := ""
	for _, raw := range strings.Split(readFile(t, "deploy/haproxy/haproxy.cfg"), "\n") {
		line := raw
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if raw[0] != ' ' && raw[0] != '\t' {
			cur = line
			order = append(order, cur)
			continue
		}
		sections[cur] = append(sections[cur], line)
	}
	has := func(sec, prefix string) (string, bool) {
		for _, d := range sections[sec] {
			if strings.HasPrefix(d, prefix) {
				return d, true
			}
		}
		return "", false
	}

	// The client frontend on 15674 and its backend.
	var front string
	for _, sec := range order {
		if strings.HasPrefix(sec, "frontend ") || strings.HasPrefix(sec, "listen ") {
			if b, ok := has(sec, "bind "); ok && strings.Contains(b, ":"+strconv.Itoa(wsPort)) {
				front = sec
			}
		}
	}
	if front == "" {
		t.Fatalf("haproxy.cfg: no frontend binding :%d", wsPort)
	}
	back := front
	if d, ok := has(front, "default_backend "); ok {
		back = "backend " + strings.Fields(d)[1]
	}
	if _, ok := sections[back]; !ok {
		t.Fatalf("haproxy.cfg: %s: no %s", front, back)
	}
	_, inDefaults := has("defaults", "timeout tunnel ")
	_, inFront := has(front, "timeout tunnel ")
	_, inBack := has(back, "timeout tunnel ")
	if !inDefaults && !inFront && !inBack {
		t.Errorf("haproxy.cfg: no timeout tunnel: WebSockets would be cut after timeout client/server")
	}
	if b, ok := has(back, "balance "); !ok || !slices.Contains([]string{"roundrobin", "leastconn"}, strings.Fields(b)[1]) {
		t.Errorf("haproxy.cfg: %s: want balance roundrobin or leastconn", back)
	}
	if _, ok := has(back, "option httpchk GET /readyz"); !ok {
		t.Errorf("haproxy.cfg: %s: want option httpchk GET /readyz", back)
	}

	// Servers: every compose gateway, checked on the admin port.
	defaults := ""
	if d, ok := has(back, "default-server "); ok {
		defaults = strings.TrimPrefix(d, "default-server ")
	}
	option := func(opts []string, key string) (string, bool) {
		for i, o := range opts {
			if o == key {
				if i+1 < len(opts) {
					return opts[i+1], true
				}
				return "", true
			}
		}
		return "", false
	}
	compose := loadCompose(t)
	gws := gatewayServices(compose)
	var servers []string
	for _, d := range sections[back] {
		f := strings.Fields(d)
		if f[0] != "server" || len(f) < 3 {
			continue
		}
		host, port, err := net.SplitHostPort(f[2])
		if err != nil || port != strconv.Itoa(wsPort) {
			t.Errorf("haproxy.cfg: server %s at %s, want host:%d", f[1], f[2], wsPort)
		}
		servers = append(servers, host)
		opts := append(strings.Fields(defaults), f[3:]...)
		if _, ok := option(opts, "check"); !ok {
			t.Errorf("haproxy.cfg: server %s is not health-checked", f[1])
		}
		if p, _ := option(opts, "port"); p != strconv.Itoa(adminPort) {
			t.Errorf("haproxy.cfg: server %s is checked on port %q, want the admin port %d", f[1], p, adminPort)
		}
		// HAProxy must see /readyz fail and mark the server down within the
		// gateway's drain delay, before the gateway stops accepting.
		inter, fall := 2*time.Second, 3 // HAProxy's defaults
		if v, ok := option(opts, "inter"); ok {
			inter = haproxyTime(t, v)
		}
		if v, ok := option(opts, "fall"); ok {
			fall, _ = strconv.Atoi(v)
		}
		if svc, ok := compose.Services[host]; ok {
			drain := durationSetting(t, table, svc.Environment, "STOMP_GATEWAY_DRAIN_DELAY")
			if time.Duration(fall)*inter >= drain {
				t.Errorf("haproxy.cfg: server %s: fall %d x inter %v reaches the drain delay %v: HAProxy would still send clients to a node that stopped accepting", f[1], fall, inter, drain)
			}
		}
	}
	slices.Sort(servers)
	if !slices.Equal(servers, gws) {
		t.Errorf("haproxy.cfg: servers %v, want the compose gateways %v", servers, gws)
	}
	stats := false
	for _, sec := range order {
		if _, ok := has(sec, "stats enable"); ok {
			stats = true
		}
	}
	if !stats {
		t.Errorf("haproxy.cfg: no stats page (stats enable)")
	}

	// HAProxy's own check, when it is installed (server names that do not
	// resolve outside compose are warnings only).
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Log("haproxy not found: `haproxy -c` not run")
		return
	}
	out, err := runTool(t, "haproxy", "-c", "-f", "deploy/haproxy/haproxy.cfg")
	if err != nil {
		t.Errorf("haproxy -c -f deploy/haproxy/haproxy.cfg: %v\n%s", err, out)
	} else {
		t.Log("haproxy -c: configuration file is valid")
	}
}

// haproxyTime parses an HAProxy time: a number of milliseconds or with a unit.
func haproxyTime(t *testing.T, v string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("haproxy.cfg: time %q: %v", v, err)
	}
	return d
}
