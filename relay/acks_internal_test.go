package relay

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeChannel keeps a channel's unacked deliveries as RabbitMQ does and
// settles them by its rules: a single ack or nack names an unacked tag, a
// multiple ack settles every unacked tag up to one that must itself be
// unacked; anything else is the channel error "unknown delivery tag"
// (PRECONDITION_FAILED), which RabbitMQ answers by closing the channel.
type fakeChannel struct {
	mu      sync.Mutex
	unacked []uint64 // ascending
	acked   map[uint64]bool
	nacked  map[uint64]bool
	calls   []string
	err     error
}

func newFakeChannel() *fakeChannel {
	return &fakeChannel{acked: map[uint64]bool{}, nacked: map[uint64]bool{}}
}

// deliver is RabbitMQ sending tag to a consumer that acks.
func (f *fakeChannel) deliver(tag uint64) {
	f.mu.Lock()
	f.unacked = append(f.unacked, tag)
	f.mu.Unlock()
}

func (f *fakeChannel) fail(format string, args ...any) error {
	if f.err == nil {
		f.err = fmt.Errorf(format, args...)
	}
	return f.err
}

func (f *fakeChannel) Ack(tag uint64, multiple bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("ack %d %v", tag, multiple))
	i, found := slices.BinarySearch(f.unacked, tag)
	if !found {
		return f.fail("PRECONDITION_FAILED - unknown delivery tag %d (ack, multiple %v)", tag, multiple)
	}
	from := i
	if multiple {
		from = 0
	}
	for _, t := range f.unacked[from : i+1] {
		f.acked[t] = true
	}
	f.unacked = slices.Delete(f.unacked, from, i+1)
	return nil
}

func (f *fakeChannel) Nack(tag uint64, multiple, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("nack %d", tag))
	i, found := slices.BinarySearch(f.unacked, tag)
	if multiple || !found {
		return f.fail("PRECONDITION_FAILED - unknown delivery tag %d (nack)", tag)
	}
	f.nacked[tag] = true
	f.unacked = slices.Delete(f.unacked, i, i+1)
	return nil
}

func (f *fakeChannel) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeChannel) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		t.Fatal(f.err)
	}
}

// arrive is a delivery reaching its consumer: RabbitMQ holds it when the
// consumer acks, and the ledger records it.
func arrive(f *fakeChannel, l *ledger, tag uint64, noAck bool) {
	if !noAck {
		f.deliver(tag)
	}
	l.seen(tag, noAck)
}

