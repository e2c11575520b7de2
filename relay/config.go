package relay

import "time"

// Config is the relay's part of the configuration, read by
// cmd/stomp-gateway from STOMP_GATEWAY_* variables.
type Config struct {
	URLs                  []string      `envconfig:"AMQP_URL" default:"" desc:"RabbitMQ URL(s), comma-separated for a cluster (amqp://user:pass@host:5672/vhost); empty runs the embedded in-memory broker (for development only)"`
	Connections           int           `envconfig:"AMQP_CONNECTIONS" default:"2" desc:"AMQP connections per node and virtual host opened at start (with 2 or more, half publish and half consume); channels are multiplexed over them"`
	MaxConnections        int           `envconfig:"AMQP_MAX_CONNECTIONS" default:"16" desc:"most AMQP connections per node and virtual host: consuming connections are added when their channels run out and closed again when idle; beyond it clients get ERROR resource limit and /readyz reports the node full"`
	ChannelsPerConnection int           `envconfig:"AMQP_CHANNELS_PER_CONNECTION" default:"1000" desc:"most consuming AMQP channels per connection (RabbitMQ allows 2,047 by default)"`
	ConsumersPerChannel   int           `envconfig:"AMQP_CONSUMERS_PER_CHANNEL" default:"100" desc:"most AMQP consumers sharing one channel (each keeps its own prefetch)"`
	IdleConnectionTimeout time.Duration `envconfig:"AMQP_IDLE_CONNECTION_TIMEOUT" default:"1m" desc:"a consuming connection added beyond AMQP_CONNECTIONS is closed after this long without consumers"`
	VHosts                []string      `envconfig:"AMQP_VHOSTS" default:"" desc:"virtual hosts a CONNECT host header may name, comma-separated; empty allows only the URL's"`
	TopicExchange         string        `envconfig:"TOPIC_EXCHANGE" default:"amq.topic" desc:"exchange behind /topic destinations"`
	AppPrefix             string        `envconfig:"APP_PREFIX" default:"/pub" desc:"SEND destinations under this prefix go to APP_EXCHANGE with the rest of the path as routing key (/ becomes .); empty disables"`
	AppExchange           string        `envconfig:"APP_EXCHANGE" default:"stomp-gateway.app" desc:"topic exchange for application-prefix SENDs, declared durable if missing; backend services bind their queues to it"`
	SlashStyle            bool          `envconfig:"SLASH_DESTINATIONS" default:"false" desc:"translate slash-separated topic and exchange keys (/topic/chat/room/5) to RabbitMQ's dots (chat.room.5) and back"`
	HistoryTopics         []string      `envconfig:"HISTORY_TOPICS" default:"" desc:"topics whose messages are kept so that a client can recover what it missed (SUBSCRIBE with x-stream-offset), comma-separated destination patterns in the ACL syntax (/topic/chat.**); kept in a RabbitMQ stream per virtual host (HISTORY_STREAM), or in memory by the embedded broker; empty keeps none"`
	HistoryMaxAge         time.Duration `envconfig:"HISTORY_MAX_AGE" default:"24h" desc:"kept messages older than this are dropped (the stream's x-max-age); 0 keeps them until HISTORY_MAX_BYTES"`
	HistoryMaxBytes       int64         `envconfig:"HISTORY_MAX_BYTES" default:"104857600" desc:"most bytes of kept messages per virtual host (the stream's x-max-length-bytes; RabbitMQ drops whole segments of a quarter of it)"`
	HistoryStream         string        `envconfig:"HISTORY_STREAM" default:"stomp-gateway.history" desc:"name of the RabbitMQ stream that keeps the history, shared by every gateway node of a virtual host; clients cannot SEND to or SUBSCRIBE to it directly"`
	ReconnectMin          time.Duration `envconfig:"AMQP_RECONNECT_MIN" default:"100ms" desc:"first delay before reconnecting to RabbitMQ; doubles up to AMQP_RECONNECT_MAX, with jitter"`
	ReconnectMax          time.Duration `envconfig:"AMQP_RECONNECT_MAX" default:"5s" desc:"longest delay between reconnect attempts"`
	RebalanceInterval     time.Duration `envconfig:"AMQP_REBALANCE_INTERVAL" default:"30s" desc:"a connection that failed over to another RabbitMQ node tries its own node again this often and moves back, so connections spread over the cluster again after a node returns; 0 never moves"`
	Heartbeat             time.Duration `envconfig:"AMQP_HEARTBEAT" default:"10s" desc:"AMQP heartbeat interval"`
	MaxUnconfirmed        int           `envconfig:"AMQP_MAX_UNCONFIRMED" default:"2048" desc:"most publishes one publishing AMQP channel holds unconfirmed, over all the sessions on it; a SEND waits for room (more only adds latency once RabbitMQ is what limits the rate, and costs CPU: amqp091-go looks at every unconfirmed publish on each confirm)"`
	SessionConsumers      int           `envconfig:"AMQP_CONSUMERS_PER_SESSION" default:"64" desc:"most broker consumers one session may hold on RabbitMQ: subscriptions (a node-local fan-out it is in counts as one) and reply-to temp queues, each of which may hold one of the node's AMQP channels; beyond it the client gets ERROR resource limit"`
}
