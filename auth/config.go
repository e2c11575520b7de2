package auth

import "time"

// Config is the authentication and authorization configuration, read by
// cmd/stomp-gateway from STOMP_GATEWAY_* variables.
type Config struct {
	Backends []string `envconfig:"AUTH" default:"" desc:"authentication backends tried in order, comma-separated: static, jwt, http, rabbitmq, none; empty means rabbitmq when STOMP_GATEWAY_AMQP_URL is set (RabbitMQ's own users), and is an error otherwise; none accepts anyone and is for local demos only"`

	UsersFile string `envconfig:"AUTH_USERS_FILE" default:"" desc:"static backend: htpasswd file with bcrypt hashes (htpasswd -B); reloaded when it changes and on SIGHUP"`

	JWTSecret           string        `envconfig:"JWT_SECRET" default:"" desc:"jwt backend: HMAC secret for HS256/384/512 tokens"`
	JWTPublicKeyFile    string        `envconfig:"JWT_PUBLIC_KEY_FILE" default:"" desc:"jwt backend: PEM public key (RSA, ECDSA or Ed25519) for RS*, PS*, ES* and EdDSA tokens"`
	JWTJWKSURL          string        `envconfig:"JWT_JWKS_URL" default:"" desc:"jwt backend: JWKS URL; keys are cached and refreshed, and an unknown kid triggers a refresh (key rotation)"`
	JWTIssuer           string        `envconfig:"JWT_ISSUER" default:"" desc:"jwt backend: required iss claim; empty accepts any"`
	JWTAudience         string        `envconfig:"JWT_AUDIENCE" default:"" desc:"jwt backend: required aud claim; empty accepts any"`
	JWTUserClaim        string        `envconfig:"JWT_USER_CLAIM" default:"sub" desc:"jwt backend: claim that names the user"`
	JWTPermissionsClaim string        `envconfig:"JWT_PERMISSIONS_CLAIM" default:"stomp" desc:"jwt backend: claim with the user's permissions, {\"read\": [patterns], \"write\": [patterns]}"`
	JWTClockSkew        time.Duration `envconfig:"JWT_CLOCK_SKEW" default:"5s" desc:"jwt backend: clock skew allowed when checking exp, nbf and iat at CONNECT"`

	HTTPURL         string        `envconfig:"AUTH_HTTP_URL" default:"" desc:"http backend: URL the credentials are POSTed to as JSON; the answer says allow, user and permissions"`
	HTTPTimeout     time.Duration `envconfig:"AUTH_HTTP_TIMEOUT" default:"2s" desc:"http backend: timeout of one call"`
	HTTPCacheTTL    time.Duration `envconfig:"AUTH_HTTP_CACHE_TTL" default:"30s" desc:"http backend: how long an allow answer is reused"`
	HTTPNegativeTTL time.Duration `envconfig:"AUTH_HTTP_NEGATIVE_TTL" default:"5s" desc:"http backend: how long a deny answer is reused"`

	RabbitMQURL               string        `envconfig:"AUTH_RABBITMQ_URL" default:"" desc:"rabbitmq backend: broker to check login/passcode against with an AMQP handshake (amqp://host:5672/vhost; its credentials, if any, serve only to derive AUTH_RABBITMQ_MANAGEMENT_URL); empty uses the first AMQP_URL"`
	RabbitMQCacheTTL          time.Duration `envconfig:"AUTH_RABBITMQ_CACHE_TTL" default:"30s" desc:"rabbitmq backend: how long a successful check is reused"`
	RabbitMQManagementURL     string        `envconfig:"AUTH_RABBITMQ_MANAGEMENT_URL" default:"" desc:"rabbitmq backend: RabbitMQ management API that users' permissions are read from, with an account tagged administrator (only those may read other users' permissions): http://user:password@rabbitmq:15672; empty: the AMQP URL's host on port 15672 (https for amqps) with the AMQP URL's account (guest/guest when it names none)"`
	RabbitMQManagementTimeout time.Duration `envconfig:"AUTH_RABBITMQ_MANAGEMENT_TIMEOUT" default:"2s" desc:"rabbitmq backend: timeout of one management API call; a user whose permissions cannot be read is refused"`
	RabbitMQPermissionsTTL    time.Duration `envconfig:"AUTH_RABBITMQ_PERMISSIONS_TTL" default:"30s" desc:"rabbitmq backend: how long a user's permissions in a vhost are reused by all its sessions (0: read at every check); past it they are read again before the next check, which is refused if they cannot be"`

	ACLFile string `envconfig:"ACL_FILE" default:"" desc:"authorization rules, one per line: <user or *> <read|write|readwrite> <destination pattern>; * matches within a path segment, ** anything, {user} the user; reloaded on SIGHUP. Without it and without token permissions everything is allowed"`
}
