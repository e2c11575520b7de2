package gateway

import (
	"fmt"
	"sync/atomic"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Transactions are kept in the session, as RabbitMQ's STOMP plugin does:
// SEND, ACK and NACK frames that name a transaction are buffered (bounded
// by MaxTransactionFrames) and applied in order at COMMIT; ABORT and the
// end of the session discard them.
type transaction struct {
	frames []*stomp.Frame
}

func (s *session) txID(f *stomp.Frame) (string, *closeReason) {
	id, ok := f.Lookup(stomp.HdrTransaction)
	if !ok || id == "" {
		return "", protocolError("Missing transaction", fmt.Sprintf("%q must include a 'transaction' header.", f.Command))
	}
	return id, nil
}

func unknownTx(id string) *closeReason {
	return protocolError("Bad transaction", fmt.Sprintf("Invalid transaction identifier: %q.", id))
}

func (s *session) onBegin(f *stomp.Frame) *closeReason {
	id, r := s.txID(f)
	if r != nil {
		return r
	}
	if _, open := s.txs[id]; open {
		return protocolError("Bad transaction", fmt.Sprintf("Transaction %q is already open.", id))
	}
	if len(s.txs) >= s.srv.cfg.MaxTransactions {
		return protocolError("Too many transactions", fmt.Sprintf("A session may hold at most %d open transactions.", s.srv.cfg.MaxTransactions))
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
		return protocolError("Transaction too large", fmt.Sprintf("A transaction may hold at most %d frames.", s.srv.cfg.MaxTransactionFrames))
	}
	if s.txBytes+len(f.Body) > s.srv.cfg.MaxTransactionBytes {
		return protocolError("Transaction too large", fmt.Sprintf("Open transactions may hold at most %d bytes of bodies.", s.srv.cfg.MaxTransactionBytes))
	}
	s.txBytes += len(f.Body)
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
	s.txBytes -= tx.bytes()
	return tx, nil
}

// bytes is the body bytes tx buffers.
func (tx *transaction) bytes() int {
	n := 0
	for _, f := range tx.frames {
		n += len(f.Body)
	}
	return n
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
