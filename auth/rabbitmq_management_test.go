package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestManagementURLComesFromTheAMQPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mgmtURL, amqpURL string
		base, user, password   string
	}{
		{name: "same host, port 15672, the AMQP account", amqpURL: "amqp://gw:" + testPasscode + "@rabbit:5672/v",
			base: "http://rabbit:15672", user: "gw", password: testPasscode},
		{name: "amqps gives https", amqpURL: "amqps://gw:pw@rabbit/",
			base: "https://rabbit:15672", user: "gw", password: "pw"},
		{name: "no account is guest/guest, as for the AMQP client", amqpURL: "amqp://127.0.0.1:5672/",
			base: "http://127.0.0.1:15672", user: "guest", password: "guest"},
		{name: "a user without password keeps guest as password, as for the AMQP client", amqpURL: "amqp://gw@rabbit/",
			base: "http://rabbit:15672", user: "gw", password: "guest"},
		{name: "IPv6 host", amqpURL: "amqp://gw:pw@[::1]:5672/",
			base: "http://[::1]:15672", user: "gw", password: "pw"},
		{name: "escaped credentials", amqpURL: "amqp://g%40w:p%2Fw@rabbit/",
			base: "http://rabbit:15672", user: "g@w", password: "p/w"},
		{name: "configured URL wins, credentials apart, path prefix kept", mgmtURL: "https://admin:" + testPasscode + "@mgmt.example:443/rabbitmq/?x=1",
			amqpURL: "amqp://gw:pw@rabbit/", base: "https://mgmt.example:443/rabbitmq", user: "admin", password: testPasscode},
		{name: "configured URL without account", mgmtURL: "http://mgmt:15672",
			amqpURL: "amqp://gw:pw@rabbit/", base: "http://mgmt:15672"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := newManagement(tt.mgmtURL, tt.amqpURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.base != tt.base || m.user != tt.user || m.password != tt.password {
				t.Errorf("base %q, account %q:%q; want %q, %q:%q", m.base, m.user, m.password, tt.base, tt.user, tt.password)
			}
			if m.client.Timeout != managementDefaultTimeout {
				t.Errorf("timeout %v, want the default %v", m.client.Timeout, managementDefaultTimeout)
			}
		})
	}
}

func TestManagementRejectsBadURLsWithoutQuotingThem(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://admin:" + testPasscode + "@rabbit/", "http://admin:" + testPasscode + "@[::1/", "rabbit:15672", "http://"} {
		_, err := newManagement(u, "amqp://rabbit/", time.Second)
		if err == nil {
			t.Errorf("newManagement(%q) accepted it", u)
		}
		checkNoSecrets(t, err)
	}
}

// fakeManagement serves the two permission endpoints of one user from
// canned answers (status and body). It returns the paths it was asked.
func fakeManagement(t *testing.T, permStatus int, perm string, topicStatus int, topics string) (*management, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		if u, p, _ := r.BasicAuth(); u != "admin" || p != testPasscode {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		status, body := permStatus, perm
		if strings.HasPrefix(r.URL.Path, "/api/topic-permissions/") {
			status, body = topicStatus, topics
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	m, err := newManagement(strings.Replace(srv.URL, "http://", "http://admin:"+testPasscode+"@", 1), "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(paths)
	}
}

func TestManagementReadsPermissions(t *testing.T) {
	t.Parallel()
	const perm = `{"user":"u","vhost":"/","configure":"","write":"^w","read":".*"}`
	m, paths := fakeManagement(t, 200, perm, 200, `[{"user":"u","vhost":"/","exchange":"amq.topic","write":"^chat\\.","read":""}]`)
	got, err := m.permissions(context.Background(), "a+b c/d", "/")
	if err != nil {
		t.Fatal(err)
	}
	want := rawPerms{found: true, configure: "", write: "^w", read: ".*", topics: []rawTopicPerm{{exchange: "amq.topic", write: `^chat\.`, read: ""}}}
	if got.found != want.found || got.configure != want.configure || got.write != want.write || got.read != want.read ||
		len(got.topics) != 1 || got.topics[0] != want.topics[0] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// "/" must not split the path, "+" must not become a space.
	wantPaths := []string{"/api/permissions/%2F/a%2Bb%20c%2Fd", "/api/topic-permissions/%2F/a%2Bb%20c%2Fd"}
	if asked := paths(); !slices.Equal(asked, wantPaths) {
		t.Errorf("asked %q, want %q", asked, wantPaths)
	}
}

func TestManagementNotFoundMeansNoAccessOrNoTopicPermission(t *testing.T) {
	t.Parallel()
	m, paths := fakeManagement(t, 404, `{"error":"Object Not Found","reason":"Not Found"}`, 500, "")
	got, err := m.permissions(context.Background(), "u", "/")
	if err != nil || got.found {
		t.Fatalf("got %+v, %v; want no permission record", got, err)
	}
	if asked := paths(); len(asked) != 1 {
		t.Errorf("asked %q: topic permissions do not matter without a permission record", asked)
	}

	for _, topics := range []struct {
		status int
		body   string
	}{{404, ""}, {200, "[]"}} {
		m, _ := fakeManagement(t, 200, `{"configure":".*","write":".*","read":".*"}`, topics.status, topics.body)
		got, err := m.permissions(context.Background(), "u", "/")
		if err != nil || !got.found || len(got.topics) != 0 {
			t.Errorf("topics %d %q: got %+v, %v; want a record without topic permissions", topics.status, topics.body, got, err)
		}
	}
}

func TestManagementFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	const ok = `{"configure":".*","write":".*","read":".*"}`
	tests := []struct {
		name        string
		permStatus  int
		perm        string
		topicStatus int
		topics      string
		wantIn      string
	}{
		{name: "server error", permStatus: 503, wantIn: "503"},
		{name: "server error on topic permissions", permStatus: 200, perm: ok, topicStatus: 500, wantIn: "500"},
		{name: "invalid JSON", permStatus: 200, perm: `{"configure":`, wantIn: "invalid JSON"},
		{name: "a field missing", permStatus: 200, perm: `{"configure":".*","write":".*"}`, wantIn: "lack"},
		{name: "a topic field missing", permStatus: 200, perm: ok, topicStatus: 200, topics: `[{"exchange":"x","write":""}]`, wantIn: "lacks"},
		{name: "an answer too large", permStatus: 200, perm: `{"configure":"` + strings.Repeat("a", managementMaxAnswer) + `"}`, wantIn: "exceeds"},
		{name: "a redirect", permStatus: 302, wantIn: "302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _ := fakeManagement(t, tt.permStatus, tt.perm, tt.topicStatus, tt.topics)
			_, err := m.permissions(context.Background(), "u", "/")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("err = %v, want ErrUnavailable saying %q", err, tt.wantIn)
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestManagementRefusingTheAccountSaysItNeedsAdministrator(t *testing.T) {
	t.Parallel()
	m, _ := fakeManagement(t, 200, "{}", 200, "[]")
	m.password = "wrong"
	_, err := m.permissions(context.Background(), "u", "/")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "administrator") {
		t.Fatalf("err = %v, want ErrUnavailable naming the administrator tag", err)
	}
}
