package gateway

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

// Metrics are the gateway's Prometheus metrics; cmd registers Collectors
// on the admin listener's registry. They are process-wide, as the node is.
var (
	mSessions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stomp_gateway_sessions", Help: "Open client sessions by transport and negotiated STOMP version (\"none\" before CONNECT).",
	}, []string{"transport", "version"})
	mConnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_connects_total", Help: "CONNECT attempts by result: ok, denied, unavailable, rate_limited, refused.",
	}, []string{"transport", "result"})
	mDisconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_disconnects_total", Help: "Ended sessions by close reason.",
	}, []string{"reason"})
	mFramesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_frames_in_total", Help: "Frames received from clients by command.",
	}, []string{"command"})
	mFramesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_frames_out_total", Help: "Frames sent to clients by command (heart-beats excluded).",
	}, []string{"command"})
	mBytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_bytes_in_total", Help: "Bytes received from clients by transport.",
	}, []string{"transport"})
	mBytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_bytes_out_total", Help: "Bytes written to clients by transport.",
	}, []string{"transport"})
	mErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_errors_total", Help: "ERROR frames sent, by their message header.",
	}, []string{"reason"})
	mAuthFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stomp_gateway_auth_failures_total", Help: "Refused logins and sessions by reason: denied, unavailable, rate_limited, token_expired.",
	}, []string{"reason"})
	mConfirmLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "stomp_gateway_publish_confirm_seconds", Help: "Time from a SEND reaching the broker to its publisher confirm.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	mDeliveryLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "stomp_gateway_delivery_seconds", Help: "Time from a broker delivery reaching the gateway to its MESSAGE being written to the client's socket.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
	})
	mDeliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_deliveries_total", Help: "Messages delivered to client subscriptions.",
	})
	mAcks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_acks_total", Help: "ACK frames applied.",
	})
	mNacks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_nacks_total", Help: "NACK frames applied.",
	})
	mOutboundBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stomp_gateway_outbound_queue_bytes", Help: "Bytes queued for clients and not yet written, across sessions.",
	}, func() float64 { return float64(outboundBytes.Load()) })
	mSlowConsumers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_slow_consumer_closes_total", Help: "Sessions closed because their outbound queue passed MAX_OUTBOUND_BYTES.",
	})
	mParked = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stomp_gateway_sessions_parked", Help: "Open sessions with nothing to read that hold no goroutine and no buffer: the idle poller watches their sockets.",
	})
	mPanics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "stomp_gateway_panics_total", Help: "Panics recovered while serving a session (each closed that session with ERROR internal error); any is a bug.",
	})
)

// outboundBytes is the sum of every session's queued bytes.
var outboundBytes atomic.Int64

// Collectors returns the gateway's metrics for registration.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		mSessions, mConnects, mDisconnects, mFramesIn, mFramesOut, mBytesIn, mBytesOut, mErrors,
		mAuthFailures, mConfirmLatency, mDeliveryLatency, mDeliveries, mAcks, mNacks, mOutboundBytes, mSlowConsumers,
		mPanics, mParked,
	}
}

// frameIn is the counter for an inbound frame: client commands have their
// own, anything else a client sends (junk, server commands) is "other",
// so no client can grow the metric.
func frameIn(cmd string) prometheus.Counter {
	if c := frames.in[cmd]; c != nil {
		return c
	}
	return frames.in["other"]
}

// frameCounter holds the counters for one command, looked up once.
type frameCounters struct {
	in, out map[string]prometheus.Counter
}

var frames = func() frameCounters {
	fc := frameCounters{in: map[string]prometheus.Counter{}, out: map[string]prometheus.Counter{}}
	for _, c := range []string{stomp.CmdConnect, stomp.CmdStomp, stomp.CmdSend, stomp.CmdSubscribe, stomp.CmdUnsubscribe,
		stomp.CmdAck, stomp.CmdNack, stomp.CmdBegin, stomp.CmdCommit, stomp.CmdAbort, stomp.CmdDisconnect, "other"} {
		fc.in[c] = mFramesIn.WithLabelValues(c)
	}
	for _, c := range []string{stomp.CmdConnected, stomp.CmdMessage, stomp.CmdReceipt, stomp.CmdError} {
		fc.out[c] = mFramesOut.WithLabelValues(c)
	}
	return fc
}()
