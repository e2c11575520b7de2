package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/gateway/stomp"
)

func TestConnectedCarriesVersionHeartBeatSessionServerAndUser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	f := c.Connect("accept-version:1.1,1.2", "host:/", "login:alice", "passcode:secret", "heart-beat:0,0")
	header(t, f, "version", "1.2")
	header(t, f, "heart-beat", "0,0")
	header(t, f, "user-name", "alice")
	if !strings.HasPrefix(f.Get("session"), "session-") {
		t.Errorf("session %q", f.Get("session"))
	}
	if !strings.HasPrefix(f.Get("server"), "stomp-gateway/") {
		t.Errorf("server %q", f.Get("server"))
	}
}

func TestVersionIsTheHighestCommonOfAcceptVersionAndSubprotocol(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	cases := []struct {
		name         string
		subprotocols []string
		accept       string // "" sends no accept-version
		want         string
	}{
		{"no accept-version means 1.0", []string{"v12.stomp"}, "", "1.0"},
		{"1.2 client on v12.stomp", []string{"v10.stomp", "v11.stomp", "v12.stomp"}, "1.0,1.1,1.2", "1.2"},
		{"1.1 only", []string{"v12.stomp"}, "1.1", "1.1"},
		{"v11.stomp caps at 1.1", []string{"v11.stomp"}, "1.0,1.1,1.2", "1.1"},
		{"no subprotocol still works", nil, "1.2", "1.2"},
		{"unknown versions ignored", []string{"v12.stomp"}, "1.1,9.9", "1.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts, tc.subprotocols...)
			h := []string{"host:/"}
			if tc.accept != "" {
				h = append(h, "accept-version:"+tc.accept)
			}
			header(t, c.Connect(h...), "version", tc.want)
		})
	}
}

func TestHighestOfferedSubprotocolWins(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for offered, want := range map[string]string{
		"v10.stomp,v11.stomp,v12.stomp": "v12.stomp",
		"v10.stomp,v11.stomp":           "v11.stomp",
		"v10.stomp":                     "v10.stomp",
		"mqtt":                          "",
	} {
		c := dial(t, ts, strings.Split(offered, ",")...)
		if got := c.WS.Subprotocol(); got != want {
			t.Errorf("offered %s: got %q, want %q", offered, got, want)
		}
	}
}

func TestSTOMPCommandConnectsLikeCONNECT(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	c.Send(stomp.CmdStomp, "accept-version:1.2", "host:/")
	header(t, c.Expect(stomp.CmdConnected), "version", "1.2")
}

func TestNoCommonVersionIsAnErrorListingSupportedVersions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dial(t, ts, "v12.stomp")
	c.Send(stomp.CmdConnect, "accept-version:2.0", "host:/")
	f, _ := c.ExpectError("Version mismatch")
	header(t, f, "version", "1.0,1.1,1.2")
}

func TestClientThatNeverSendsCONNECTIsClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *gateway.Config) { c.ConnectTimeout = 100 * time.Millisecond })
	c := dial(t, ts)
	c.ExpectError("connect timeout")
}

func TestOriginAllowList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no Origin header (non-browser client)", nil, "", true},
		{"same host by default", nil, "SAME", true},
		{"foreign origin refused by default", nil, "https://evil.example", false},
		{"listed origin", []string{"https://app.example"}, "https://app.example", true},
		{"unlisted origin", []string{"https://app.example"}, "https://other.example", false},
		{"star allows any", []string{"*"}, "https://anything.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *gateway.Config) { c.AllowedOrigins = tc.allowed })
			h := http.Header{}
			switch tc.origin {
			case "SAME":
				h.Set("Origin", ts.URL)
			case "":
			default:
				h.Set("Origin", tc.origin)
			}
			_, err := dialErr(t, ts.WSURL, h, "v12.stomp")
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				he, isHTTP := err.(*httpError)
				if !isHTTP || he.Status != http.StatusForbidden {
					t.Fatalf("got %v, want HTTP 403", err)
				}
			}
		})
	}
}

func TestPlainHTTPOnTheWebSocketPathIsABadRequest(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	resp, err := http.Get(ts.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}
