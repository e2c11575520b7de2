package relay

import "github.com/prometheus/client_golang/prometheus"

// mReconnects counts AMQP connections re-established after a loss.
var mReconnects = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "stomp_gateway_amqp_reconnects_total", Help: "AMQP connections re-established after a loss.",
})

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
		mReconnects,
		gauge("stomp_gateway_amqp_connections", "Open AMQP connections of this node.", func(p *pool) float64 {
			n := 0
			for _, l := range p.links {
				if l.isUp() {
					n++
				}
			}
			return float64(n)
		}),
		gauge("stomp_gateway_amqp_channels", "AMQP channels of this node: a publishing channel per connection and one per consumer, fan-out and temp queue.", func(p *pool) float64 {
			n := 0
			for _, l := range p.links {
				if l.isUp() {
					n += 1 + l.load()
				}
			}
			return float64(n)
		}),
		gauge("stomp_gateway_fanout_queues", "Node-local fan-out queues (one per distinct topic/exchange binding).", func(p *pool) float64 {
			p.fanMu.Lock()
			defer p.fanMu.Unlock()
			return float64(len(p.fanouts))
		}),
		gauge("stomp_gateway_fanout_subscribers", "Local subscriptions served by node-local fan-out queues.", func(p *pool) float64 {
			p.fanMu.Lock()
			defer p.fanMu.Unlock()
			n := 0
			for _, f := range p.fanouts {
				n += len(*f.subs.Load())
			}
			return float64(n)
		}),
	}
}
