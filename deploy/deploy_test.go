// Package deploy_test checks the deployment assets without a Docker engine
// or a cluster: every YAML file parses; every STOMP_GATEWAY_* and
// CHAT_BACKEND_* name they use exists in the configuration; the Grafana
// dashboard queries only metrics the gateway registers (and shows all of
// them); the Kubernetes objects agree with each other, with the admin
// listener and with the SIGTERM drain; docker-compose.yml, HAProxy and
// RabbitMQ agree on services, ports, users and passwords; the Dockerfile
// builds static, non-root images. Tools found on the machine (docker
// compose, kubectl, haproxy) check their own files too; without them those
// checks are skipped.
package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The ports the gateway's defaults and the manifests use.
const (
	wsPort    = 15674
	stompPort = 61613
	adminPort = 15675
)

var (
	stompNameRE = regexp.MustCompile(`STOMP_GATEWAY_[A-Z0-9_]+`)
	chatNameRE  = regexp.MustCompile(`CHAT_BACKEND_[A-Z0-9_]+`)
)

// ---------------------------------------------------------------------------
// helpers

// repo is a path relative to the repository root (this test runs in deploy/).
func repo(rel string) string { return filepath.Join("..", filepath.FromSlash(rel)) }

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repo(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// yamlDocs parses every document of a YAML stream (documents separated by
// ---), skipping empty ones.
func yamlDocs(t *testing.T, rel string) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, rel)))
	var docs []*yaml.Node
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: YAML document %d: %v", rel, i, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
			continue
		}
		docs = append(docs, &doc)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML document", rel)
	}
	return docs
}

func decodeNode(t *testing.T, rel string, n *yaml.Node, v any) {
	t.Helper()
	if err := n.Decode(v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

func kubernetesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repo("deploy/kubernetes/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/kubernetes/*.yaml (%v)", err)
	}
	var rel []string
	for _, f := range files {
		rel = append(rel, "deploy/kubernetes/"+filepath.Base(f))
	}
	return rel
}

// configTable is README.md's configuration table: every STOMP_GATEWAY_*
// variable and its default ("" for "(empty)"). A test in cmd/stomp-gateway
// keeps the table equal to the config structs.
func configTable(t *testing.T) map[string]string {
	t.Helper()
	readme := readFile(t, "README.md")
	start := strings.Index(readme, "<!-- config:start -->")
	end := strings.Index(readme, "<!-- config:end -->")
	if start < 0 || end < start {
		t.Fatal("README.md: no <!-- config:start --> ... <!-- config:end --> table")
	}
	row := regexp.MustCompile("(?m)^\\| `(STOMP_GATEWAY_[A-Z0-9_]+)` \\| (`([^`]*)`|\\(empty\\)) \\|")
	table := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(readme[start:end], -1) {
		table[m[1]] = m[3]
	}
	if len(table) < 20 {
		t.Fatalf("README.md's configuration table has only %d rows: has its format changed?", len(table))
	}
	return table
}

// setting is a variable's value: from env when set there, else the default.
func setting(t *testing.T, table, env map[string]string, name string) string {
	t.Helper()
	if v, ok := env[name]; ok {
		return v
	}
	def, ok := table[name]
	if !ok {
		t.Fatalf("%s is not in README.md's configuration table", name)
	}
	return def
}

func durationSetting(t *testing.T, table, env map[string]string, name string) time.Duration {
	t.Helper()
	v := setting(t, table, env, name)
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

// listenPort is the port of a listen address such as ":15674".
func listenPort(t *testing.T, name, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s=%q: port %q", name, addr, p)
	}
	return n
}

// envMap is a compose environment, in its mapping or list form.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	m := envMap{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = n.Content[i+1].Value
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			k, v, _ := strings.Cut(c.Value, "=")
			m[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment: a mapping or a list expected", n.Line)
	}
	*e = m
	return nil
}

// dependsOn is a compose depends_on: service → condition.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	m := dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			m[c.Value] = "service_started"
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			var v struct {
				Condition string `yaml:"condition"`
			}
			if err := n.Content[i+1].Decode(&v); err != nil {
				return err
			}
			if v.Condition == "" {
				v.Condition = "service_started"
			}
			m[n.Content[i].Value] = v.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on: a mapping or a list expected", n.Line)
	}
	*d = m
	return nil
}

// mount is a compose volume or port in short ("a:b[:mode]") or long form.
type mount struct{ Source, Target string }

