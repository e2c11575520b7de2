package auth

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"
)

// Service is the configured authentication chain and authorizer.
type Service struct {
	Chain
	Authorizer *Authorizer
	closers    []io.Closer
}

// Build assembles the backends cfg names, in order. amqpURLs are the
// relay's: with no backend named, RabbitMQ's own users are checked when
// there is a broker, and it is an error when there is none, because
// accepting anyone must be chosen explicitly (none).
func Build(cfg Config, amqpURLs []string, log zerolog.Logger) (*Service, error) {
	names := cfg.Backends
	if len(names) == 0 {
		if len(amqpURLs) == 0 {
			return nil, errors.New("STOMP_GATEWAY_AUTH is empty: name the authentication backends (static, jwt, http, rabbitmq), or none to accept anyone (local demos only)")
		}
		names = []string{"rabbitmq"}
	}
	s := &Service{}
	for _, name := range names {
		a, err := s.backend(strings.TrimSpace(name), cfg, amqpURLs, log)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Chain = append(s.Chain, a)
		if c, ok := a.(io.Closer); ok {
			s.closers = append(s.closers, c)
		}
	}
	authz, err := NewAuthorizer(cfg.ACLFile)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Authorizer = authz
	return s, nil
}

func (s *Service) backend(name string, cfg Config, amqpURLs []string, log zerolog.Logger) (Authenticator, error) {
	log = log.With().Str("auth", name).Logger()
	switch name {
	case "none":
		log.Warn().Msg("STOMP_GATEWAY_AUTH includes none: every client is accepted; use it for local demos only")
		return AllowAll{}, nil
	case "static":
		if cfg.UsersFile == "" {
			return nil, errors.New("STOMP_GATEWAY_AUTH=static needs STOMP_GATEWAY_AUTH_USERS_FILE")
		}
		return NewStatic(cfg.UsersFile, log)
	case "jwt":
		return NewJWT(cfg, log)
	case "http":
		return NewHTTP(cfg, log)
	case "rabbitmq":
		u := cfg.RabbitMQURL
		if u == "" && len(amqpURLs) > 0 {
			u = amqpURLs[0]
		}
		if u == "" {
			return nil, errors.New("STOMP_GATEWAY_AUTH=rabbitmq needs STOMP_GATEWAY_AUTH_RABBITMQ_URL or STOMP_GATEWAY_AMQP_URL")
		}
		return NewRabbitMQ(u, cfg, log)
	}
	return nil, fmt.Errorf("STOMP_GATEWAY_AUTH: unknown backend %q (static, jwt, http, rabbitmq, none)", name)
}

// Reload re-reads the users file and the ACL file (SIGHUP).
func (s *Service) Reload() error {
	return errors.Join(s.Chain.Reload(), s.Authorizer.Reload())
}

// Close stops background work (file watchers, JWKS refresh) and drops idle
// connections.
func (s *Service) Close() {
	for _, c := range s.closers {
		_ = c.Close()
	}
}
