package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// JWKS fetching. A refresh runs every jwksRefreshEvery; a token whose kid
// is unknown triggers one at most every jwksUnknownKIDEvery (so a client
// sending made-up kids cannot hammer the identity provider), and waits at
// most jwksUnknownKIDWait for it, fetch included.
const (
	jwksRefreshEvery    = time.Hour
	jwksUnknownKIDEvery = 30 * time.Second
	jwksUnknownKIDWait  = 5 * time.Second
	jwksHTTPTimeout     = 10 * time.Second
)

var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecdsaAlgs = []string{"ES256", "ES384", "ES512"}
	eddsaAlgs = []string{"EdDSA"}
)

// Reasons a token is refused by the key lookup, told apart in Authenticate.
var (
	errJWTNoKey        = errors.New("no key for the token's algorithm")
	errJWTUnknownKey   = errors.New("unknown key")
	errJWKSUnavailable = errors.New("JWKS unavailable")
)

// JWT authenticates clients by a signed JSON Web Token, taken from
// Credentials.Token or, when that is empty, from a passcode that looks like
// a JWT (the login is then ignored, as RabbitMQ's OAuth 2 plugin does).
//
// Keys come from an HMAC secret, a PEM public key file and a JWKS URL, any
// of them; only the algorithms those keys can verify are accepted, and a
// token is only ever verified with a key of its algorithm's kind (no "none",
// no HS256 with a public key as the secret). JWKS keys are refreshed in the
// background and on an unknown kid, which follows key rotation; symmetric
// ("oct") keys from a JWKS are not used.
//
// Authenticate is safe for concurrent use. Close stops the JWKS refresh.
type JWT struct {
	log        zerolog.Logger
	parser     *jwt.Parser
	userClaim  string
	permsClaim string
	allowed    []string // algorithms, as given to the parser

	secret []byte           // HS*; nil when not configured
	pub    crypto.PublicKey // from the PEM file; nil when not configured

	jwks      keyfunc.Keyfunc // nil when not configured
	jwksDown  atomic.Bool     // the last JWKS fetch failed
	transport *http.Transport
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// NewJWT builds the jwt backend from cfg: at least one of JWTSecret,
// JWTPublicKeyFile and JWTJWKSURL must be set. With a JWKS URL it fetches
// the key set once before returning; a JWKS that cannot be fetched is not an
// error here (the identity provider may come up later): it is logged, and
// tokens that need it are answered with ErrUnavailable until a fetch works.
// The caller must Close the returned JWT.
func NewJWT(cfg Config, log zerolog.Logger) (*JWT, error) {
	j := &JWT{
		log:        log.With().Str("backend", "jwt").Logger(),
		userClaim:  cfg.JWTUserClaim,
		permsClaim: cfg.JWTPermissionsClaim,
	}
	if j.userClaim == "" {
		j.userClaim = "sub"
	}
	if j.permsClaim == "" {
		j.permsClaim = "stomp"
	}
	if cfg.JWTSecret == "" && cfg.JWTPublicKeyFile == "" && cfg.JWTJWKSURL == "" {
		return nil, errors.New("jwt: set a secret, a public key file or a JWKS URL")
	}
	if cfg.JWTSecret != "" {
		j.secret = []byte(cfg.JWTSecret)
		j.allowed = append(j.allowed, hmacAlgs...)
		if len(j.secret) < 32 {
			j.log.Warn().Int("bytes", len(j.secret)).Msg("JWT secret is short; use at least 32 random bytes")
		}
	}
	if cfg.JWTPublicKeyFile != "" {
		pub, algs, err := loadJWTPublicKey(cfg.JWTPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("jwt: public key file: %w", err)
		}
		j.pub = pub
		j.allowed = append(j.allowed, algs...)
	}
	if cfg.JWTJWKSURL != "" {
		if err := j.startJWKS(cfg.JWTJWKSURL); err != nil {
			return nil, err
		}
		j.allowed = append(j.allowed, rsaAlgs...)
		j.allowed = append(j.allowed, ecdsaAlgs...)
		j.allowed = append(j.allowed, eddsaAlgs...)
	}
	slices.Sort(j.allowed)
	j.allowed = slices.Compact(j.allowed)

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.allowed),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(max(cfg.JWTClockSkew, 0)),
	}
	if cfg.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
	}
	if cfg.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
	}
	j.parser = jwt.NewParser(opts...)
	j.log.Debug().Strs("algorithms", j.allowed).Msg("jwt backend ready")
	return j, nil
}