func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		parts := strings.Split(n.Value, ":")
		switch {
		case len(parts) == 1:
			m.Target = parts[0]
		case len(parts) >= 3 && (parts[len(parts)-1] == "ro" || parts[len(parts)-1] == "rw"):
			m.Source, m.Target = strings.Join(parts[:len(parts)-2], ":"), parts[len(parts)-2]
		default:
			m.Source, m.Target = strings.Join(parts[:len(parts)-1], ":"), parts[len(parts)-1]
		}
	case yaml.MappingNode:
		var v struct {
			Source    string `yaml:"source"`
			Published string `yaml:"published"`
			Target    string `yaml:"target"`
		}
		if err := n.Decode(&v); err != nil {
			return err
		}
		m.Source, m.Target = v.Source+v.Published, v.Target
	default:
		return fmt.Errorf("line %d: a string or a mapping expected", n.Line)
	}
	return nil
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Entrypoint  []string  `yaml:"entrypoint"`
	Environment envMap    `yaml:"environment"`
	DependsOn   dependsOn `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports           []mount `yaml:"ports"`
	Volumes         []mount `yaml:"volumes"`
	StopGracePeriod string  `yaml:"stop_grace_period"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	docs := yamlDocs(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d YAML documents, want 1", len(docs))
	}
	var c composeFile
	decodeNode(t, "docker-compose.yml", docs[0], &c)
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// gatewayServices are the compose services that run the gateway.
func gatewayServices(c composeFile) []string {
	var names []string
	for name, s := range c.Services {
		if _, ok := s.Environment["STOMP_GATEWAY_AMQP_URL"]; ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

type permission struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

type definitions struct {
	Users []struct {
		Name             string `json:"name"`
		PasswordHash     string `json:"password_hash"`
		HashingAlgorithm string `json:"hashing_algorithm"`
	} `json:"users"`
	Vhosts []struct {
		Name string `json:"name"`
	} `json:"vhosts"`
	Permissions []permission `json:"permissions"`
	Exchanges   []struct {
		Name       string `json:"name"`
		Vhost      string `json:"vhost"`
		Type       string `json:"type"`
		Durable    bool   `json:"durable"`
		AutoDelete bool   `json:"auto_delete"`
	} `json:"exchanges"`
}

func loadDefinitions(t *testing.T) definitions {
	t.Helper()
	var d definitions
	if err := json.Unmarshal([]byte(readFile(t, "deploy/rabbitmq/definitions.json")), &d); err != nil {
		t.Fatalf("deploy/rabbitmq/definitions.json: %v", err)
	}
	return d
}

// ---------------------------------------------------------------------------
// YAML and configuration names

func TestYAMLFilesParse(t *testing.T) {
	files := append([]string{"docker-compose.yml"}, kubernetesFiles(t)...)
	for _, f := range files {
		docs := yamlDocs(t, f)
		for i, d := range docs {
			if d.Content[0].Kind != yaml.MappingNode {
				t.Errorf("%s: document %d is not a mapping", f, i+1)
			}
		}
		t.Logf("%s: %d document(s)", f, len(docs))
	}
}

// TestConfigNamesExist: every STOMP_GATEWAY_* name in docker-compose.yml,
// deploy/kubernetes, deploy/Dockerfile and deploy/haproxy is a variable of
// README.md's configuration table, and every CHAT_BACKEND_* name one of
// cmd/chat-backend's config fields: a misspelt variable is silently ignored
// at run time, so it has to fail here.
func TestConfigNamesExist(t *testing.T) {
	table := configTable(t)
	chat := chatBackendNames(t)
	files := []string{"docker-compose.yml", "deploy/Dockerfile"}
	for _, dir := range []string{"deploy/kubernetes", "deploy/haproxy"} {
		entries, err := os.ReadDir(repo(dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, dir+"/"+e.Name())
			}
		}
	}
	seen, seenChat := 0, 0
	for _, f := range files {
		text := readFile(t, f)
		for _, name := range stompNameRE.FindAllString(text, -1) {
			seen++
			if _, ok := table[name]; !ok {
				t.Errorf("%s: %s is not a gateway variable (README.md's configuration table)", f, name)
			}
		}
		for _, name := range chatNameRE.FindAllString(text, -1) {
			seenChat++
			if !chat[name] {
				t.Errorf("%s: %s is not a chat-backend variable (cmd/chat-backend/main.go's config)", f, name)
			}
		}
	}
	if seen == 0 || seenChat == 0 {
		t.Errorf("found %d STOMP_GATEWAY_* and %d CHAT_BACKEND_* names: expected both in the manifests", seen, seenChat)
	}
	t.Logf("%d STOMP_GATEWAY_* and %d CHAT_BACKEND_* uses checked in %d files", seen, seenChat, len(files))
}

// chatBackendNames are cmd/chat-backend's variables, read from its source
// (a main package cannot be imported): the prefix given to
// envconfig.Process and the envconfig tags of its config struct.
func chatBackendNames(t *testing.T) map[string]bool {
	t.Helper()
	src := readFile(t, "cmd/chat-backend/main.go")
	prefix := regexp.MustCompile(`envconfig\.Process\("([A-Z0-9_]+)"`).FindStringSubmatch(src)
	if prefix == nil {
		t.Fatal("cmd/chat-backend/main.go: no envconfig.Process(\"PREFIX\", ...) call")
	}
	body := regexp.MustCompile(`(?s)type config struct \{(.*?)\n\}`).FindStringSubmatch(src)
	if body == nil {
		t.Fatal("cmd/chat-backend/main.go: no `type config struct`")
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`envconfig:"([A-Z0-9_]+)"`).FindAllStringSubmatch(body[1], -1) {
		names[prefix[1]+"_"+m[1]] = true
	}
	if !names[prefix[1]+"_AMQP_URL"] {
		t.Fatalf("cmd/chat-backend/main.go: config fields %v lack AMQP_URL: has the struct changed?", names)
	}
	return names
}

// ---------------------------------------------------------------------------
// Grafana

// runTool runs a command with a short deadline and returns its output.
func runTool(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repo(".")
	return cmd.CombinedOutput()
}

// ---------------------------------------------------------------------------
// Dockerfile
