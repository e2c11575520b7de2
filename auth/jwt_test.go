package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/auth"
)

const jwtTestSecret = "0123456789abcdef0123456789abcdef"

// jwtTestRSAKey is shared: RSA key generation is slow under -race.
var jwtTestRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func jwtTestRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwtTestECDSA(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwtTestEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwtTestClaims are valid claims for user, expiring in an hour.
func jwtTestClaims(user string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": user,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

func jwtTestSign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwtTestPEM writes one PEM block to a file in a temporary directory.
func jwtTestPEM(t *testing.T, typ string, der []byte) (string, []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func jwtTestPKIX(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func jwtTestNew(t *testing.T, cfg auth.Config) *auth.JWT {
	t.Helper()
	j, err := auth.NewJWT(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func jwtTestAuth(j *auth.JWT, token string) (auth.Identity, error) {
	return j.Authenticate(context.Background(), auth.Credentials{Login: "ignored", Passcode: token})
}

func jwtTestAccept(t *testing.T, j *auth.JWT, token, user string) auth.Identity {
	t.Helper()
	id, err := jwtTestAuth(j, token)
	if err != nil {
		t.Fatalf("want accepted, got %v", err)
	}
	if id.User != user {
		t.Fatalf("user = %q, want %q", id.User, user)
	}
	return id
}

// jwtTestDeny checks that token is refused with ErrDenied, and that the
// error does not quote it.
func jwtTestDeny(t *testing.T, j *auth.JWT, token, reason string) {
	t.Helper()
	for _, c := range []auth.Credentials{{Token: token}, {Login: "x", Passcode: token}} {
		_, err := j.Authenticate(context.Background(), c)
		if !errors.Is(err, auth.ErrDenied) {
			t.Fatalf("want ErrDenied, got %v", err)
		}
		if strings.Contains(err.Error(), token) {
			t.Fatalf("error quotes the token: %v", err)
		}
		if c.Token != "" && !strings.Contains(err.Error(), reason) {
			t.Fatalf("error %q does not say %q", err, reason)
		}
	}
}

func TestJWTHMACSecret(t *testing.T) {
	t.Parallel()
	j := jwtTestNew(t, auth.Config{JWTSecret: jwtTestSecret})
	defer j.Close()
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		t.Run(m.Alg(), func(t *testing.T) {
			claims := jwtTestClaims("alice")
			id := jwtTestAccept(t, j, jwtTestSign(t, m, []byte(jwtTestSecret), "", claims), "alice")
			if want := time.Unix(claims["exp"].(int64), 0); !id.Expires.Equal(want) {
				t.Errorf("Expires = %v, want exp %v", id.Expires, want)
			}
			if id.Permissions != nil {
				t.Errorf("Permissions = %+v, want nil without the claim", id.Permissions)
			}
			jwtTestDeny(t, j, jwtTestSign(t, m, []byte("another secret, 32 bytes long..."), "", claims), "bad signature")
		})
	}
	jwtTestDeny(t, j, jwtTestSign(t, jwt.SigningMethodES256, jwtTestECDSA(t, elliptic.P256()), "", jwtTestClaims("alice")), "algorithm not allowed")
}

func TestJWTPublicKeyFile(t *testing.T) {
	t.Parallel()
	rsaKey := jwtTestRSAKey()
	p256 := jwtTestECDSA(t, elliptic.P256())
	p384 := jwtTestECDSA(t, elliptic.P384())
	edKey := jwtTestEd25519(t)
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "issuer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}}, p256.Public(), p256)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		pemType string
		der     []byte
		good    map[jwt.SigningMethod]any // accepted, by the matching private key
		other   jwt.SigningMethod         // same kind, another key: bad signature
		otherK  any
		wrong   jwt.SigningMethod // an algorithm the key does not allow
		wrongK  any
	}{
		{
			name: "RSA PKIX", pemType: "PUBLIC KEY", der: jwtTestPKIX(t, rsaKey.Public()),
			good:  map[jwt.SigningMethod]any{jwt.SigningMethodRS256: rsaKey, jwt.SigningMethodRS512: rsaKey, jwt.SigningMethodPS256: rsaKey},
			other: jwt.SigningMethodRS256, otherK: jwtTestRSA(t),
			wrong: jwt.SigningMethodES256, wrongK: p256,
		},
		{
			name: "RSA PKCS1", pemType: "RSA PUBLIC KEY", der: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey),
			good:  map[jwt.SigningMethod]any{jwt.SigningMethodRS384: rsaKey, jwt.SigningMethodPS384: rsaKey},
			other: jwt.SigningMethodPS512, otherK: jwtTestRSA(t),
			wrong: jwt.SigningMethodEdDSA, wrongK: edKey,
		},
		{
			name: "ECDSA P-256", pemType: "PUBLIC KEY", der: jwtTestPKIX(t, p256.Public()),
			good:  map[jwt.SigningMethod]any{jwt.SigningMethodES256: p256},
			other: jwt.SigningMethodES256, otherK: jwtTestECDSA(t, elliptic.P256()),
			wrong: jwt.SigningMethodES384, wrongK: p384,
		},
		{
			name: "Ed25519", pemType: "PUBLIC KEY", der: jwtTestPKIX(t, edKey.Public()),
			good:  map[jwt.SigningMethod]any{jwt.SigningMethodEdDSA: edKey},
			other: jwt.SigningMethodEdDSA, otherK: jwtTestEd25519(t),
			wrong: jwt.SigningMethodRS256, wrongK: rsaKey,
		},
		{
			name: "ECDSA certificate", pemType: "CERTIFICATE", der: certDER,
			good:  map[jwt.SigningMethod]any{jwt.SigningMethodES256: p256},
			other: jwt.SigningMethodES256, otherK: jwtTestECDSA(t, elliptic.P256()),
			wrong: jwt.SigningMethodES512, wrongK: jwtTestECDSA(t, elliptic.P521()),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, pemBytes := jwtTestPEM(t, tc.pemType, tc.der)
			j := jwtTestNew(t, auth.Config{JWTPublicKeyFile: path})
			defer j.Close()
			for m, k := range tc.good {
				jwtTestAccept(t, j, jwtTestSign(t, m, k, "", jwtTestClaims("alice")), "alice")
			}
			claims := jwtTestClaims("alice")
			jwtTestDeny(t, j, jwtTestSign(t, tc.other, tc.otherK, "", claims), "bad signature")
			jwtTestDeny(t, j, jwtTestSign(t, tc.wrong, tc.wrongK, "", claims), "algorithm not allowed")
			// Algorithm confusion: HS256 keyed with the public key file.
			for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
				jwtTestDeny(t, j, jwtTestSign(t, m, pemBytes, "", claims), "algorithm not allowed")
				jwtTestDeny(t, j, jwtTestSign(t, m, tc.der, "", claims), "algorithm not allowed")
			}
		})
	}
}

func TestJWTSecretAndPublicKeyTogether(t *testing.T) {
	t.Parallel()
	k := jwtTestECDSA(t, elliptic.P256())
	path, _ := jwtTestPEM(t, "PUBLIC KEY", jwtTestPKIX(t, k.Public()))
	j := jwtTestNew(t, auth.Config{JWTSecret: jwtTestSecret, JWTPublicKeyFile: path})
	defer j.Close()
	jwtTestAccept(t, j, jwtTestSign(t, jwt.SigningMethodES256, k, "", jwtTestClaims("a")), "a")
	jwtTestAccept(t, j, jwtTestSign(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "", jwtTestClaims("b")), "b")
}

func TestJWTClaimsValidation(t *testing.T) {
	t.Parallel()
	j := jwtTestNew(t, auth.Config{
		JWTSecret:    jwtTestSecret,
		JWTIssuer:    "https://idp.example",
		JWTAudience:  "stomp-gateway",
		JWTClockSkew: 5 * time.Second,
	})
	defer j.Close()
	now := time.Now()
	valid := func(edit func(jwt.MapClaims)) string {
		c := jwtTestClaims("alice")
		c["iss"] = "https://idp.example"
		c["aud"] = "stomp-gateway"
		edit(c)
		return jwtTestSign(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "", c)
	}
	accepted := []struct {
		name string
		edit func(jwt.MapClaims)
	}{
		{"valid token", func(jwt.MapClaims) {}},
		{"expired within the clock skew", func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Second).Unix() }},
		{"nbf within the clock skew", func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Second).Unix() }},
		{"iat within the clock skew", func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Second).Unix() }},
		{"nbf in the past", func(c jwt.MapClaims) { c["nbf"] = now.Add(-time.Minute).Unix() }},
		{"audience in a list", func(c jwt.MapClaims) { c["aud"] = []string{"other", "stomp-gateway"} }},
		{"no iat", func(c jwt.MapClaims) { delete(c, "iat") }},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			jwtTestAccept(t, j, valid(tc.edit), "alice")
		})
	}

	denied := []struct {
		name, reason string
		token        string
	}{
		{"expired", "token expired", valid(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })},
		{"nbf in the future", "token not valid yet", valid(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })},
		{"iat in the future", "token issued in the future", valid(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })},
		{"no exp", "missing required claim", valid(func(c jwt.MapClaims) { delete(c, "exp") })},
		{"wrong issuer", "wrong issuer", valid(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })},
		{"no issuer", "missing required claim", valid(func(c jwt.MapClaims) { delete(c, "iss") })},
		{"wrong audience", "wrong audience", valid(func(c jwt.MapClaims) { c["aud"] = []string{"other"} })},
		{"no audience", "missing required claim", valid(func(c jwt.MapClaims) { delete(c, "aud") })},
		{"no user", `no "sub" claim`, valid(func(c jwt.MapClaims) { delete(c, "sub") })},
		{"empty user", `no "sub" claim`, valid(func(c jwt.MapClaims) { c["sub"] = "" })},
		{"user not a string", `no "sub" claim`, valid(func(c jwt.MapClaims) { c["sub"] = 42 })},
		{"permissions not an object", `"stomp" claim`, valid(func(c jwt.MapClaims) { c["stomp"] = "read everything" })},
		{"permissions not a list", `"stomp" claim`, valid(func(c jwt.MapClaims) { c["stomp"] = map[string]any{"read": "/topic/a"} })},
		{"permissions not strings", `"stomp" claim`, valid(func(c jwt.MapClaims) { c["stomp"] = map[string]any{"write": []any{1}} })},
		{"alg none", "algorithm not allowed", func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwtTestClaims("alice")).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}()},
		{"tampered payload", "bad signature", func() string {
			parts := strings.Split(valid(func(jwt.MapClaims) {}), ".")
			c := jwtTestClaims("root")
			c["iss"], c["aud"] = "https://idp.example", "stomp-gateway"
			body, _ := json.Marshal(c)
			parts[1] = base64.RawURLEncoding.EncodeToString(body)
			return strings.Join(parts, ".")
		}()},
		{"garbage in three parts", "malformed token", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			jwtTestDeny(t, j, tc.token, tc.reason)
		})
	}
}