// startJWKS fetches the key set and starts its refresh goroutine.
func (j *JWT) startJWKS(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("jwt: JWKS URL must be an http or https URL")
	}
	if u.Scheme == "http" {
		j.log.Warn().Str("url", u.Redacted()).Msg("JWKS is fetched without TLS")
	}
	// Our own transport, so Close can drop its idle connections (and their
	// goroutines); it notes whether the last fetch got an answer.
	j.transport = http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{
		Transport: jwksTransport{base: j.transport, down: &j.jwksDown},
		Timeout:   jwksHTTPTimeout,
	}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	where := u.Redacted()
	j.jwks, err = keyfunc.NewDefaultOverrideCtx(j.ctx, []string{rawURL}, keyfunc.Override{
		Client:            client,
		HTTPTimeout:       jwksHTTPTimeout,
		RefreshInterval:   jwksRefreshEvery,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
		RateLimitWaitMax:  jwksUnknownKIDWait,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				if errors.Is(ctx.Err(), context.Canceled) {
					return // Close, or a client that went away: says nothing of the JWKS
				}
				j.jwksDown.Store(true)
				j.log.Warn().Err(err).Str("url", where).Msg("JWKS fetch failed")
			}
		},
	})
	if err != nil {
		j.cancel()
		j.transport.CloseIdleConnections()
		return fmt.Errorf("jwt: JWKS: %w", err)
	}
	return nil
}

// jwksTransport marks the JWKS as up when a fetch is answered 200; the
// refresh error handler marks it down when a fetch fails in any way
// (network, status, body), which it learns after this.
type jwksTransport struct {
	base http.RoundTripper
	down *atomic.Bool
}

func (t jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		t.down.Store(false)
	}
	return resp, err
}

// Close stops the JWKS refresh, ends fetches in flight and drops idle
// connections; it is idempotent. Tokens can still be checked afterwards
// with the keys already known, but the JWKS is not fetched again.
func (j *JWT) Close() error {
	j.closeOnce.Do(func() {
		if j.cancel != nil {
			j.cancel()
			j.transport.CloseIdleConnections()
		}
	})
	return nil
}

// Authenticate implements Authenticator. Credentials without a token (no
// Token, and a passcode that is not a JWT) are ErrDenied, so a Chain goes on
// to the next backend.
func (j *JWT) Authenticate(ctx context.Context, c Credentials) (Identity, error) {
	raw := c.Token
	if raw == "" {
		if !looksLikeJWT(c.Passcode) {
			return Identity{}, fmt.Errorf("jwt: no token: %w", ErrDenied)
		}
		raw = c.Passcode
	}
	if j.jwks != nil {
		// A JWKS refresh for an unknown kid runs under ctx: let Close end
		// it, and keep it from starting after Close.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(j.ctx, cancel)()
	}
	claims := jwt.MapClaims{}
	tok, err := j.parser.ParseWithClaims(raw, claims, j.keyfunc(ctx))
	if err != nil {
		return Identity{}, j.refusal(tok, err)
	}

	user, _ := claims[j.userClaim].(string)
	if user == "" {
		return Identity{}, fmt.Errorf("jwt: no %q claim: %w", j.userClaim, ErrDenied)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil { // WithExpirationRequired makes this unreachable
		return Identity{}, fmt.Errorf("jwt: no exp: %w", ErrDenied)
	}
	perms, err := permissionsClaim(claims[j.permsClaim])
	if err != nil {
		return Identity{}, fmt.Errorf("jwt: %q claim: %v: %w", j.permsClaim, err, ErrDenied)
	}
	return Identity{User: user, Expires: exp.Time, Permissions: perms}, nil
}

// refusal turns a parse error into a short reason, never quoting the token.
func (j *JWT) refusal(tok *jwt.Token, err error) error {
	if errors.Is(err, errJWKSUnavailable) {
		j.log.Debug().Err(err).Msg("token refused: JWKS unavailable")
		return fmt.Errorf("jwt: JWKS unavailable: %w", ErrUnavailable)
	}
	var reason string
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && tok != nil && tok.Method != nil && !slices.Contains(j.allowed, tok.Method.Alg()):
		reason = "algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = "bad signature"
	case errors.Is(err, errJWTNoKey):
		reason = "algorithm not allowed"
	case errors.Is(err, errJWTUnknownKey):
		reason = "unknown key"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		reason = "unverifiable token"
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = "token issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = "missing required claim"
	default:
		reason = "invalid token"
	}
	return fmt.Errorf("jwt: %s: %w", reason, ErrDenied)
}

