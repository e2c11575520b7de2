package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

const (
	// httpMaxAnswer bounds the auth service's answer: a few hundred bytes
	// are expected, and a runaway service must not exhaust memory.
	httpMaxAnswer = 64 << 10
	// httpDefaultTimeout applies when Config.HTTPTimeout is not set, so
	// that a hung auth service never hangs a CONNECT.
	httpDefaultTimeout = 2 * time.Second
	// httpMaxExpires is the largest "expires" accepted (year 5138): a
	// larger number is a mistake (milliseconds?) and would overflow.
	httpMaxExpires = 1e11
)

// HTTP is the http backend: it POSTs the credentials to an auth service,
// which answers allow or deny, the user's name and permissions.
//
// Answers are cached: allow for Config.HTTPCacheTTL, deny for
// Config.HTTPNegativeTTL. When the service cannot answer (unreachable,
// timeout, a status other than 200, an invalid answer), Authenticate fails
// closed with ErrUnavailable, which is never cached. Concurrent identical
// requests may both reach the service.
type HTTP struct {
	url    string
	client *http.Client
	cache  *cache
	ttl    time.Duration
	negTTL time.Duration
	log    zerolog.Logger
}

// httpRequest is the body POSTed to the auth service.
type httpRequest struct {
	Login    string `json:"login"`
	Passcode string `json:"passcode"`
	Token    string `json:"token"`
	VHost    string `json:"vhost"`
	Remote   string `json:"remote"`
}

// httpAnswer is the auth service's answer. Allow is required; Expires is
// in Unix seconds, absent or 0 for never.
type httpAnswer struct {
	Allow       *bool        `json:"allow"`
	User        string       `json:"user"`
	Permissions *Permissions `json:"permissions"`
	Expires     float64      `json:"expires"`
}

// NewHTTP returns the http backend for cfg.HTTPURL (http or https). Close
// releases its idle connections.
func NewHTTP(cfg Config, log zerolog.Logger) (*HTTP, error) {
	u, err := url.Parse(cfg.HTTPURL)
	if err != nil {
		return nil, fmt.Errorf("auth http: invalid AUTH_HTTP_URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("auth http: AUTH_HTTP_URL must be an http:// or https:// URL")
	}
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = httpDefaultTimeout
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &HTTP{
		url: cfg.HTTPURL,
		client: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// A redirect would re-send the credentials elsewhere; the
			// service must answer itself, so a 3xx is just not a 200.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		cache:  newCache(defaultCacheSize),
		ttl:    cfg.HTTPCacheTTL,
		negTTL: cfg.HTTPNegativeTTL,
		log:    log.With().Str("auth", "http").Logger(),
	}, nil
}

// Authenticate implements Authenticator.
func (h *HTTP) Authenticate(ctx context.Context, c Credentials) (Identity, error) {
	if e, ok := h.cache.Get(c); ok {
		return e.id, e.err
	}
	start := time.Now()
	id, err := h.call(ctx, c)
	switch {
	case err == nil:
		h.cache.Put(c, id, nil, h.ttl)
		h.log.Debug().Str("user", id.User).Str("remote", c.Remote).Dur("took", time.Since(start)).Msg("auth service allowed")
	case errors.Is(err, ErrDenied):
		h.cache.Put(c, Identity{}, err, h.negTTL)
		h.log.Debug().Str("login", c.Login).Str("remote", c.Remote).Dur("took", time.Since(start)).Msg("auth service denied")
	}
	return id, err
}

// call asks the auth service. Errors wrap ErrDenied or ErrUnavailable and
// never contain the credentials (nor the answer's body, which might echo
// them).
func (h *HTTP) call(ctx context.Context, c Credentials) (Identity, error) {
	body, err := json.Marshal(httpRequest{
		Login:    c.Login,
		Passcode: c.Passcode,
		Token:    c.Token,
		VHost:    c.VHost,
		Remote:   c.Remote,
	})
	if err != nil {
		return Identity{}, fmt.Errorf("%w: encoding the auth request: %w", ErrUnavailable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := h.client.Do(req)
	if err != nil {
		// *url.Error: names the service URL, password stripped.
		return Identity{}, fmt.Errorf("%w: auth service: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Identity{}, fmt.Errorf("%w: auth service returned %d", ErrUnavailable, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, httpMaxAnswer+1))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: reading the auth service's answer: %w", ErrUnavailable, err)
	}
	if len(data) > httpMaxAnswer {
		return Identity{}, fmt.Errorf("%w: auth service's answer exceeds %d bytes", ErrUnavailable, httpMaxAnswer)
	}
	var a httpAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return Identity{}, fmt.Errorf("%w: auth service returned invalid JSON: %w", ErrUnavailable, err)
	}
	if a.Allow == nil {
		return Identity{}, fmt.Errorf("%w: auth service's answer has no \"allow\"", ErrUnavailable)
	}
	if !*a.Allow {
		return Identity{}, fmt.Errorf("%w: auth service denied", ErrDenied)
	}
	id := Identity{User: a.User, Permissions: a.Permissions}
	if id.User == "" {
		id.User = c.Login
	}
	if id.User == "" {
		return Identity{}, fmt.Errorf("%w: auth service allowed, but named no user and there is no login", ErrDenied)
	}
	if a.Expires < 0 || a.Expires > httpMaxExpires {
		return Identity{}, fmt.Errorf("%w: auth service's answer has an invalid \"expires\"", ErrUnavailable)
	}
	if a.Expires != 0 {
		sec := int64(a.Expires)
		id.Expires = time.Unix(sec, int64((a.Expires-float64(sec))*1e9))
		if !id.Expires.After(time.Now()) {
			return Identity{}, fmt.Errorf("%w: auth service allowed until %s, already past", ErrDenied, id.Expires.UTC().Format(time.RFC3339))
		}
	}
	return id, nil
}

// Close releases the backend's idle connections to the auth service.
func (h *HTTP) Close() error {
	h.client.CloseIdleConnections()
	return nil
}
