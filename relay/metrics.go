package relay

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// mReconnects counts AMQP connections re-established after a loss.
var mReconnects = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "stomp_gateway_amqp_reconnects_total", Help: "AMQP connections re-established after a loss.",
})

// Acks sent to RabbitMQ for consumed deliveries (acks.go): the settled
// deliveries they covered over the frames sent is how much the ledger
// coalesced.
var (
	mAckFrames = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_amqp_ack_frames_total", Help: "basic.ack frames sent for consumed deliveries, by multiple (true: one frame settled a run of them).",
	}, []string{"multiple"})
	mAcksSingle, mAcksMultiple = mAckFrames.WithLabelValues("false"), mAckFrames.WithLabelValues("true")
	mAcked                     = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_amqp_acked_deliveries_total", Help: "Consumed deliveries acked to RabbitMQ (by the gateway once written, or by a client's ACK).",
	})
)

// The topic history's recoveries (history.go).
var (
	mRecoveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_history_recoveries_total", Help: "SUBSCRIBEs that recovered a topic's history, by result: complete, partial (the offset asked for was no longer kept) or failed.",
	}, []string{"result"})
	mRecovered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_history_recovered_messages_total", Help: "MESSAGEs delivered from a topic's history rather than live.",
	})
)

// Collectors returns the relay's metrics: the broker footprint of this
// node (connections, channels, node-local fan-out queues and their local
// subscribers) read from its state when scraped, and reconnects.
func (r *Relay) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func(p *pool) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			r.mu.Lock()
			pools := make([]*pool, 0, len(r.pools))
			for _, p := range r.pools {
				pools = append(pools, p)
			}
			r.mu.Unlock()
			var sum float64
			for _, p := range pools {
				sum += f(p)
			}
			return sum
		})
	}
	return []prometheus.Collector{
		mReconnects, mRecoveries, mRecovered, mAckFrames, mAcked,
		gauge("stomp_gateway_amqp_connections", "Open AMQP connections of this node.", func(p *pool) float64 {
			n := 0
			for _, l := range p.allLinks() {
				if l.isUp() {
					n++
				}
			}
			return float64(n)
		}),
		gauge("stomp_gateway_amqp_channels", "AMQP channels of this node: per connection one publishing, one for declares, and the consuming channels its consumers share.", func(p *pool) float64 {
			n := 0
			for _, l := range p.allLinks() {
				n += l.channels()
			}
			return float64(n)
		}),
		gauge("stomp_gateway_amqp_consumers", "AMQP consumers of this node: subscriptions with a consumer of their own, node queues and temp queues.", func(p *pool) float64 {
			n := 0
			for _, l := range p.allLinks() {
				n += l.load()
			}
			return float64(n)
		}),
		gauge("stomp_gateway_fanout_queues", "Node-local fan-out queues: one per topic exchange, and one per distinct binding of other exchanges.", func(p *pool) float64 {
			p.fanMu.Lock()
			defer p.fanMu.Unlock()
			return float64(len(p.fanouts))
		}),
		gauge("stomp_gateway_fanout_bindings", "Distinct binding keys of the node-local fan-out queues.", func(p *pool) float64 {
			n := 0
			for _, nq := range p.nodeQueues() {
				nq.mu.RLock()
				n += len(nq.bindings)
				nq.mu.RUnlock()
			}
			return float64(n)
		}),
		gauge("stomp_gateway_fanout_subscribers", "Local subscriptions served by node-local fan-out queues.", func(p *pool) float64 {
			n := 0
			for _, nq := range p.nodeQueues() {
				nq.mu.RLock()
				for _, b := range nq.bindings {
					n += len(*b.subs.Load())
				}
				nq.mu.RUnlock()
			}
			return float64(n)
		}),
		gauge("stomp_gateway_history_subscribers", "Local subscriptions served from the topic history's stream.", func(p *pool) float64 {
			if p.history == nil {
				return 0
			}
			p.history.mu.Lock()
			defer p.history.mu.Unlock()
			return float64(len(p.history.all))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "stomp_gateway_node_full", Help: "1 while the node can take no more consumers (every AMQP connection it may open has no channel left); /readyz then reports not ready.",
		}, func() float64 {
			if r.Full() {
				return 1
			}
			return 0
		}),
	}
}

// allLinks returns every link of p, those added on demand included.
func (p *pool) allLinks() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(slices.Clone(p.links), p.extra...)
}

// nodeQueues returns p's node queues.
func (p *pool) nodeQueues() []*nodeQueue {
	p.fanMu.Lock()
	defer p.fanMu.Unlock()
	nqs := make([]*nodeQueue, 0, len(p.fanouts))
	for _, nq := range p.fanouts {
		nqs = append(nqs, nq)
	}
	return nqs
}
