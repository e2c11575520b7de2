package deploy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCompose: the services the topology needs, wired to each other.
func TestCompose(t *testing.T) {
	table := configTable(t)
	c := loadCompose(t)
	defs := loadDefinitions(t)
	gws := gatewayServices(c)
	if len(gws) < 2 {
		t.Fatalf("docker-compose.yml: gateway services %v, want two replicas", gws)
	}
	for _, name := range []string{"rabbitmq", "haproxy", "chat-backend"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: no %s service", name)
		}
	}

	rmq := c.Services["rabbitmq"]
	if !strings.HasPrefix(rmq.Image, "rabbitmq:3") || !strings.Contains(rmq.Image, "management") {
		t.Errorf("docker-compose.yml: rabbitmq image %q, want rabbitmq:3-management", rmq.Image)
	}
	if rmq.Healthcheck == nil || len(rmq.Healthcheck.Test) == 0 {
		t.Errorf("docker-compose.yml: rabbitmq has no healthcheck for depends_on to wait for")
	}
	mounted := map[string]string{} // container path → repository file
	for _, v := range rmq.Volumes {
		if strings.HasPrefix(v.Source, "./") {
			if _, err := os.Stat(repo(v.Source)); err != nil {
				t.Errorf("docker-compose.yml: rabbitmq mounts %s: %v", v.Source, err)
			}
			mounted[v.Target] = strings.TrimPrefix(v.Source, "./")
		}
	}
	for _, f := range []string{"rabbitmq.conf", "enabled_plugins", "definitions.json"} {
		if mounted["/etc/rabbitmq/"+f] != "deploy/rabbitmq/"+f {
			t.Errorf("docker-compose.yml: rabbitmq does not mount deploy/rabbitmq/%s at /etc/rabbitmq/%s", f, f)
		}
	}
	conf := rabbitConf(t)
	defsPath := conf["definitions.local.path"]
	if defsPath == "" {
		defsPath = conf["load_definitions"]
	}
	if mounted[defsPath] != "deploy/rabbitmq/definitions.json" {
		t.Errorf("rabbitmq.conf loads definitions from %q, where docker-compose.yml mounts no definitions.json", defsPath)
	}

	builds := func(name string) {
		s := c.Services[name]
		if s.Build == nil {
			// Another service builds the same image.
			for _, o := range c.Services {
				if o.Build != nil && o.Image == s.Image && s.Image != "" {
					return
				}
			}
			t.Errorf("docker-compose.yml: %s neither builds nor shares a built image", name)
			return
		}
		ctx := s.Build.Context
		if ctx == "" {
			ctx = "."
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if filepath.ToSlash(filepath.Join(ctx, df)) != "deploy/Dockerfile" {
			t.Errorf("docker-compose.yml: %s builds %s in context %s, want deploy/Dockerfile in the repository root", name, df, ctx)
		}
	}
	healthyBroker := func(name string, s composeService) {
		if s.DependsOn["rabbitmq"] != "service_healthy" {
			t.Errorf("docker-compose.yml: %s must depend on rabbitmq with condition service_healthy", name)
		}
	}

	for _, name := range gws {
		s := c.Services[name]
		builds(name)
		healthyBroker(name, s)
		checkAMQPUser(t, defs, name+" STOMP_GATEWAY_AMQP_URL", s.Environment["STOMP_GATEWAY_AMQP_URL"])
		if v := s.Environment["STOMP_GATEWAY_DEMO"]; v != "true" {
			t.Errorf("docker-compose.yml: %s: STOMP_GATEWAY_DEMO=%q, want true (the chat page)", name, v)
		}
		drain := durationSetting(t, table, s.Environment, "STOMP_GATEWAY_DRAIN_DELAY")
		shutdown := durationSetting(t, table, s.Environment, "STOMP_GATEWAY_SHUTDOWN_TIMEOUT")
		grace := 10 * time.Second // compose's default
		if s.StopGracePeriod != "" {
			var err error
			if grace, err = time.ParseDuration(s.StopGracePeriod); err != nil {
				t.Errorf("docker-compose.yml: %s stop_grace_period: %v", name, err)
			}
		}
		if grace <= drain+shutdown {
			t.Errorf("docker-compose.yml: %s stop_grace_period %v must exceed DRAIN_DELAY %v + SHUTDOWN_TIMEOUT %v", name, grace, drain, shutdown)
		}
		for _, p := range s.Ports {
			if strings.HasSuffix(p.Target, strconv.Itoa(wsPort)) {
				t.Errorf("docker-compose.yml: %s publishes its client port: clients go through haproxy", name)
			}
		}
	}

	be := c.Services["chat-backend"]
	builds("chat-backend")
	healthyBroker("chat-backend", be)
	if !slices.ContainsFunc(be.Entrypoint, func(s string) bool { return strings.HasSuffix(s, "/chat-backend") }) {
		t.Errorf("docker-compose.yml: chat-backend's entrypoint %v does not run chat-backend", be.Entrypoint)
	}
	checkAMQPUser(t, defs, "chat-backend CHAT_BACKEND_AMQP_URL", be.Environment["CHAT_BACKEND_AMQP_URL"])

	hp := c.Services["haproxy"]
	if !slices.ContainsFunc(hp.Ports, func(p mount) bool {
		return p.Target == strconv.Itoa(wsPort) && strings.HasSuffix(p.Source, strconv.Itoa(wsPort))
	}) {
		t.Errorf("docker-compose.yml: haproxy does not publish %d", wsPort)
	}
	if !slices.ContainsFunc(hp.Volumes, func(v mount) bool { return v.Source == "./deploy/haproxy/haproxy.cfg" }) {
		t.Errorf("docker-compose.yml: haproxy does not mount ./deploy/haproxy/haproxy.cfg")
	}
	for _, g := range gws {
		if _, ok := hp.DependsOn[g]; !ok {
			t.Errorf("docker-compose.yml: haproxy does not depend on %s", g)
		}
	}
}

