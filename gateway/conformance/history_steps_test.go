package conformance_test

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/stomp-gateway/stomp-gateway/gateway/gatewaytest"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Steps of the topic history cases. Offsets are whatever the broker says
// (RabbitMQ's are not contiguous): the cases read them from MESSAGEs and
// only ever compare them.

// gotBody is the last MESSAGE client c got whose body is body (a body
// ending in * is a prefix).
func (r *run) gotBody(c, body string) *stomp.Frame {
	r.t.Helper()
	body = r.x(body)
	prefix, isPrefix := strings.CutSuffix(body, "*")
	got := r.got[c]
	for i := len(got) - 1; i >= 0; i-- {
		if b := string(got[i].Body); b == body || isPrefix && strings.HasPrefix(b, prefix) {
			return got[i]
		}
	}
	r.t.Fatalf("%s: no MESSAGE %q", c, body)
	return nil
}

// offset is f's x-stream-offset, which it must have.
func (r *run) offset(f *stomp.Frame) int64 {
	r.t.Helper()
	v, ok := f.Lookup(routing.HeaderStreamOffset)
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < 0 {
		r.t.Fatalf("MESSAGE %q: x-stream-offset %q (present %v), want an offset", f.Body, v, ok)
	}
	return n
}

// remember keeps the x-stream-offset of the last MESSAGE client c got
// with body body as {@name}.
func remember(c, body, name string) step {
	return func(r *run) {
		r.t.Helper()
		r.vars[name] = strconv.FormatInt(r.offset(r.gotBody(c, body)), 10)
	}
}

// offsetsIncrease checks that the MESSAGEs client c got with these
// bodies have increasing offsets, in this order.
func offsetsIncrease(c string, bodies ...string) step {
	return func(r *run) {
		r.t.Helper()
		last := int64(-1)
		for _, b := range bodies {
			off := r.offset(r.gotBody(c, b))
			if off <= last {
				r.t.Fatalf("%s: %q at offset %d, after %d", c, b, off, last)
			}
			last = off
		}
	}
}

// headerOnce checks that the last MESSAGE client c got with body body
// has header name exactly once, and not with value forged.
func headerOnce(c, body, name, forged string) step {
	return func(r *run) {
		r.t.Helper()
		f := r.gotBody(c, body)
		var values []string
		for _, h := range f.Headers {
			if h.Key == name {
				values = append(values, h.Value)
			}
		}
		if len(values) != 1 || values[0] == forged {
			r.t.Fatalf("%s: MESSAGE %q has %s %q, want one value of the broker's", c, f.Body, name, values)
		}
	}
}

// manyBody is the i-th body of publishMany: prefix, two digits, padding
// to size bytes.
func manyBody(prefix string, i, size int) string {
	b := fmt.Sprintf("%s%02d-", prefix, i)
	return b + strings.Repeat("x", max(size-len(b), 0))
}

// publishMany SENDs n bodies of size bytes (manyBody) to dest, each
// confirmed.
func publishMany(c, dest, prefix string, n, size int) step {
	return func(r *run) {
		r.t.Helper()
		for i := range n {
			r.c(c).Publish(r.x(dest), manyBody(prefix, i, size))
		}
	}
}

// recoveredTail reads client c's MESSAGEs up to RECEIPT receiptID: the
// recovery of publishMany's bodies, which must be the last ones, in
// order, each x-recovered:true, except the first, which says partial
// when partial (and then is not body 0: that one was dropped).
func recoveredTail(c, receiptID string, partial bool, prefix string, n int) step {
	return func(r *run) {
		r.t.Helper()
		var got []*stomp.Frame
		for {
			f := r.next(c)
			if f.Command == stomp.CmdReceipt && f.Get(stomp.HdrReceiptID) == receiptID {
				break
			}
			if f.Command != stomp.CmdMessage {
				r.t.Fatalf("%s: got %s %v %q, want MESSAGE or RECEIPT %s", c, f.Command, f.Headers, f.Body, receiptID)
			}
			got = append(got, f)
		}
		if len(got) == 0 {
			r.t.Fatalf("%s: nothing recovered", c)
		}
		first := n - len(got)
		if first < 0 || partial && first == 0 {
			r.t.Fatalf("%s: recovered %d of %d messages (partial: %v)", c, len(got), n, partial)
		}
		last := int64(-1)
		for i, f := range got {
			want := routing.Recovered
			if i == 0 && partial {
				want = routing.RecoveredPartial
			}
			if body := manyBody(prefix, first+i, 0); !strings.HasPrefix(string(f.Body), body) {
				r.t.Fatalf("%s: recovered message %d is %.8q…, want %q…", c, i, f.Body, body)
			}
			if v := f.Get(routing.HeaderRecovered); v != want {
				r.t.Fatalf("%s: recovered message %d says x-recovered %q, want %q", c, i, v, want)
			}
			if off := r.offset(f); off <= last {
				r.t.Fatalf("%s: offset %d after %d", c, off, last)
			} else {
				last = off
			}
		}
		r.got[c] = append(r.got[c], got...)
	}
}

// recoverWhilePublishing has client pub SEND p1..pN to dest (no receipts,
// from another goroutine) while client c SUBSCRIBEs to it with
// x-stream-offset from (p0's offset, p0 already published), then SENDs
// "last" with a receipt. c must get p0, p1, ..., pN, last, each once and
// in order, the recovered ones first and all before the SUBSCRIBE's
// RECEIPT, the offsets increasing.
func recoverWhilePublishing(c, pub, dest, from string, n int) step {
	return func(r *run) {
		r.t.Helper()
		dest, from := r.x(dest), r.x(from) // not the closure's: cases run again with -count
		sub, p := r.c(c), r.c(pub)
		done := make(chan error, 1)
		go func() {
			for i := 1; i <= n; i++ {
				if err := p.WS.WriteMessage(websocket.TextMessage, gatewaytest.Frame(stomp.CmdSend, fmt.Sprintf("p%d", i), "destination:"+dest)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		sub.Send(stomp.CmdSubscribe, "id:s", "destination:"+dest, "x-stream-offset:"+from, "receipt:caught-up")
		if err := <-done; err != nil {
			r.t.Fatal(err)
		}
		p.Publish(dest, "last")

		var bodies []string
		receipted, live := false, false
		last := int64(-1)
		for !receipted || len(bodies) == 0 || bodies[len(bodies)-1] != "last" {
			f := r.next(c)
			switch {
			case f.Command == stomp.CmdReceipt && f.Get(stomp.HdrReceiptID) == "caught-up":
				receipted = true
				continue
			case f.Command != stomp.CmdMessage:
				r.t.Fatalf("%s: got %s %v %q", c, f.Command, f.Headers, f.Body)
			}
			rec := f.Get(routing.HeaderRecovered)
			switch {
			case rec != "" && rec != routing.Recovered:
				r.t.Fatalf("%s: %q says x-recovered %q", c, f.Body, rec)
			case rec != "" && (live || receipted):
				r.t.Fatalf("%s: %q recovered after live messages or the RECEIPT", c, f.Body)
			case rec == "":
				live = true
			}
			off := r.offset(f)
			if off <= last {
				r.t.Fatalf("%s: %q at offset %d after %d", c, f.Body, off, last)
			}
			last = off
			bodies = append(bodies, string(f.Body))
		}
		want := []string{}
		for i := 0; i <= n; i++ {
			want = append(want, fmt.Sprintf("p%d", i))
		}
		want = append(want, "last")
		if strings.Join(bodies, " ") != strings.Join(want, " ") {
			r.t.Fatalf("%s got\n%v\nwant\n%v", c, bodies, want)
		}
	}
}
