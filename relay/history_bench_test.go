package relay_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
	"github.com/stomp-gateway/stomp-gateway/relay"
)

// The topic history's costs on RabbitMQ (issue 14), measured against the
// local broker, 128-byte bodies:
//
//	go test -run '^$' -bench 'History' -benchtime 100000x ./relay/
//
// BenchmarkHistoryReplay keeps b.N messages, then recovers them all
// through the gateway: replay speed (messages/s from SUBSCRIBE to its
// RECEIPT) and, when the broker's data folder is readable here, the
// stream's bytes on disk per 1,000 messages.
func BenchmarkHistoryReplay(b *testing.B) {
	h := newHistoryTest(b, func(c *relay.Config) { c.HistoryMaxBytes = 1 << 30 })
	n := h.node(b)
	ch := h.rb.Channel()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	var last *amqp.DeferredConfirmation
	for range b.N {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "amq.topic", h.room+".replay", false, false, amqp.Publishing{Body: []byte(body128)})
		if err != nil {
			b.Fatal(err)
		}
		last = dc
	}
	if ok, err := last.WaitContext(context.Background()); !ok || err != nil {
		b.Fatal("not confirmed", err)
	}
	size := streamBytes(h.stream)
	c := n.Client(b)
	b.ResetTimer()
	start := time.Now()
	c.Send(stomp.CmdSubscribe, "id:r", "destination:"+h.topic("replay"), "x-stream-offset:first", "receipt:done")
	got := 0
	for f := c.Read(); f.Command != stomp.CmdReceipt; f = c.Read() {
		got++
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got != b.N {
		b.Fatalf("recovered %d of %d", got, b.N)
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "replayed-msgs/s")
	if size > 0 {
		b.ReportMetric(float64(size)/float64(b.N)*1000, "disk-B/1000msgs")
	}
}

// streamBytes is the size on disk of the local RabbitMQ node's stream
// name, or 0 when its data folder cannot be read from here.
func streamBytes(name string) int64 {
	// A stream's folder is __<name, dots as underscores>_<timestamp>.
	dirs, _ := filepath.Glob("/var/lib/rabbitmq/mnesia/*/stream/__" + strings.ReplaceAll(name, ".", "_") + "_*")
	var total int64
	for _, d := range dirs {
		_ = filepath.Walk(d, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				total += fi.Size()
			}
			return nil
		})
	}
	return total
}

// BenchmarkHistoryLiveLatency measures live delivery latency, side by
// side in one run, for a subscriber of a topic that is not kept, one of a
// kept topic, and both while other clients recover the kept topic's
// recent history again and again: p50 and p99 in ms, at about 1,000
// messages/s per topic.
func BenchmarkHistoryLiveLatency(b *testing.B) {
	h := newHistoryTest(b, func(c *relay.Config) { c.HistoryMaxBytes = 1 << 30 })
	n := h.node(b)
	plainTopic := "/topic/" + h.room + "-plain"
	sub, pub := n.Client(b), n.Client(b)
	sub.Subscribe("kept", h.topic("live"))
	sub.Subscribe("plain", plainTopic)
	// Some history to recover.
	for i := range 5000 {
		pub.SendBody(stomp.CmdSend, "seed "+strconv.Itoa(i), "destination:"+h.topic("live"))
	}
	pub.Publish(h.topic("seed-done"), "x")
	for range 5000 {
		sub.Expect(stomp.CmdMessage)
	}
	var lastOffset atomic.Int64
	measure := func(name string) {
		var kept, plain []float64
		for i := range b.N {
			now := strconv.FormatInt(time.Now().UnixNano(), 10)
			pub.SendBody(stomp.CmdSend, now, "destination:"+h.topic("live"))
			pub.SendBody(stomp.CmdSend, now, "destination:"+plainTopic)
			for range 2 {
				m := sub.Expect(stomp.CmdMessage)
				sent, _ := strconv.ParseInt(string(m.Body), 10, 64)
				ms := float64(time.Now().UnixNano()-sent) / 1e6
				if m.Get("subscription") == "kept" {
					off, _ := strconv.ParseInt(m.Get("x-stream-offset"), 10, 64)
					lastOffset.Store(off)
					kept = append(kept, ms)
				} else {
					plain = append(plain, ms)
				}
			}
			if i%10 == 0 {
				time.Sleep(10 * time.Millisecond) // ~1,000 messages/s per topic
			}
		}
		b.ReportMetric(percentile(plain, 0.50), name+"plain-p50-ms")
		b.ReportMetric(percentile(plain, 0.99), name+"plain-p99-ms")
		b.ReportMetric(percentile(kept, 0.50), name+"kept-p50-ms")
		b.ReportMetric(percentile(kept, 0.99), name+"kept-p99-ms")
	}
	b.ResetTimer()
	measure("")
	// Again while clients reconnect and recover: two at a time, each
	// asking for the last 100 kept messages, ten times a second each
	// (2,000 recovered messages/s, as after a deploy of a busy node).
	stop := make(chan struct{})
	done := make(chan struct{}, 2)
	for r := range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				c := n.Client(b)
				id := "r" + strconv.Itoa(r) + "-" + strconv.Itoa(k)
				from := strconv.FormatInt(max(lastOffset.Load()-100, 0), 10)
				c.Send(stomp.CmdSubscribe, "id:"+id, "destination:"+h.topic("live"), "x-stream-offset:"+from, "receipt:"+id)
				for f, err := c.ReadErr(5 * time.Second); err == nil && f.Command != stomp.CmdReceipt; f, err = c.ReadErr(5 * time.Second) {
				}
				c.WS.Close()
			}
		}()
	}
	measure("recovering-")
	close(stop)
	<-done
	<-done
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
