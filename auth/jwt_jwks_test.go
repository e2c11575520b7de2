package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/stomp-gateway/stomp-gateway/auth"
)

// jwtTestJWKS serves a JWK Set that the test can replace, counting fetches.
type jwtTestJWKS struct {
	keys    atomic.Value // []map[string]string
	fetches atomic.Int32
	fail    atomic.Bool
}

func (s *jwtTestJWKS) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	if s.fail.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys.Load()})
}

func jwtTestB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwtTestRSAJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": jwtTestB64(k.N.Bytes()), "e": jwtTestB64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func jwtTestECJWK(t *testing.T, kid string, k *ecdsa.PublicKey) map[string]string {
	t.Helper()
	point, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	n := (len(point) - 1) / 2
	return map[string]string{
		"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": jwtTestB64(point[1 : 1+n]), "y": jwtTestB64(point[1+n:]),
	}
}

func TestJWTJWKSFollowsKeyRotation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	old := jwtTestRSAKey()
	next := jwtTestECDSA(t, elliptic.P256())
	jwks := &jwtTestJWKS{}
	jwks.keys.Store([]map[string]string{jwtTestRSAJWK("k1", &old.PublicKey)})
	srv := httptest.NewServer(jwks)
	defer srv.Close()

	j := jwtTestNew(t, auth.Config{JWTJWKSURL: srv.URL})
	defer j.Close()
	if n := jwks.fetches.Load(); n != 1 {
		t.Fatalf("fetches after NewJWT = %d, want 1", n)
	}
	oldToken := jwtTestSign(t, jwt.SigningMethodRS256, old, "k1", jwtTestClaims("alice"))
	jwtTestAccept(t, j, oldToken, "alice")
	jwtTestAccept(t, j, jwtTestSign(t, jwt.SigningMethodRS256, old, "", jwtTestClaims("nokid")), "nokid")
	jwtTestDeny(t, j, jwtTestSign(t, jwt.SigningMethodHS256, []byte(jwtTestSecret), "k1", jwtTestClaims("alice")), "algorithm not allowed")
	jwtTestDeny(t, j, jwtTestSign(t, jwt.SigningMethodRS256, jwtTestRSA(t), "k1", jwtTestClaims("alice")), "bad signature")
	// The alg must be the JWK's.
	jwtTestDeny(t, j, jwtTestSign(t, jwt.SigningMethodPS256, old, "k1", jwtTestClaims("alice")), "unknown key")
	if n := jwks.fetches.Load(); n != 1 {
		t.Fatalf("fetches with known keys = %d, want 1 (cached)", n)
	}

	// Rotation: the identity provider now publishes only a new key.
	jwks.keys.Store([]map[string]string{jwtTestECJWK(t, "k2", &next.PublicKey)})
	jwtTestAccept(t, j, jwtTestSign(t, jwt.SigningMethodES256, next, "k2", jwtTestClaims("bob")), "bob")
	if n := jwks.fetches.Load(); n != 2 {
		t.Fatalf("fetches after an unknown kid = %d, want 2", n)
	}
	// The old key was dropped with the refresh.
	jwtTestDeny(t, j, oldToken, "unknown key")
	// Unknown kids do not hammer the JWKS: refreshes are rate-limited.
	jwtTestDeny(t, j, jwtTestSign(t, jwt.SigningMethodES256, next, "k3", jwtTestClaims("bob")), "unknown key")
	if n := jwks.fetches.Load(); n != 2 {
		t.Fatalf("fetches after more unknown kids = %d, want 2 (rate-limited)", n)
	}
}

func TestJWTUnreachableJWKSIsUnavailable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	key := jwtTestRSAKey()
	token := jwtTestSign(t, jwt.SigningMethodRS256, key, "k1", jwtTestClaims("alice"))

	t.Run("nothing listens", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		j, err := auth.NewJWT(auth.Config{JWTJWKSURL: url}, zerolog.Nop())
		if err != nil {
			t.Fatalf("NewJWT must not fail while the JWKS is down: %v", err)
		}
		defer j.Close()
		for _, c := range []auth.Credentials{{Token: token}, {Passcode: token}} {
			_, err = j.Authenticate(context.Background(), c)
			if !errors.Is(err, auth.ErrUnavailable) || errors.Is(err, auth.ErrDenied) {
				t.Fatalf("want ErrUnavailable, got %v", err)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error quotes the token: %v", err)
			}
		}
		// A Chain then fails closed, and says so.
		_, err = auth.Chain{j, auth.AllowAll{}}.Authenticate(context.Background(), auth.Credentials{Token: token})
		if err != nil {
			t.Fatalf("a later backend still decides: %v", err)
		}
		_, err = auth.Chain{j}.Authenticate(context.Background(), auth.Credentials{Token: token})
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("chain: want ErrUnavailable, got %v", err)
		}
		// Credentials that are not a token are still simply not ours.
		if _, err := j.Authenticate(context.Background(), auth.Credentials{Login: "a", Passcode: "b"}); !errors.Is(err, auth.ErrDenied) {
			t.Fatalf("non-token credentials: want ErrDenied, got %v", err)
		}
	})

	t.Run("server error", func(t *testing.T) {
		jwks := &jwtTestJWKS{}
		jwks.fail.Store(true)
		srv := httptest.NewServer(jwks)
		defer srv.Close()
		j, err := auth.NewJWT(auth.Config{JWTJWKSURL: srv.URL}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if _, err := j.Authenticate(context.Background(), auth.Credentials{Token: token}); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %v", err)
		}
	})
}

func TestJWTCloseStopsTheJWKSRefresh(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	jwks := &jwtTestJWKS{}
	jwks.keys.Store([]map[string]string{jwtTestRSAJWK("k1", &jwtTestRSAKey().PublicKey)})
	srv := httptest.NewServer(jwks)
	defer srv.Close()
	j := jwtTestNew(t, auth.Config{JWTJWKSURL: srv.URL})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Known keys still verify; an unknown kid no longer fetches.
	jwtTestAccept(t, j, jwtTestSign(t, jwt.SigningMethodRS256, jwtTestRSAKey(), "k1", jwtTestClaims("alice")), "alice")
	if _, err := jwtTestAuth(j, jwtTestSign(t, jwt.SigningMethodRS256, jwtTestRSAKey(), "k2", jwtTestClaims("alice"))); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if n := jwks.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1: the JWKS was fetched after Close", n)
	}
}
