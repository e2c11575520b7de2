//go:build cluster

package relay_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// gatewayBinary builds cmd/stomp-gateway once per test into its temp dir
// (the build cache makes the second build quick).
func gatewayBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stomp-gateway")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stomp-gateway/stomp-gateway/cmd/stomp-gateway").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// gatewayProc is a real stomp-gateway process on the cluster.
type gatewayProc struct {
	name  string
	cmd   *exec.Cmd
	addr  string // STOMP over WebSocket
	admin string // metrics, readiness
	logs  *procLog
	done  chan struct{}
}

// procLog keeps a process's output for failures.
type procLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startGateway runs the gateway binary against every node of the cluster,
// without authentication, and waits until /readyz says it reached
// RabbitMQ. It is stopped (SIGTERM) when the test ends.
func startGateway(t *testing.T, bin, name string, c *relaytest.Cluster, env ...string) *gatewayProc {
	t.Helper()
	p := &gatewayProc{name: name, addr: freeAddr(t), admin: freeAddr(t), logs: &procLog{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), append([]string{
		"STOMP_GATEWAY_LISTEN=" + p.addr,
		"STOMP_GATEWAY_ADMIN_LISTEN=" + p.admin,
		"STOMP_GATEWAY_AMQP_URL=" + strings.Join(c.URLs(), ","),
		"STOMP_GATEWAY_AUTH=none",
		"STOMP_GATEWAY_DRAIN_DELAY=200ms",
		"STOMP_GATEWAY_LOG_FORMAT=json",
		"STOMP_GATEWAY_AMQP_RECONNECT_MAX=1s",
	}, env...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", name, tail(p.logs.String(), 60))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !p.ready() {
		select {
		case <-p.done:
			t.Fatalf("gateway %s exited:\n%s", name, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway %s not ready within 30 s:\n%s", name, tail(p.logs.String(), 60))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// wsURL is the gateway's STOMP endpoint.
func (p *gatewayProc) wsURL() string { return "ws://" + p.addr + "/ws" }

func (p *gatewayProc) ready() bool {
	resp, err := metricsClient.Get("http://" + p.admin + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// terminate sends SIGTERM and waits up to 30 s for the process to exit.
func (p *gatewayProc) terminate(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("gateway %s did not exit within 30 s of SIGTERM", p.name)
	}
}

// stop ends the process if it still runs.
func (p *gatewayProc) stop(t *testing.T) {
	select {
	case <-p.done:
	default:
		p.terminate(t)
	}
}

// metricsClient asks without keep-alive, so the gateway holds no
// connection of the test's between samples.
var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// metrics reads the gateway's Prometheus metrics, the series of a metric
// with labels summed under its name.
func (p *gatewayProc) metrics() (map[string]float64, error) {
	resp, err := metricsClient.Get("http://" + p.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[name] += v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return m, sc.Err()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
