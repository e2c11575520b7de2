// Command stomp-gateway serves STOMP over WebSocket in front of RabbitMQ,
// or in front of an embedded in-memory broker when no AMQP URL is set.
//
// Configuration comes from STOMP_GATEWAY_* environment variables; run
// `stomp-gateway -h` to list them all.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
	"github.com/stomp-gateway/stomp-gateway/examples/chat"
	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/broker"
	"github.com/stomp-gateway/stomp-gateway/gateway/routing"
	"github.com/stomp-gateway/stomp-gateway/relay"
	"github.com/stomp-gateway/stomp-gateway/relay/memory"
)

const prefix = "STOMP_GATEWAY"

// config is the process-level configuration; each package owns the rest.
type config struct {
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info" desc:"log level: debug, info, warn or error"`
	LogFormat       string        `envconfig:"LOG_FORMAT" default:"auto" desc:"log format: json, console, or auto (console on a terminal, JSON otherwise)"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"after the drain delay, how long SIGTERM waits for sessions to close and publisher confirms to arrive before exiting"`
	Demo            bool          `envconfig:"DEMO" default:"false" desc:"serve the chat room demo at / on the WebSocket listener (and, on the embedded broker, run its backend in-process)"`
	DemoDir         string        `envconfig:"DEMO_DIR" default:"examples/chat" desc:"folder of the chat demo (its web/ and the npm-installed @stomp/stompjs)"`
	AdminListen     string        `envconfig:"ADMIN_LISTEN" default:":15675" desc:"address of the admin listener (/metrics, /healthz, /readyz, pprof), apart from client traffic; empty turns it off"`
	PProf           bool          `envconfig:"PPROF" default:"false" desc:"serve net/http/pprof on the admin listener"`
	MemoryTrim      time.Duration `envconfig:"MEMORY_TRIM_INTERVAL" default:"5s" desc:"how often to check for heap the Go runtime freed but still holds, or garbage no collection is coming for (after a storm of connects, most of it), and return it to the OS when it is over 16 MiB and a quarter of the heap in use; 0 leaves it to the runtime"`
	DrainDelay      time.Duration `envconfig:"DRAIN_DELAY" default:"5s" desc:"on SIGTERM, how long /readyz reports not ready before the gateway stops accepting, so the load balancer stops sending new clients first"`
	TLSCertFile     string        `envconfig:"TLS_CERT_FILE" default:"" desc:"PEM certificate (chain) for TLS on the listener; with TLS_KEY_FILE the gateway serves wss://"`
	TLSKeyFile      string        `envconfig:"TLS_KEY_FILE" default:"" desc:"PEM private key for TLS_CERT_FILE"`
	HTTPIdleTimeout time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"60s" desc:"a keep-alive HTTP connection to the WebSocket listener (the demo page, a refused upgrade) or the admin listener is closed after this long without a request; upgraded WebSockets are not affected"`
	HTTPReadTimeout time.Duration `envconfig:"HTTP_READ_TIMEOUT" default:"30s" desc:"time to read one whole HTTP request, headers and body, on the WebSocket and admin listeners; upgraded WebSockets are not affected. Request headers on the WebSocket listener must also arrive within CONNECT_TIMEOUT (with TLS, the handshake too)"`
}

// Compile-time checks that the brokers satisfy the gateway's port.
var (
	_ broker.Broker = (*memory.Broker)(nil)
	_ broker.Broker = (*relay.Relay)(nil)
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stomp-gateway:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stomp-gateway", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { usage(stdout) }
	markdown := fs.Bool("config-markdown", false, "print the configuration as the README's Markdown table and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *markdown {
		return configTable(stdout)
	}
	var cfg config
	var gwCfg gateway.Config
	var relayCfg relay.Config
	var authCfg auth.Config
	for _, spec := range []any{&cfg, &gwCfg, &relayCfg, &authCfg} {
		if err := envconfig.Process(prefix, spec); err != nil {
			return err
		}
	}
	log, err := newLogger(cfg, os.Stderr)
	if err != nil {
		return err
	}
	tuneGC(os.Getenv, log)

	b, err := openBroker(relayCfg, log)
	if err != nil {
		return err
	}
	defer b.Close()

	authn, err := auth.Build(authCfg, relayCfg.URLs, log)
	if err != nil {
		return err
	}
	defer authn.Close()
	gw, err := gateway.New(gwCfg, b, authn, authn.Authorizer, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(gwCfg.WSPath, gw)
	if cfg.Demo {
		mux.Handle("/", chat.Handler(cfg.DemoDir))
		if _, embedded := b.(*memory.Broker); embedded {
			be, err := chat.StartBackend(context.Background(), b, relayCfg.AppExchange, gwCfg.UserHeader, log.With().Str("component", "chat-backend").Logger())
			if err != nil {
				return err
			}
			defer be.Close()
		}
	}
	adm := &admin{broker: b}
	if cfg.AdminListen != "" {
		var extra []prometheus.Collector
		if r, ok := b.(*relay.Relay); ok {
			extra = r.Collectors()
		}
		h, err := adm.handler(cfg.PProf, extra)
		if err != nil {
			return err
		}
		aln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			return err
		}
		// No WriteTimeout: /debug/pprof/profile streams for 30 s.
		as := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.HTTPReadTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
		go func() { _ = as.Serve(aln) }()
		defer as.Close()
		log.Info().Str("listen", aln.Addr().String()).Bool("pprof", cfg.PProf).Msg("admin listener (/metrics, /healthz, /readyz)")
	}

	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	// WebSocket pings find dead peers, so TCP keep-alives (four
	// setsockopt calls per connection) are only set without them.
	ln, err := listen(gwCfg.Listen, tlsCfg, gwCfg.PingInterval <= 0)
	if err != nil {
		return err
	}
	// A client that sends nothing, over TLS or not, is closed within
	// CONNECT_TIMEOUT as on the TCP listener: net/http bounds the TLS
	// handshake by ReadHeaderTimeout too. Gorilla's Upgrade clears the
	// deadlines net/http set, so a WebSocket outlives ReadTimeout.
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: gwCfg.ConnectTimeout, ReadTimeout: cfg.HTTPReadTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
	serveErr := make(chan error, 2)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("path", gwCfg.WSPath).Bool("tls", tlsCfg != nil).Bool("demo", cfg.Demo).Msg("stomp-gateway listening for WebSocket")
	if gwCfg.TCPListen != "" {
		tln, err := listen(gwCfg.TCPListen, tlsCfg, true)
		if err != nil {
			return err
		}
		go func() { serveErr <- gw.ServeTCP(tln) }()
		log.Info().Str("listen", tln.Addr().String()).Bool("tls", tlsCfg != nil).Msg("stomp-gateway listening for STOMP over TCP")
	}

	if cfg.MemoryTrim > 0 {
		stopTrim := make(chan struct{})
		defer close(stopTrim)
		go trimMemory(cfg.MemoryTrim, log, stopTrim)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
wait:
	for {
		select {
		case err := <-serveErr:
			return err
		case s := <-sig:
			if s == syscall.SIGHUP {
				if err := authn.Reload(); err != nil {
					log.Error().Err(err).Msg("SIGHUP: reload failed; the previous users and rules stay")
				} else {
					log.Info().Msg("SIGHUP: users and ACL reloaded")
				}
				continue
			}
			log.Info().Str("signal", s.String()).Msg("shutting down")
			break wait
		}
	}

	drain(log, adm, cfg, hs, gw, b)
	return nil
}

// drain is the ordered shutdown: not ready, wait for the load balancer,
// stop accepting, tell every session (ERROR server shutting down, close
// 1001) and wait for them, wait for outstanding publisher confirms; the
// AMQP connections close after (deferred in run).
func drain(log zerolog.Logger, adm *admin, cfg config, hs *http.Server, gw *gateway.Server, b broker.Broker) {
	adm.draining.Store(true)
	log.Info().Dur("delay", cfg.DrainDelay).Msg("draining: /readyz reports not ready")
	time.Sleep(cfg.DrainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// http.Server.Shutdown stops accepting but does not wait for hijacked
	// WebSocket connections; gw.Shutdown does, and closes TCP listeners.
	_ = hs.Shutdown(ctx)
	if err := gw.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Int("sessions", gw.Sessions()).Msg("sessions still open at the shutdown deadline")
	}
	if d, ok := b.(interface{ Drain(context.Context) error }); ok {
		if err := d.Drain(ctx); err != nil {
			log.Warn().Err(err).Msg("publisher confirms still outstanding at the shutdown deadline")
		}
	}
	log.Info().Msg("stopped")
}

// loadTLS reads the certificate when TLS is configured (nil otherwise).
func loadTLS(cfg config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" && cfg.TLSKeyFile == "" {
		return nil, nil
	}
	if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
		return nil, errors.New("TLS needs both STOMP_GATEWAY_TLS_CERT_FILE and STOMP_GATEWAY_TLS_KEY_FILE")
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listen opens addr, with TLS when tlsCfg is set, and TCP keep-alives on
// accepted connections when keepAlive.
func listen(addr string, tlsCfg *tls.Config, keepAlive bool) (net.Listener, error) {
	lc := net.ListenConfig{}
	if !keepAlive {
		lc.KeepAlive = -1
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil || tlsCfg == nil {
		return ln, err
	}
	return tls.NewListener(ln, tlsCfg), nil
}

// openBroker picks the broker: RabbitMQ when an AMQP URL is set, the
// embedded one otherwise.
func openBroker(cfg relay.Config, log zerolog.Logger) (broker.Broker, error) {
	if err := routing.CheckHistory(cfg.RoutingConfig().History); err != nil {
		return nil, fmt.Errorf("STOMP_GATEWAY_HISTORY_*: %w", err)
	}
	if len(cfg.URLs) > 0 {
		r, err := relay.New(cfg, log)
		if err != nil {
			return nil, err
		}
		log.Info().Int("urls", len(cfg.URLs)).Int("connections", cfg.Connections).Msg("relaying to RabbitMQ")
		return r, nil
	}
	log.Warn().Msg("STOMP_GATEWAY_AMQP_URL is empty: using the embedded in-memory broker; messages live in this process only (development use)")
	return memory.NewWithConfig(memory.Config{Routing: cfg.RoutingConfig()}), nil
}

func newLogger(cfg config, w *os.File) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("STOMP_GATEWAY_LOG_LEVEL: %w", err)
	}
	var out io.Writer = w
	switch cfg.LogFormat {
	case "console":
		out = zerolog.ConsoleWriter{Out: w}
	case "auto":
		if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			out = zerolog.ConsoleWriter{Out: w}
		}
	case "json":
	default:
		return zerolog.Logger{}, fmt.Errorf("STOMP_GATEWAY_LOG_FORMAT: %q is not json, console or auto", cfg.LogFormat)
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), nil
}

// configTable writes every variable as a Markdown table, so the README's
// table comes from the same tags as `-h`.
func configTable(w io.Writer) error {
	const row = "{{range .}}| `{{.Key}}` | {{with .Tags.Get \"default\"}}`{{.}}`{{else}}(empty){{end}} | {{.Tags.Get \"desc\"}} |\n{{end}}"
	if _, err := fmt.Fprintln(w, "| variable | default | meaning |\n|---|---|---|"); err != nil {
		return err
	}
	for _, spec := range specs() {
		if err := envconfig.Usagef(prefix, spec, w, row); err != nil {
			return err
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "stomp-gateway serves STOMP over WebSocket in front of RabbitMQ.")
	fmt.Fprintln(w, "\nIt is configured by environment variables:")
	for _, spec := range specs() {
		_ = envconfig.Usagef(prefix, spec, w, envconfig.DefaultTableFormat)
	}
}

// specs are every package's configuration, in the order -h lists them.
func specs() []any { return []any{&config{}, &relay.Config{}, &auth.Config{}, &gateway.Config{}} }