// checkAMQPUser: an AMQP URL's user exists in definitions.json with that
// password and has permissions on the URL's virtual host.
func checkAMQPUser(t *testing.T, defs definitions, where, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Hostname() != "rabbitmq" {
		t.Errorf("docker-compose.yml: %s=%q: want amqp://user:password@rabbitmq:5672/", where, raw)
		return
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	vhost := strings.TrimPrefix(u.Path, "/")
	if vhost == "" {
		vhost = "/"
	}
	found := false
	for _, du := range defs.Users {
		if du.Name != user {
			continue
		}
		found = true
		if !passwordMatches(du.PasswordHash, pass) {
			t.Errorf("%s: the password of %s does not match its password_hash in definitions.json", where, user)
		}
	}
	if !found {
		t.Errorf("%s: user %s is not in definitions.json", where, user)
	}
	if !slices.ContainsFunc(defs.Permissions, func(p permission) bool { return p.User == user && p.Vhost == vhost }) {
		t.Errorf("%s: user %s has no permissions on vhost %s in definitions.json", where, user, vhost)
	}
}

// passwordMatches checks a RabbitMQ rabbit_password_hashing_sha256 hash:
// base64(salt[4] + sha256(salt + password)).
func passwordMatches(hash, password string) bool {
	b, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(b) != 4+sha256.Size {
		return false
	}
	sum := sha256.Sum256(append(slices.Clone(b[:4]), password...))
	return bytes.Equal(sum[:], b[4:])
}

// TestDockerComposeConfig runs `docker compose config -q` when the compose
// plugin is installed; no Docker engine is needed for it.
func TestDockerComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker not found: `docker compose config` not run")
	}
	if out, err := runTool(t, docker, "compose", "version"); err != nil {
		t.Skipf("`docker compose` is not available (%v: %s): `docker compose config` not run", err, strings.TrimSpace(string(out)))
	}
	out, err := runTool(t, docker, "compose", "-f", "docker-compose.yml", "config", "-q")
	if err != nil {
		t.Fatalf("docker compose -f docker-compose.yml config -q: %v\n%s", err, out)
	}
	t.Log("docker compose config: ok")
}