func TestLedgerAcksInOrderGoOutAsOneMultipleAck(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	for tag := uint64(1); tag <= 10; tag++ {
		arrive(f, l, tag, false)
		l.settle(tag, true)
	}
	if got := f.sent(); len(got) != 0 {
		t.Fatalf("sent before the delay or a flush: %v", got)
	}
	l.flush()
	f.check(t)
	if got, want := f.sent(), []string{"ack 10 true"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

func TestLedgerNeverAcksAnotherConsumersHeldDelivery(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	for tag := uint64(1); tag <= 6; tag++ {
		arrive(f, l, tag, false)
	}
	// Tag 3 is a client-ack delivery its client has not acked.
	for _, tag := range []uint64{1, 2, 4, 5, 6} {
		l.settle(tag, true)
	}
	l.flush()
	f.check(t)
	if got, want := f.sent(), []string{"ack 2 true", "ack 4 false", "ack 5 false", "ack 6 false"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	if f.acked[3] {
		t.Fatal("the held delivery 3 was acked")
	}
	// Its client acks it: the ledger's run starts there again.
	l.settle(3, false)
	f.check(t)
	if !f.acked[3] || len(f.unacked) != 0 {
		t.Fatalf("after acking 3: unacked %v", f.unacked)
	}
}

func TestLedgerTreatsAnUnseenTagAsHeld(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	// Tag 1 is still on its way to another consumer's goroutine.
	f.deliver(1)
	arrive(f, l, 2, false)
	l.settle(2, false)
	f.check(t)
	if got, want := f.sent(), []string{"ack 2 false"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	l.seen(1, false)
	l.settle(1, false)
	f.check(t)
	if len(f.unacked) != 0 {
		t.Fatalf("unacked %v", f.unacked)
	}
}

func TestLedgerSkipsNoAckDeliveries(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	arrive(f, l, 1, false)
	arrive(f, l, 2, true) // a node queue's, on the same channel
	arrive(f, l, 3, false)
	l.settle(1, true)
	l.settle(3, true)
	l.flush()
	f.check(t)
	if got, want := f.sent(), []string{"ack 3 true"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	// A channel of no-ack deliveries only keeps no record.
	for tag := uint64(4); tag < 10_000; tag++ {
		arrive(f, l, tag, true)
	}
	if n := len(l.tags) - l.head; n != 0 {
		t.Fatalf("%d tags recorded for settled deliveries", n)
	}
}

func TestLedgerSendsWaitingAcksBeforeANack(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	arrive(f, l, 1, false)
	arrive(f, l, 2, false)
	arrive(f, l, 3, false)
	l.settle(1, true)
	l.nack(2, true)
	l.settle(3, true)
	l.flush()
	f.check(t)
	if got, want := f.sent(), []string{"ack 1 true", "nack 2", "ack 3 true"}; !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

func TestLedgerFlushesAfterTheDelayAndAtABatch(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	arrive(f, l, 1, false)
	l.settle(1, true)
	deadline := time.Now().Add(time.Second)
	for len(f.sent()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, want := f.sent(), []string{"ack 1 true"}; !slices.Equal(got, want) {
		t.Fatalf("after %v: sent %v, want %v", ackDelay, got, want)
	}
	for tag := uint64(2); tag < 2+ackBatch; tag++ {
		arrive(f, l, tag, false)
		l.settle(tag, true)
	}
	f.check(t)
	if got := f.sent(); len(got) != 2 || got[1] != fmt.Sprintf("ack %d true", 1+ackBatch) {
		t.Fatalf("a batch of %d did not go out at once: %v", ackBatch, got)
	}
}

func TestLedgerGivesUpBeyondItsBound(t *testing.T) {
	f := newFakeChannel()
	l := newLedger(f)
	arrive(f, l, 1, false) // held by its client for good
	tag := uint64(2)
	for ; tag < maxLedger+10; tag++ {
		arrive(f, l, tag, true)
	}
	if !l.off {
		t.Fatal("the ledger kept tracking past maxLedger")
	}
	arrive(f, l, tag, false)
	l.settle(tag, true) // at once, alone
	l.settle(1, true)
	f.check(t)
	if len(f.unacked) != 0 {
		t.Fatalf("unacked %v", f.unacked)
	}
}

// TestLedgerRandomInterleavings drives one channel's consumers in random
// order, as their goroutines do: deliveries of ack and no-ack consumers
// arriving out of tag order, settles that wait or not, client acks,
// nacks and flushes. RabbitMQ's rules (fakeChannel) must hold throughout,
// and in the end every delivery acked is acked, every one nacked is
// nacked, and the held ones are untouched.
func TestLedgerRandomInterleavings(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		f := newFakeChannel()
		l := newLedger(f)
		const n = 300
		noAck := make([]bool, n+1)
		var pending []uint64 // delivered by RabbitMQ, not yet arrived
		var arrived []uint64 // arrived at an acking consumer, unsettled
		want := map[uint64]string{}
		for tag := uint64(1); tag <= n; tag++ {
			noAck[tag] = r.IntN(4) == 0
			if !noAck[tag] {
				f.deliver(tag)
			}
			pending = append(pending, tag)
			for len(pending) > 0 && r.IntN(3) != 0 {
				i := r.IntN(min(len(pending), 3)) // a little out of order
				tg := pending[i]
				pending = slices.Delete(pending, i, i+1)
				l.seen(tg, noAck[tg])
				if !noAck[tg] {
					arrived = append(arrived, tg)
				}
			}
			for len(arrived) > 0 && r.IntN(2) == 0 {
				i := r.IntN(len(arrived))
				tg := arrived[i]
				arrived = slices.Delete(arrived, i, i+1)
				switch r.IntN(10) {
				case 0:
					l.nack(tg, true)
					want[tg] = "nacked"
				case 1:
					want[tg] = "held" // its client never acks
				default:
					l.settle(tg, r.IntN(4) != 0)
					want[tg] = "acked"
				}
			}
			if r.IntN(20) == 0 {
				l.flush()
			}
		}
		for _, tg := range pending {
			l.seen(tg, noAck[tg])
			if !noAck[tg] {
				arrived = append(arrived, tg)
			}
		}
		for _, tg := range arrived {
			l.settle(tg, true)
			want[tg] = "acked"
		}
		l.flush()
		if f.err != nil {
			t.Fatalf("seed %d: %v after %v", seed, f.err, f.calls)
		}
		for tg, w := range want {
			got := "held"
			switch {
			case f.acked[tg]:
				got = "acked"
			case f.nacked[tg]:
				got = "nacked"
			}
			if got != w {
				t.Fatalf("seed %d: tag %d is %s, want %s", seed, tg, got, w)
			}
		}
	}
}
