package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	// managementDefaultPort is where RabbitMQ's management plugin listens
	// unless configured otherwise (management.tcp.port).
	managementDefaultPort = "15672"
	// managementDefaultTimeout applies when Config.RabbitMQManagementTimeout
	// is not set, so that a hung management service never hangs a CONNECT.
	managementDefaultTimeout = 2 * time.Second
	// managementMaxAnswer bounds one answer: a user's permissions in a
	// vhost take a few hundred bytes, and a runaway service must not
	// exhaust memory.
	managementMaxAnswer = 1 << 20
)

// management reads users' permissions from RabbitMQ's management HTTP
// API, with an account that has the administrator tag (only those may
// read other users' permissions).
//
// The account's credentials are kept apart from base and sent as a Basic
// Authorization header, so that no URL this type builds, and no error it
// returns, contains them.
type management struct {
	base     string // scheme://host:port[/path prefix], no credentials, no trailing "/"
	user     string
	password string
	client   *http.Client
}

// rawPerms are a user's permissions in one vhost as the management API
// states them: regular expressions not yet compiled.
type rawPerms struct {
	// found is false when the user has no permission record for the vhost
	// (or the user or vhost does not exist): no access at all.
	found                  bool
	configure, write, read string
	topics                 []rawTopicPerm
}

// rawTopicPerm is a topic permission: regular expressions on the routing
// keys the user may publish (write) and bind (read) with on one exchange.
type rawTopicPerm struct {
	exchange, write, read string
}

// newManagement returns the management client for rawURL, or, when
// rawURL is empty, for the broker of amqpURL: the same host on port 15672
// (https when amqpURL is amqps) with amqpURL's account, which defaults to
// guest/guest as for the AMQP client. Errors never quote either URL: they
// may hold passwords.
func newManagement(rawURL, amqpURL string, timeout time.Duration) (*management, error) {
	m := &management{}
	if rawURL == "" {
		u, err := url.Parse(amqpURL)
		if err != nil {
			return nil, errors.New("auth rabbitmq: invalid AMQP URL")
		}
		creds := u.User
		u.User = nil
		uri, err := amqp.ParseURI(u.String())
		if err != nil {
			return nil, fmt.Errorf("auth rabbitmq: invalid AMQP URL: %w", err)
		}
		scheme := "http"
		if uri.Scheme == "amqps" {
			scheme = "https"
		}
		m.base = scheme + "://" + net.JoinHostPort(uri.Host, managementDefaultPort)
		m.user, m.password = uri.Username, uri.Password
		if creds != nil {
			m.user = creds.Username()
			if p, ok := creds.Password(); ok {
				m.password = p
			}
		}
	} else {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("auth rabbitmq: AUTH_RABBITMQ_MANAGEMENT_URL must be an http:// or https:// URL")
		}
		if u.User != nil {
			m.user = u.User.Username()
			m.password, _ = u.User.Password()
			u.User = nil
		}
		u.RawQuery, u.Fragment = "", ""
		m.base = strings.TrimSuffix(u.String(), "/")
	}
	if timeout <= 0 {
		timeout = managementDefaultTimeout
	}
	m.client = &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:   timeout,
		// A redirect would send the account's credentials elsewhere; the
		// API answers itself, so a 3xx is just not a 200.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return m, nil
}

// permissions fetches user's permissions in vhost: the permission record,
// then, when there is one, the topic permissions. Errors wrap
// ErrUnavailable.
func (m *management) permissions(ctx context.Context, user, vhost string) (rawPerms, error) {
	var p struct {
		Configure, Write, Read *string
	}
	found, err := m.get(ctx, "/api/permissions/"+pathSegment(vhost)+"/"+pathSegment(user), &p)
	if err != nil || !found {
		return rawPerms{}, err
	}
	if p.Configure == nil || p.Write == nil || p.Read == nil {
		return rawPerms{}, fmt.Errorf("%w: rabbitmq management: permissions of user '%s' in vhost '%s' lack configure, write or read", ErrUnavailable, user, vhost)
	}
	raw := rawPerms{found: true, configure: *p.Configure, write: *p.Write, read: *p.Read}

	var topics []struct {
		Exchange, Write, Read *string
	}
	// Not found and [] both mean no topic permission.
	if _, err := m.get(ctx, "/api/topic-permissions/"+pathSegment(vhost)+"/"+pathSegment(user), &topics); err != nil {
		return rawPerms{}, err
	}
	for _, t := range topics {
		if t.Exchange == nil || t.Write == nil || t.Read == nil {
			return rawPerms{}, fmt.Errorf("%w: rabbitmq management: a topic permission of user '%s' in vhost '%s' lacks exchange, write or read", ErrUnavailable, user, vhost)
		}
		raw.topics = append(raw.topics, rawTopicPerm{exchange: *t.Exchange, write: *t.Write, read: *t.Read})
	}
	return raw, nil
}

// get decodes the JSON at path into v. It returns false, and no error,
// for 404 Not Found.
func (m *management) get(ctx context.Context, path string, v any) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return false, fmt.Errorf("%w: rabbitmq management: %w", ErrUnavailable, err)
	}
	req.SetBasicAuth(m.user, m.password)
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		// *url.Error: names the URL, which holds no credentials.
		return false, fmt.Errorf("%w: rabbitmq management: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return false, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, fmt.Errorf("%w: rabbitmq management refused the gateway's account (%d): it needs the administrator tag", ErrUnavailable, resp.StatusCode)
	default:
		return false, fmt.Errorf("%w: rabbitmq management %s returned %d", ErrUnavailable, path, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, managementMaxAnswer+1))
	if err != nil {
		return false, fmt.Errorf("%w: rabbitmq management %s: %w", ErrUnavailable, path, err)
	}
	if len(data) > managementMaxAnswer {
		return false, fmt.Errorf("%w: rabbitmq management %s: answer exceeds %d bytes", ErrUnavailable, path, managementMaxAnswer)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%w: rabbitmq management %s returned invalid JSON: %w", ErrUnavailable, path, err)
	}
	return true, nil
}

// pathSegment escapes a vhost or user name as one path segment: "/" is
// %2F, and "+" is %2B so that no decoder can read it as a space (another
// user's name).
func pathSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// Close drops idle connections to the management API.
func (m *management) Close() error {
	m.client.CloseIdleConnections()
	return nil
}