// keyfunc picks the key for a token by its algorithm's kind: the secret
// for HS*, the PEM key or the JWKS for the others. A key of another kind is
// never returned, whatever the token claims.
func (j *JWT) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(tok *jwt.Token) (any, error) {
		if _, ok := tok.Method.(*jwt.SigningMethodHMAC); ok {
			if j.secret == nil {
				return nil, errJWTNoKey
			}
			return j.secret, nil
		}
		var keys []jwt.VerificationKey
		if j.pub != nil && keyFits(tok.Method, j.pub) {
			keys = append(keys, j.pub)
		}
		if j.jwks != nil {
			if got, err := j.jwks.KeyfuncCtx(ctx)(tok); err == nil {
				keys = append(keys, fitting(tok.Method, got)...)
			}
			if len(keys) == 0 {
				if j.jwksDown.Load() {
					return nil, errJWKSUnavailable
				}
				return nil, errJWTUnknownKey
			}
		}
		switch len(keys) {
		case 0:
			return nil, errJWTNoKey
		case 1:
			return keys[0], nil
		default:
			return jwt.VerificationKeySet{Keys: keys}, nil
		}
	}
}

// fitting keeps the keys, from a key or a key set, that m can use.
func fitting(m jwt.SigningMethod, got any) []jwt.VerificationKey {
	var out []jwt.VerificationKey
	switch k := got.(type) {
	case jwt.VerificationKeySet:
		for _, key := range k.Keys {
			if keyFits(m, key) {
				out = append(out, key)
			}
		}
	default:
		if keyFits(m, k) {
			out = append(out, k)
		}
	}
	return out
}

// keyFits says whether key is of the kind m verifies with; HMAC is not
// handled here (JWKS symmetric keys are refused).
func keyFits(m jwt.SigningMethod, key any) bool {
	switch m.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		_, ok := key.(*rsa.PublicKey)
		return ok
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && slices.Contains(ecdsaAlgsFor(k.Curve), m.Alg())
	case *jwt.SigningMethodEd25519:
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func ecdsaAlgsFor(c elliptic.Curve) []string {
	switch c {
	case elliptic.P256():
		return []string{"ES256"}
	case elliptic.P384():
		return []string{"ES384"}
	case elliptic.P521():
		return []string{"ES512"}
	}
	return nil
}

// loadJWTPublicKey reads the first public key or certificate in a PEM file
// and returns it with the algorithms it verifies.
func loadJWTPublicKey(path string) (crypto.PublicKey, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, nil, errors.New("no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block")
		}
		var key any
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, nil, errors.New("found a private key; give the public key only")
			}
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			return k, rsaAlgs, nil
		case *ecdsa.PublicKey:
			algs := ecdsaAlgsFor(k.Curve)
			if algs == nil {
				return nil, nil, errors.New("ECDSA key on an unsupported curve (want P-256, P-384 or P-521)")
			}
			return k, algs, nil
		case ed25519.PublicKey:
			return k, eddsaAlgs, nil
		default:
			return nil, nil, fmt.Errorf("unsupported key type %T", key)
		}
	}
}

// looksLikeJWT says whether s is three dot-separated base64url parts, the
// compact JWS form.
func looksLikeJWT(s string) bool {
	parts := 0
	for part := range strings.SplitSeq(s, ".") {
		parts++
		if part == "" || strings.IndexFunc(part, notBase64URL) >= 0 {
			return false
		}
	}
	return parts == 3
}

func notBase64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// permissionsClaim reads {"read": [patterns], "write": [patterns]}; other
// members are ignored. An absent (or null) claim grants nothing: nil.
func permissionsClaim(v any) (*Permissions, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	var p Permissions
	var err error
	if p.Read, err = stringList(obj["read"]); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if p.Write, err = stringList(obj["write"]); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	return &p, nil
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("not a list")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("not a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}
