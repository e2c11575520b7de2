package gateway

import (
	"fmt"
	"sync/atomic"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Transactions are kept in the session, as RabbitMQ's STOMP plugin does:
// SEND, ACK and NACK frames that name a transaction are buffered and
// applied in order at COMMIT; ABORT and the end of the session discard
// them. A session's open transactions hold at most MaxTransactionBytes,
// counted as whole frames (headers, bodies and bookkeeping), so headers
// cannot grow memory where bodies could not. COMMIT checks every frame of
// the transaction before applying any: a transaction with a frame that
// would fail (an unknown ack id, a refused destination) is refused whole.
type transaction struct {
	frames []*stomp.Frame
	bytes  int // frameCost of frames
}

// frameCost is the memory a buffered frame holds: its header strings
// (which share one allocation), the header slice, the body and the
// Frame itself.
func frameCost(f *stomp.Frame) int {
	n := 64 + len(f.Command) + len(f.Body) + 32*cap(f.Headers)
	for _, h := range f.Headers {
		n += len(h.Key) + len(h.Value) + 2
	}
	return n
}

func (s *session) txID(f *stomp.Frame) (string, *closeReason) {
	id, ok := f.Lookup(stomp.HdrTransaction)
	if !ok || id == "" {
		return "", errMissingTransaction(f.Command)
	}
	return id, nil
}

func unknownTx(id string) *closeReason { return errBadTransaction(id) }

func (s *session) onBegin(f *stomp.Frame) *closeReason {
	id, r := s.txID(f)
	if r != nil {
		return r
	}
	if old, open := s.txs[id]; open {
		// BEGIN of an open transaction starts it afresh, as in RabbitMQ's
		// plugin.
		s.txBytes -= old.bytes
		s.txs[id] = &transaction{}
		return nil
	}
	if len(s.txs) >= s.srv.cfg.MaxTransactions {
		return errTransactionLimit(s.srv.cfg.MaxTransactions)
	}
	if s.txs == nil {
		s.txs = make(map[string]*transaction, 1)
	}
	s.txs[id] = &transaction{}
	return nil
}

// buffer holds a frame of transaction id until COMMIT.
func (s *session) buffer(id string, f *stomp.Frame) *closeReason {
	tx := s.txs[id]
	if tx == nil {
		return unknownTx(id)
	}
	if f.Command == stomp.CmdSend {
		// Refused now, not at COMMIT, so the client learns at once.
		if r := s.checkSend(f); r != nil {
			return r
		}
	}
	if len(tx.frames) >= s.srv.cfg.MaxTransactionFrames {
		return errTransactionActions(s.srv.cfg.MaxTransactionFrames)
	}
	n := frameCost(f)
	if s.txBytes+n > s.srv.cfg.MaxTransactionBytes {
		return protocolError("Transaction too large", fmt.Sprintf("Open transactions may hold at most %d bytes of frames.", s.srv.cfg.MaxTransactionBytes))
	}
	s.txBytes += n
	tx.bytes += n
	tx.frames = append(tx.frames, f)
	return nil
}

// onCommit applies the transaction's frames in order. Its receipt is sent
// once every SEND in it is confirmed.
func (s *session) onCommit(f *stomp.Frame) *closeReason {
	tx, r := s.endTx(f)
	if r != nil {
		return r
	}
	if r := s.checkTx(tx); r != nil {
		return r
	}
	g := &confirmGroup{}
	if receipt, ok := f.Lookup(stomp.HdrReceipt); ok {
		g.then = func() { s.sendReceipt(receipt) }
	}
	g.add()
	for _, tf := range tx.frames {
		var r *closeReason
		if tf.Command == stomp.CmdSend {
			r = s.onSend(tf, g)
		} else {
			r = s.onAck(tf)
		}
		if r != nil {
			return r
		}
	}
	g.done()
	return nil
}

// checkTx checks every frame of tx without applying any: each SEND as
// onSend would, each ACK and NACK against the deliveries still pending
// once the earlier ones in tx are settled.
func (s *session) checkTx(tx *transaction) *closeReason {
	marks := map[string]uint64{}         // client-mode subscriptions: settled up to
	done := map[string]map[uint64]bool{} // client-individual: settled
	for _, f := range tx.frames {
		if f.Command == stomp.CmdSend {
			if r := s.checkSend(f); r != nil {
				return r
			}
			continue
		}
		subID, seq, _, r := s.ackTarget(f)
		if r != nil {
			return r
		}
		cumulative, ok := s.awaitsAck(subID, seq, marks[subID], done[subID])
		if !ok {
			return errMessageNotFound(seq)
		}
		if cumulative {
			marks[subID] = seq
			continue
		}
		if done[subID] == nil {
			done[subID] = map[uint64]bool{}
		}
		done[subID][seq] = true
	}
	return nil
}

func (s *session) onAbort(f *stomp.Frame) *closeReason {
	_, r := s.endTx(f)
	return r
}

// endTx closes the transaction f names (COMMIT or ABORT) and returns it.
func (s *session) endTx(f *stomp.Frame) (*transaction, *closeReason) {
	id, r := s.txID(f)
	if r != nil {
		return nil, r
	}
	tx := s.txs[id]
	if tx == nil {
		return nil, unknownTx(id)
	}
	delete(s.txs, id)
	s.txBytes -= tx.bytes
	return tx, nil
}

// confirmGroup runs then once every publish added to it is confirmed.
type confirmGroup struct {
	n    atomic.Int64
	then func()
}

func (g *confirmGroup) add() { g.n.Add(1) }

func (g *confirmGroup) done() {
	if g.n.Add(-1) == 0 && g.then != nil {
		g.then()
	}
}