func TestJWTWhereTheTokenComesFrom(t *testing.T) {
	t.Parallel()
	j := jwtTestNew(t, auth.Config{JWTSecret: jwtTestSecret})
	defer j.Close()
	token := jwtTestSign(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "", jwtTestClaims("alice"))
	ok := map[string]auth.Credentials{
		"passcode, no login":               {Passcode: token},
		"passcode, any login":              {Login: "bob", Passcode: token},
		"passcode with a guest login":      {Login: "guest", Passcode: token},
		"bearer token":                     {Token: token},
		"bearer token wins over passcode":  {Token: token, Login: "bob", Passcode: "secret"},
		"bearer token wins over a bad JWT": {Token: token, Passcode: "a.b.c"},
	}
	for name, c := range ok {
		t.Run(name, func(t *testing.T) {
			id, err := j.Authenticate(context.Background(), c)
			if err != nil || id.User != "alice" {
				t.Fatalf("got %+v, %v; want alice", id, err)
			}
		})
	}
	denied := map[string]auth.Credentials{
		"nothing":                     {},
		"plain password":              {Login: "alice", Passcode: "secret"},
		"password with dots":          {Login: "alice", Passcode: "my.pass.word!"},
		"two parts":                   {Login: "alice", Passcode: "abc.def"},
		"empty signature":             {Login: "alice", Passcode: "abc.def."},
		"bad bearer token wins":       {Token: "opaque-token", Passcode: token},
		"four parts":                  {Passcode: token + ".x"},
		"login only, the JWT backend": {Login: "alice"},
	}
	for name, c := range denied {
		t.Run(name, func(t *testing.T) {
			_, err := j.Authenticate(context.Background(), c)
			if !errors.Is(err, auth.ErrDenied) {
				t.Fatalf("want ErrDenied, got %v", err)
			}
			if c.Passcode != "" && strings.Contains(err.Error(), c.Passcode) {
				t.Fatalf("error quotes the passcode: %v", err)
			}
		})
	}
}

