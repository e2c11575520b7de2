package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testManagementURL is the local broker's management API; guest/guest
// is an administrator there.
const testManagementURL = "http://127.0.0.1:15672"

// brokerAPI calls the local management API as guest and fails the test
// unless it succeeds.
func brokerAPI(t *testing.T, method, path string, body any) {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, testManagementURL+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connection outlives the test
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// brokerPerms are a user's permissions in a vhost, as the API takes them.
type brokerPerms struct {
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// brokerTopicPerms are a user's topic permission on one exchange.
type brokerTopicPerms struct {
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

var fullPerms = brokerPerms{".*", ".*", ".*"}

// brokerUser creates a RabbitMQ user named name, with testPasscode, and
// deletes it (and its permissions) when the test ends.
func brokerUser(t *testing.T, name string) string {
	t.Helper()
	brokerAPI(t, http.MethodPut, "/api/users/"+pathSegment(name), map[string]string{"password": testPasscode, "tags": ""})
	t.Cleanup(func() { brokerAPI(t, http.MethodDelete, "/api/users/"+pathSegment(name), nil) })
	return name
}

func setBrokerPerms(t *testing.T, vhost, user string, p brokerPerms) {
	t.Helper()
	brokerAPI(t, http.MethodPut, "/api/permissions/"+pathSegment(vhost)+"/"+pathSegment(user), p)
}

func setBrokerTopicPerms(t *testing.T, vhost, user string, p brokerTopicPerms) {
	t.Helper()
	brokerAPI(t, http.MethodPut, "/api/topic-permissions/"+pathSegment(vhost)+"/"+pathSegment(user), p)
}

// testRunID makes the names of one run's users unique.
func testRunID() string { return strings.ToLower(rand.Text()[:8]) }

func TestRabbitMQUsersGetExactlyTheirOwnPermissions(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	run := testRunID()
	readOnly := brokerUser(t, "sgtest-read-only-"+run)
	setBrokerPerms(t, "/", readOnly, brokerPerms{"", "", ".*"})
	writeOnly := brokerUser(t, "sgtest-write-only-"+run)
	setBrokerPerms(t, "/", writeOnly, brokerPerms{"", ".*", ""})
	topics := brokerUser(t, "sgtest-topics-"+run)
	setBrokerPerms(t, "/", topics, fullPerms)
	setBrokerTopicPerms(t, "/", topics, brokerTopicPerms{"amq.topic", `^chat\.`, `^chat\.{username}\.`})
	notRE2 := brokerUser(t, "sgtest-not-re2-"+run)
	setBrokerPerms(t, "/", notRE2, brokerPerms{".*", `^(?!x).*`, ".*"})

	r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
	q := "stomp-subscription-" + run
	tests := []struct {
		user   string
		access ResourceAccess
		want   bool
	}{
		{readOnly, queue(Configure, q), false},
		{readOnly, queue(ReadPerm, q), true},
		{readOnly, queue(WritePerm, q), false},
		{readOnly, exchange(ReadPerm, "amq.topic"), true},
		{readOnly, exchange(WritePerm, "amq.topic"), false},
		{readOnly, exchange(WritePerm, DefaultExchange), false},
		{readOnly, topic(ReadPerm, "amq.topic", "news.eu"), true}, // no topic permission: only the resource check applies

		{writeOnly, queue(Configure, q), false},
		{writeOnly, queue(ReadPerm, q), false},
		{writeOnly, queue(WritePerm, q), true},
		{writeOnly, exchange(WritePerm, DefaultExchange), true},
		{writeOnly, exchange(WritePerm, "amq.topic"), true},
		{writeOnly, exchange(ReadPerm, "amq.topic"), false},

		{topics, queue(Configure, q), true},
		{topics, exchange(WritePerm, "amq.topic"), true},
		{topics, topic(WritePerm, "amq.topic", "chat.room1"), true},
		{topics, topic(WritePerm, "amq.topic", "news.room1"), false},
		{topics, topic(ReadPerm, "amq.topic", "chat."+topics+".inbox"), true},
		{topics, topic(ReadPerm, "amq.topic", "chat.sgtest-someone-else.inbox"), false},
		{topics, topic(ReadPerm, "amq.topic", "chat.{username}.inbox"), false},
		{topics, topic(WritePerm, "amq.direct", "news.room1"), true}, // no topic permission on that exchange

		{notRE2, exchange(WritePerm, "amq.topic"), false}, // PCRE would allow it: RE2 fails closed
		{notRE2, exchange(WritePerm, "x"), false},
		{notRE2, queue(ReadPerm, q), true},
		{notRE2, queue(Configure, q), true},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.access.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			id, err := r.Authenticate(ctx, Credentials{Login: tt.user, Passcode: testPasscode})
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			err = id.Resources.CheckResource(ctx, tt.access)
			switch {
			case tt.want && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.want && !errors.Is(err, ErrDenied):
				t.Errorf("err = %v, want ErrDenied", err)
			}
		})
	}
}

func TestRabbitMQUserWithoutPermissionsOnTheVhostIsDenied(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	user := brokerUser(t, "sgtest-no-vhost-"+testRunID())
	r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
	_, err := r.Authenticate(context.Background(), Credentials{Login: user, Passcode: testPasscode})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	checkNoSecrets(t, err)
}

// Names with "/", "+" and spaces reach the API escaped: "a+b" must not
// read the permissions of "a b".
func TestRabbitMQPermissionsArePerVhostAndUser(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	run := testRunID()
	vhost := "sgtest/" + run
	brokerAPI(t, http.MethodPut, "/api/vhosts/"+pathSegment(vhost), nil)
	t.Cleanup(func() { brokerAPI(t, http.MethodDelete, "/api/vhosts/"+pathSegment(vhost), nil) })
	plus := brokerUser(t, "sgtest-"+run+"+a b")
	setBrokerPerms(t, "/", plus, brokerPerms{"", "", ".*"})
	setBrokerPerms(t, vhost, plus, fullPerms)
	space := brokerUser(t, "sgtest-"+run+" a b")
	setBrokerPerms(t, "/", space, brokerPerms{"", ".*", ""})

	r := newTestRabbitMQ(t, testRabbitMQURL, time.Minute)
	ctx := context.Background()
	check := func(user, vhost string, a ResourceAccess, want bool) {
		t.Helper()
		id, err := r.Authenticate(ctx, Credentials{Login: user, Passcode: testPasscode, VHost: vhost})
		if err != nil {
			t.Fatalf("%q in %q: Authenticate: %v", user, vhost, err)
		}
		if err := id.Resources.CheckResource(ctx, a); (err == nil) != want {
			t.Errorf("%q in %q: %s: err = %v, want allowed %v", user, vhost, a, err, want)
		}
	}
	check(plus, "", queue(ReadPerm, "q"), true) // the URL's vhost, /
	check(plus, "", exchange(WritePerm, "amq.topic"), false)
	check(plus, vhost, exchange(WritePerm, "amq.topic"), true)
	check(space, "/", exchange(WritePerm, "amq.topic"), true)
	check(space, "/", queue(ReadPerm, "q"), false)
	if _, err := r.Authenticate(ctx, Credentials{Login: space, Passcode: testPasscode, VHost: vhost}); !errors.Is(err, ErrDenied) {
		t.Errorf("%q in %q, where it has no permissions: err = %v, want ErrDenied", space, vhost, err)
	}
}

func TestRabbitMQPermissionChangesApplyAfterTheTTL(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	user := brokerUser(t, "sgtest-changing-"+testRunID())
	setBrokerPerms(t, "/", user, fullPerms)
	r := newTestRabbitMQConfig(t, testRabbitMQURL, Config{RabbitMQCacheTTL: time.Minute, RabbitMQPermissionsTTL: 300 * time.Millisecond})
	ctx := context.Background()
	creds := Credentials{Login: user, Passcode: testPasscode}
	id, err := r.Authenticate(ctx, creds)
	if err != nil {
		t.Fatal(err)
	}
	publish := exchange(WritePerm, "amq.topic")
	if err := id.Resources.CheckResource(ctx, publish); err != nil {
		t.Fatal(err)
	}

	setBrokerPerms(t, "/", user, brokerPerms{"", "", ".*"})
	changed := time.Now()
	waitFor(t, 5*time.Second, "the revoked write to be refused", func() bool {
		return errors.Is(id.Resources.CheckResource(ctx, publish), ErrDenied)
	})
	if took := time.Since(changed); took > 2*time.Second {
		t.Errorf("the change took %v to apply with a 300ms TTL", took)
	}

	// With its vhost permissions gone, the user is refused even though
	// its login is still cached: no new AMQP handshake is needed.
	brokerAPI(t, http.MethodDelete, "/api/permissions/%2F/"+pathSegment(user), nil)
	waitFor(t, 5*time.Second, "the user to lose the vhost", func() bool {
		_, err := r.Authenticate(ctx, creds)
		return errors.Is(err, ErrDenied)
	})
	if n := r.dials.Load(); n != 1 {
		t.Errorf("%d AMQP handshakes, want 1: the login was cached", n)
	}
	if err := id.Resources.CheckResource(ctx, queue(ReadPerm, "q")); !errors.Is(err, ErrDenied) {
		t.Errorf("a session of the user reads a queue: err = %v, want ErrDenied", err)
	}
}

// switchableManagement is a proxy to the local management API that a
// test can make answer 503 (down) or stop.
type switchableManagement struct {
	srv  *httptest.Server
	down atomic.Bool
}

func newSwitchableManagement(t *testing.T) *switchableManagement {
	t.Helper()
	target, _ := url.Parse(testManagementURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	m := &switchableManagement{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// url is the proxy's URL with the guest account.
func (m *switchableManagement) url() string {
	return strings.Replace(m.srv.URL, "http://", "http://guest:guest@", 1)
}

func TestRabbitMQManagementUnreachableRefusesAtConnect(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	r := newTestRabbitMQConfig(t, testRabbitMQURL, Config{
		RabbitMQCacheTTL:       time.Minute,
		RabbitMQPermissionsTTL: time.Minute,
		RabbitMQManagementURL:  strings.Replace(closed.URL, "http://", "http://admin:"+testPasscode+"@", 1),
	})
	for range 2 { // the failure is not cached
		_, err := r.Authenticate(context.Background(), Credentials{Login: "guest", Passcode: "guest"})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		checkNoSecrets(t, err)
	}
}

func TestRabbitMQManagementDownRefusesAfterTheTTL(t *testing.T) {
	t.Parallel()
	needRabbitMQ(t)
	mgmt := newSwitchableManagement(t)
	const ttl = 200 * time.Millisecond
	r := newTestRabbitMQConfig(t, testRabbitMQURL, Config{RabbitMQCacheTTL: time.Minute, RabbitMQPermissionsTTL: ttl, RabbitMQManagementURL: mgmt.url()})
	ctx := context.Background()
	id, err := r.Authenticate(ctx, Credentials{Login: "guest", Passcode: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	authz, err := NewAuthorizer("")
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	req.Write("/queue/q")
	req.Need(WritePerm, Exchange, "")
	if err := authz.Authorize(ctx, id, "/", req); err != nil {
		t.Fatalf("management up: %v", err)
	}

	refusedAfterTTL := func(state string) {
		t.Helper()
		time.Sleep(ttl + 50*time.Millisecond)
		for range 3 {
			err := authz.Authorize(ctx, id, "/", req)
			var refused *ErrRefused
			if !errors.Is(err, ErrUnavailable) || errors.As(err, &refused) {
				t.Fatalf("management %s: err = %v, want ErrUnavailable", state, err)
			}
		}
		if _, err := r.Authenticate(ctx, Credentials{Login: "guest", Passcode: "guest"}); !errors.Is(err, ErrUnavailable) {
			t.Errorf("management %s: CONNECT err = %v, want ErrUnavailable", state, err)
		}
	}
	mgmt.down.Store(true)
	refusedAfterTTL("answering 503")
	mgmt.srv.Close()
	refusedAfterTTL("unreachable")
}
