package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/relay/relaytest"
)

// adminAddr reads the admin listener's address from the start-up log.
func (p *gatewayProcess) adminAddr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			var l struct {
				Listen  string `json:"listen"`
				Message string `json:"message"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Message, "admin listener") {
				return l.Listen
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no admin listener in the log:\n%s", p.logs.String())
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminListenerServesHealthReadinessAndMetrics(t *testing.T) {
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none")
	admin := "http://" + p.adminAddr(t)
	if code, _ := get(t, admin+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get(t, admin+"/readyz"); code != 200 {
		t.Errorf("/readyz %d", code)
	}
	if code, _ := get(t, admin+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof is on without STOMP_GATEWAY_PPROF: %d", code)
	}
	exchange(t, websocket.DefaultDialer, "ws://"+p.addr+"/ws", connectFrame, "SUBSCRIBE\nid:1\ndestination:/topic/x\nreceipt:r\n\n\x00")
	// A frame is counted once its write returned, which may be just after
	// the client read it: wait for the RECEIPT to show.
	var metrics string
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, metrics = get(t, admin+"/metrics")
		if strings.Contains(metrics, `stomp_gateway_frames_out_total{command="RECEIPT"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		`stomp_gateway_connects_total{result="ok",transport="ws"} 1`,
		`stomp_gateway_frames_in_total{command="SUBSCRIBE"} 1`,
		`stomp_gateway_frames_out_total{command="RECEIPT"} 1`,
		"stomp_gateway_sessions{", "stomp_gateway_bytes_in_total", "stomp_gateway_publish_confirm_seconds_bucket",
		"stomp_gateway_delivery_seconds_bucket", "stomp_gateway_outbound_queue_bytes", "go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestNotReadyWhileTheBrokerIsUnreachable(t *testing.T) {
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_AMQP_URL=amqp://guest:guest@127.0.0.1:1/", "STOMP_GATEWAY_PPROF=true")
	admin := "http://" + p.adminAddr(t)
	if code, body := get(t, admin+"/readyz"); code != 503 || !strings.Contains(body, "broker") {
		t.Errorf("/readyz %d %q", code, body)
	}
	if code, _ := get(t, admin+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, _ := get(t, admin+"/debug/pprof/"); code != 200 {
		t.Errorf("pprof %d with STOMP_GATEWAY_PPROF=true", code)
	}
}

// SIGTERM mid-stream: /readyz goes false first, every client is told
// (ERROR server shutting down, close 1001), and every message a client got
// a RECEIPT for is in the durable queue.
func TestSIGTERMDrainsWithoutLosingReceiptedMessages(t *testing.T) {
	rb := relaytest.Require(t)
	q := rb.Name("drain")
	rb.DeleteQueue(q)
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_AMQP_URL="+relaytest.URL(), "STOMP_GATEWAY_DRAIN_DELAY=700ms")
	admin := "http://" + p.adminAddr(t)
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get(t, admin+"/readyz"); code != 200; code, _ = get(t, admin+"/readyz") {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	const clients = 3
	var (
		mu        sync.Mutex
		receipted = map[string]bool{}
		wg        sync.WaitGroup
		told      = make(chan string, clients)
	)
	for c := range clients {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(connectFrame)); err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // writer: a stream of receipted persistent SENDs
			defer wg.Done()
			for i := 0; ; i++ {
				body := fmt.Sprintf("c%d-%d", c, i)
				f := fmt.Sprintf("SEND\ndestination:/queue/%s\npersistent:true\nreceipt:%s\n\n%s\x00", q, body, body)
				if ws.WriteMessage(websocket.TextMessage, []byte(f)) != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		go func() { // reader: receipts until the ERROR and close
			defer wg.Done()
			for {
				_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
				_, b, err := ws.ReadMessage()
				if err != nil {
					if ce, ok := err.(*websocket.CloseError); ok {
						told <- fmt.Sprintf("close %d", ce.Code)
					} else {
						told <- err.Error()
					}
					return
				}
				s := string(b)
				switch {
				case strings.HasPrefix(s, "RECEIPT\n"):
					id := strings.TrimPrefix(strings.SplitN(s, "\n", 3)[1], "receipt-id:")
					mu.Lock()
					receipted[id] = true
					mu.Unlock()
				case strings.HasPrefix(s, "ERROR\n") && !strings.Contains(s, "message:server shutting down\n"):
					told <- "unexpected " + s
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if code, _ := get(t, admin+"/readyz"); code != 503 {
		t.Errorf("/readyz %d during the drain delay", code)
	}
	for range clients {
		if got := <-told; got != "close 1001" {
			t.Errorf("a client ended with %s", got)
		}
	}
	wg.Wait()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.logs.String())
	}

	// Every receipted message is in the queue.
	ch := rb.Channel()
	inQueue := map[string]bool{}
	for {
		m, ok, err := ch.Get(q, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		inQueue[string(m.Body)] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if len(receipted) == 0 {
		t.Fatal("no message was receipted before SIGTERM")
	}
	for id := range receipted {
		if !inQueue[id] {
			t.Errorf("receipted message %s is not in the queue", id)
		}
	}
	t.Logf("%d receipted messages, %d in the queue after SIGTERM", len(receipted), len(inQueue))
}

// A node whose AMQP connections have no channel left says so: /readyz
// turns 503 "node full" and stomp_gateway_node_full is 1, so a load
// balancer sends new clients elsewhere; clients that still come get ERROR
// resource limit. It is ready again once a consumer leaves.
func TestFullNodeIsNotReadyAndSaysResourceLimit(t *testing.T) {
	rb := relaytest.Require(t)
	bin := buildBinary(t)
	p := startProcess(t, bin, "STOMP_GATEWAY_AUTH=none", "STOMP_GATEWAY_AMQP_URL="+relaytest.URL(),
		"STOMP_GATEWAY_AMQP_CONNECTIONS=2", "STOMP_GATEWAY_AMQP_MAX_CONNECTIONS=2",
		"STOMP_GATEWAY_AMQP_CHANNELS_PER_CONNECTION=1", "STOMP_GATEWAY_AMQP_CONSUMERS_PER_CHANNEL=1")
	admin := "http://" + p.adminAddr(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get(t, admin+"/readyz"); code == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz %d: never ready", code)
		}
	}
	q := rb.Name("full")
	t.Cleanup(func() { rb.DeleteQueue(q) })
	url := "ws://" + p.addr + "/ws"
	c := gatewaytest.Dial(t, url, "v12.stomp")
	c.Connect("accept-version:1.2", "host:/")
	c.Subscribe("s", "/queue/"+q, "ack:client") // the node's only consumer slot
	if code, body := get(t, admin+"/readyz"); code != 503 || !strings.Contains(body, "node full") {
		t.Errorf("/readyz %d %q while full", code, body)
	}
	if _, metrics := get(t, admin+"/metrics"); !strings.Contains(metrics, "stomp_gateway_node_full 1") {
		t.Error("/metrics does not show stomp_gateway_node_full 1")
	}
	other := gatewaytest.Dial(t, url, "v12.stomp")
	other.Connect("accept-version:1.2", "host:/")
	other.Send("SUBSCRIBE", "id:x", "destination:/queue/"+q, "ack:client")
	other.ExpectError("resource limit")
	c.Send("UNSUBSCRIBE", "id:s", "receipt:gone")
	c.Expect("RECEIPT")
	if code, _ := get(t, admin+"/readyz"); code != 200 {
		t.Errorf("/readyz %d once a consumer left", code)
	}
}
