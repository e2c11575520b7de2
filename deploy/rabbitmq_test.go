package deploy_test

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func rabbitConf(t *testing.T) map[string]string {
	t.Helper()
	conf := map[string]string{}
	for i, line := range strings.Split(readFile(t, "deploy/rabbitmq/rabbitmq.conf"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("deploy/rabbitmq/rabbitmq.conf:%d: %q is not key = value", i+1, line)
			continue
		}
		conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return conf
}

// TestRabbitMQConfig: the plugins, and the definitions the gateway and the
// chat backend rely on.
func TestRabbitMQConfig(t *testing.T) {
	table := configTable(t)
	plugins := strings.TrimSpace(readFile(t, "deploy/rabbitmq/enabled_plugins"))
	m := regexp.MustCompile(`^\[\s*([a-z_]+(?:\s*,\s*[a-z_]+)*)\s*\]\.$`).FindStringSubmatch(plugins)
	if m == nil {
		t.Fatalf("deploy/rabbitmq/enabled_plugins: %q is not an Erlang list of plugins ending in a dot", plugins)
	}
	var list []string
	for _, p := range strings.Split(m[1], ",") {
		list = append(list, strings.TrimSpace(p))
	}
	for _, want := range []string{"rabbitmq_management", "rabbitmq_prometheus"} {
		if !slices.Contains(list, want) {
			t.Errorf("deploy/rabbitmq/enabled_plugins lacks %s", want)
		}
	}
	rabbitConf(t)

	d := loadDefinitions(t)
	vhostRoot := false
	for _, v := range d.Vhosts {
		vhostRoot = vhostRoot || v.Name == "/"
	}
	if !vhostRoot {
		t.Errorf("definitions.json: no vhost /")
	}
	for _, u := range d.Users {
		if b, err := base64.StdEncoding.DecodeString(u.PasswordHash); err != nil || len(b) != 36 || u.HashingAlgorithm != "rabbit_password_hashing_sha256" {
			t.Errorf("definitions.json: user %s: want a rabbit_password_hashing_sha256 password_hash (rabbitmqctl hash_password)", u.Name)
		}
	}
	perms := map[string][3]string{}
	for _, p := range d.Permissions {
		if p.Vhost == "/" {
			perms[p.User] = [3]string{p.Configure, p.Write, p.Read}
		}
		for _, re := range []string{p.Configure, p.Write, p.Read} {
			if _, err := regexp.Compile(re); err != nil {
				t.Errorf("definitions.json: permission of %s: %v", p.User, err)
			}
		}
	}
	if _, ok := perms["gateway"]; !ok {
		t.Errorf("definitions.json: no permissions for the gateway user on /")
	}

	// The application exchange: a durable topic exchange, named as the
	// gateway's default.
	appExchange := table["STOMP_GATEWAY_APP_EXCHANGE"]
	topicExchange := table["STOMP_GATEWAY_TOPIC_EXCHANGE"]
	ok := false
	for _, x := range d.Exchanges {
		if x.Name == appExchange && x.Vhost == "/" {
			ok = x.Type == "topic" && x.Durable && !x.AutoDelete
		}
	}
	if !ok {
		t.Errorf("definitions.json: want the durable topic exchange %s on vhost /", appExchange)
	}

	// The chat backend's narrow permissions cover what it does: declare its
	// queue and the application exchange, bind and consume, publish to the
	// room topics (RabbitMQ matches the patterns unanchored, like Go).
	names := chatBackendNames(t)
	if !names["CHAT_BACKEND_QUEUE"] {
		t.Fatal("cmd/chat-backend has no QUEUE setting any more: update this test")
	}
	if p, ok := perms["chat-backend"]; ok {
		queue := "chat-backend"
		for i, need := range [][]string{{queue, appExchange}, {queue, topicExchange}, {queue, appExchange}} {
			re := regexp.MustCompile(p[i])
			for _, res := range need {
				if !re.MatchString(res) {
					t.Errorf("definitions.json: chat-backend's %s permission %q does not cover %s", []string{"configure", "write", "read"}[i], p[i], res)
				}
			}
		}
	}
}