func TestJWTUserAndPermissionsClaims(t *testing.T) {
	t.Parallel()
	j := jwtTestNew(t, auth.Config{
		JWTSecret:           jwtTestSecret,
		JWTUserClaim:        "preferred_username",
		JWTPermissionsClaim: "perms",
	})
	defer j.Close()
	sign := func(c jwt.MapClaims) string {
		return jwtTestSign(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "", c)
	}

	c := jwtTestClaims("uuid-1234")
	c["preferred_username"] = "alice"
	c["perms"] = map[string]any{
		"read":      []string{"/topic/chat.*", "/queue/user.{user}"},
		"write":     []string{"/topic/chat.*"},
		"configure": []string{"ignored"},
	}
	c["stomp"] = "not the configured claim, ignored"
	id := jwtTestAccept(t, j, sign(c), "alice")
	want := &auth.Permissions{Read: []string{"/topic/chat.*", "/queue/user.{user}"}, Write: []string{"/topic/chat.*"}}
	if !reflect.DeepEqual(id.Permissions, want) {
		t.Errorf("Permissions = %+v, want %+v", id.Permissions, want)
	}

	c = jwtTestClaims("uuid-1234")
	c["preferred_username"] = "bob"
	c["perms"] = map[string]any{"read": []string{"/topic/news"}}
	id = jwtTestAccept(t, j, sign(c), "bob")
	want = &auth.Permissions{Read: []string{"/topic/news"}}
	if !reflect.DeepEqual(id.Permissions, want) {
		t.Errorf("read only: Permissions = %+v, want %+v", id.Permissions, want)
	}

	c = jwtTestClaims("uuid-1234")
	c["preferred_username"] = "carol"
	c["perms"] = nil
	if id = jwtTestAccept(t, j, sign(c), "carol"); id.Permissions != nil {
		t.Errorf("null claim: Permissions = %+v, want nil", id.Permissions)
	}

	// sub alone is not enough when another claim names the user.
	jwtTestDeny(t, j, sign(jwtTestClaims("uuid-1234")), `no "preferred_username" claim`)
}

func TestNewJWTRejectsBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ecKey := jwtTestECDSA(t, elliptic.P256())
	privDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	private := write("private.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})))
	cases := map[string]auth.Config{
		"no key at all":             {JWTIssuer: "x"},
		"missing public key file":   {JWTPublicKeyFile: filepath.Join(dir, "nope.pem")},
		"not PEM":                   {JWTPublicKeyFile: write("garbage.pem", "hello")},
		"private key":               {JWTPublicKeyFile: private},
		"broken public key":         {JWTPublicKeyFile: write("broken.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("xx")})))},
		"JWKS URL is not a URL":     {JWTJWKSURL: "::"},
		"JWKS URL is not HTTP":      {JWTJWKSURL: "file:///etc/jwks.json"},
		"JWKS URL without a host":   {JWTJWKSURL: "https://"},
		"bad file, good secret too": {JWTSecret: jwtTestSecret, JWTPublicKeyFile: filepath.Join(dir, "nope.pem")},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			j, err := auth.NewJWT(cfg, zerolog.Nop())
			if err == nil {
				j.Close()
				t.Fatal("no error")
			}
		})
	}
}
