package gateway

import "time"

// Config is the gateway's part of the configuration. cmd/stomp-gateway
// fills it from STOMP_GATEWAY_* environment variables; every field has a
// default and a description that `stomp-gateway -h` prints.
type Config struct {
	Listen         string        `envconfig:"LISTEN" default:":15674" desc:"address the WebSocket listener binds (RabbitMQ Web-STOMP's port by default)"`
	WSPath         string        `envconfig:"WS_PATH" default:"/ws" desc:"HTTP path of the STOMP WebSocket endpoint"`
	TCPListen      string        `envconfig:"TCP_LISTEN" default:"" desc:"address for STOMP over plain TCP (TLS when TLS_CERT_FILE is set), e.g. :61613; empty turns it off"`
	AllowedOrigins []string      `envconfig:"ALLOWED_ORIGINS" default:"" desc:"comma-separated Origin values allowed to open a WebSocket (e.g. https://app.example.com); empty allows the gateway's own host only; * allows any"`
	ConnectTimeout time.Duration `envconfig:"CONNECT_TIMEOUT" default:"10s" desc:"time a new connection has to send CONNECT"`
	HeartbeatMin   time.Duration `envconfig:"HEARTBEAT_MIN" default:"1s" desc:"shortest STOMP heart-beat interval the gateway agrees to, either way"`
	HeartbeatGrace float64       `envconfig:"HEARTBEAT_GRACE" default:"2" desc:"a client silent for this many negotiated heart-beat intervals is closed"`
	PingInterval   time.Duration `envconfig:"WS_PING_INTERVAL" default:"30s" desc:"interval of WebSocket pings to each client (keeps load balancers from cutting idle sockets); 0 disables"`
	WriteTimeout   time.Duration `envconfig:"WRITE_TIMEOUT" default:"10s" desc:"deadline for writing one frame to a client"`

	MaxFrameBytes        int `envconfig:"MAX_FRAME_BYTES" default:"4194304" desc:"largest inbound STOMP frame after CONNECT, headers and body"`
	MaxFrameBytesPreAuth int `envconfig:"MAX_FRAME_BYTES_UNAUTHENTICATED" default:"65536" desc:"largest inbound frame before a successful CONNECT"`
	MaxHeaders           int `envconfig:"MAX_HEADERS" default:"100" desc:"most headers in one inbound frame"`
	MaxHeaderLineBytes   int `envconfig:"MAX_HEADER_LINE_BYTES" default:"16384" desc:"longest header line in an inbound frame"`
	MaxSubscriptions     int `envconfig:"MAX_SUBSCRIPTIONS" default:"256" desc:"most subscriptions one session may hold"`
	MaxTransactions      int `envconfig:"MAX_TRANSACTIONS" default:"16" desc:"most open transactions per session"`
	MaxTransactionFrames int `envconfig:"MAX_TRANSACTION_FRAMES" default:"1024" desc:"most frames buffered in one transaction"`
	MaxTransactionBytes  int `envconfig:"MAX_TRANSACTION_BYTES" default:"16777216" desc:"most bytes buffered in all open transactions of a session, counted as whole frames (headers and bodies)"`
	MaxOutboundBytes     int `envconfig:"MAX_OUTBOUND_BYTES" default:"16777216" desc:"bytes queued for a client before it is closed as a slow consumer"`
	MaxInflight          int `envconfig:"MAX_INFLIGHT_PUBLISHES" default:"512" desc:"unconfirmed SENDs per session before the gateway stops reading from it"`
	MaxInflightBytes     int `envconfig:"MAX_INFLIGHT_BYTES" default:"16777216" desc:"bytes of unconfirmed SENDs per session before the gateway stops reading from it (one SEND always goes out, whatever its size)"`
	DefaultPrefetch      int `envconfig:"DEFAULT_PREFETCH" default:"1000" desc:"prefetch (deliveries in flight) of subscriptions without a prefetch-count header: client-ack ones, and auto-ack ones on a queue of their own, which the gateway settles once written"`
	MaxPrefetch          int `envconfig:"MAX_PREFETCH" default:"10000" desc:"largest prefetch a subscription gets; prefetch-count:0 (unlimited on RabbitMQ) or more is this"`

	AuthFromUpgrade       bool          `envconfig:"AUTH_FROM_UPGRADE" default:"false" desc:"also take credentials from the WebSocket upgrade request (Authorization: Basic or Bearer, the AUTH_COOKIE cookie, an access_token query parameter) when CONNECT carries none"`
	AuthCookie            string        `envconfig:"AUTH_COOKIE" default:"" desc:"name of a cookie holding a bearer token, with AUTH_FROM_UPGRADE"`
	AuthFailureDelay      time.Duration `envconfig:"AUTH_FAILURE_DELAY" default:"1s" desc:"a failed CONNECT is answered this long after it arrived, or when the backend answers if that is later (the two overlap, never add up)"`
	AuthFailuresPerMinute int           `envconfig:"AUTH_FAILURES_PER_MINUTE" default:"10" desc:"failed CONNECTs allowed per client address and minute; each CONNECT takes one before its credentials are checked (given back when they are accepted), and beyond it CONNECTs from that address wait for checks in flight or are refused unchecked"`
	TrustedProxies        []string      `envconfig:"TRUSTED_PROXIES" default:"" desc:"comma-separated IPs or CIDRs of proxies whose X-Forwarded-For names the client address; from others it is ignored"`
	UserHeader            string        `envconfig:"USER_HEADER" default:"x-stomp-user" desc:"header every published message carries with the authenticated user; a client-supplied copy (in any case, with any surrounding whitespace) is dropped"`

	DurableQueueNames       string `envconfig:"DURABLE_QUEUE_NAMES" default:"per-user" desc:"naming of durable subscription queues: per-user (from the user, the destination and the id, so users never share one) or rabbitmq (RabbitMQ's own names, shared by every user with the same id and destination, for moving existing durable subscriptions over; rules must then allow reading /queue/<name>)"`
	AuthMaxConcurrentChecks int    `envconfig:"AUTH_MAX_CONCURRENT_CHECKS" default:"0" desc:"most credential checks (bcrypt, auth service or RabbitMQ logins) running at once on this node; a CONNECT beyond it waits for a free one until CONNECT_TIMEOUT, then gets ERROR authentication unavailable; 0 means 8 x GOMAXPROCS. Raise it for backends that mostly wait: a wrong password holds a rabbitmq check for about 3 s"`
	DefaultLogin            string `envconfig:"DEFAULT_LOGIN" default:"" desc:"a CONNECT without login, passcode or token is authenticated as this user (with DEFAULT_PASSCODE), as RabbitMQ's stomp.default_user; empty turns it off"`
	DefaultPasscode         string `envconfig:"DEFAULT_PASSCODE" default:"" desc:"passcode of DEFAULT_LOGIN"`
	ImplicitConnect         bool   `envconfig:"IMPLICIT_CONNECT" default:"false" desc:"a session whose first frame is not CONNECT is connected as DEFAULT_LOGIN (STOMP 1.0, no CONNECTED frame) instead of refused, as RabbitMQ's stomp.implicit_connect"`
}

// DefaultConfig returns the configuration with every default applied, for
// tests and embedders that do not read the environment.
func DefaultConfig() Config {
	return Config{
		Listen:               ":15674",
		WSPath:               "/ws",
		ConnectTimeout:       10 * time.Second,
		HeartbeatMin:         time.Second,
		HeartbeatGrace:       2,
		PingInterval:         30 * time.Second,
		WriteTimeout:         10 * time.Second,
		MaxFrameBytes:        4 << 20,
		MaxFrameBytesPreAuth: 64 << 10,
		MaxHeaders:           100,
		MaxHeaderLineBytes:   16 << 10,
		MaxSubscriptions:     256,
		MaxTransactions:      16,
		MaxTransactionFrames: 1024,
		MaxTransactionBytes:  16 << 20,
		MaxOutboundBytes:     16 << 20,
		MaxInflight:          512,
		MaxInflightBytes:     16 << 20,
		DefaultPrefetch:      1000,
		MaxPrefetch:          10000,

		AuthFailureDelay:      time.Second,
		AuthFailuresPerMinute: 10,
		UserHeader:            "x-stomp-user",
		DurableQueueNames:     DurableNamesPerUser,
	}
}
