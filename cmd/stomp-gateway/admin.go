package main

import (
	"net/http"
	"net/http/pprof"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
)

// admin is the operators' listener, apart from client traffic: metrics,
// liveness, readiness and, when enabled, pprof.
type admin struct {
	broker   broker.Broker
	draining atomic.Bool
}

// handler builds the admin mux. extra are more collectors (the relay's).
func (a *admin) handler(pprofOn bool, extra []prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	all := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, gateway.Collectors()...)
	for _, c := range append(all, extra...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case a.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !a.broker.Ready():
			http.Error(w, "broker unreachable", http.StatusServiceUnavailable)
		case a.full():
			http.Error(w, "node full", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ready\n"))
		}
	})
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux, nil
}

// full reports whether the broker says this node can take no more
// consumers (the relay's AMQP connections and channels are all in use):
// a load balancer should send new clients to another node.
func (a *admin) full() bool {
	f, ok := a.broker.(interface{ Full() bool })
	return ok && f.Full()
}
