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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/relay"
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

// metricInfo is every metric name the gateway's admin listener can serve
// (gateway, relay, Go and process collectors) and the type of those a
// Gather shows.
type metricInfo struct {
	names map[string]bool
	types map[string]dto.MetricType
	own   []string // stomp_gateway_* names: the dashboard must show each
}

func registeredMetrics(t *testing.T) metricInfo {
	t.Helper()
	r, err := relay.New(relay.Config{
		URLs:         []string{"amqp://guest:guest@127.0.0.1:1/"},
		Connections:  1,
		ReconnectMin: time.Second,
		ReconnectMax: time.Second,
		Heartbeat:    10 * time.Second,
		AppExchange:  "stomp-gateway.app",
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	cs := append(gateway.Collectors(), r.Collectors()...)
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg := prometheus.NewRegistry()
	info := metricInfo{names: map[string]bool{}, types: map[string]dto.MetricType{}}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
		ch := make(chan *prometheus.Desc, 128)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			info.names[m[1]] = true
			if strings.HasPrefix(m[1], "stomp_gateway_") {
				info.own = append(info.own, m[1])
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		info.types[mf.GetName()] = mf.GetType()
	}
	if len(info.own) < 10 {
		t.Fatalf("only %d stomp_gateway_* metrics registered: %v", len(info.own), info.own)
	}
	return info
}

// base is the metric a series name belongs to: histograms and summaries
// expose name_bucket, name_sum and name_count.
func (m metricInfo) base(series string) (string, bool) {
	if m.names[series] {
		return series, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		b, ok := strings.CutSuffix(series, suffix)
		if !ok || !m.names[b] {
			continue
		}
		typ, gathered := m.types[b]
		if !gathered || typ == dto.MetricType_HISTOGRAM || typ == dto.MetricType_SUMMARY ||
			(suffix != "_bucket" && typ == dto.MetricType_GAUGE_HISTOGRAM) {
			return b, true
		}
	}
	return "", false
}

type dashPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

type dashInput struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	PluginID string `json:"pluginId"`
}

type dashboard struct {
	Inputs     []dashInput `json:"__inputs"`
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

// TestGrafanaDashboard: deploy/grafana/stomp-gateway.json parses, imports
// with a ${DS_PROMETHEUS} datasource, and queries only metrics the gateway
// registers (histogram and summary series by their _bucket/_sum/_count
// names), and every stomp_gateway_* metric has a panel.
func TestGrafanaDashboard(t *testing.T) {
	const rel = "deploy/grafana/stomp-gateway.json"
	text := readFile(t, rel)
	var d dashboard
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: uid and title must be set", rel)
	}
	if !slices.ContainsFunc(d.Inputs, func(in dashInput) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		t.Errorf("%s: __inputs lacks the DS_PROMETHEUS prometheus datasource", rel)
	}
	const ds = "${DS_PROMETHEUS}"

	var all []dashPanel
	var flatten func([]dashPanel)
	flatten = func(ps []dashPanel) {
		for _, p := range ps {
			all = append(all, p)
			flatten(p.Panels)
		}
	}
	flatten(d.Panels)
	ids := map[int]bool{}
	var exprs []string
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("%s: panel id %d used twice", rel, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: panel %q: gridPos %+v outside the 24-column grid", rel, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			t.Errorf("%s: panel %d has no title", rel, p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != ds {
			t.Errorf("%s: panel %q: datasource must be %s", rel, p.Title, ds)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", rel, p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.RefID == "" {
				t.Errorf("%s: panel %q: a query without expr or refId", rel, p.Title)
			}
			if q.Datasource != nil && q.Datasource.UID != ds {
				t.Errorf("%s: panel %q: query datasource must be %s", rel, p.Title, ds)
			}
			if err := balanced(q.Expr); err != nil {
				t.Errorf("%s: panel %q: %s: %v", rel, p.Title, q.Expr, err)
			}
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Datasource != nil && v.Datasource.UID != ds {
			t.Errorf("%s: variable %s: datasource must be %s", rel, v.Name, ds)
		}
		exprs = append(exprs, v.Definition)
	}
	if len(exprs) < 20 {
		t.Errorf("%s: only %d queries", rel, len(exprs))
	}

	info := registeredMetrics(t)
	used := map[string]bool{}
	// Every stomp_gateway_* name anywhere in the file, and every Go and
	// process metric the queries use, must be served by the admin listener.
	check := func(where, series string) {
		b, ok := info.base(series)
		if !ok {
			t.Errorf("%s: %s references %s, which the gateway does not register", rel, where, series)
			return
		}
		used[b] = true
	}
	for _, m := range regexp.MustCompile(`stomp_gateway_[a-z0-9_]+`).FindAllString(text, -1) {
		check("the dashboard", m)
	}
	runtimeRE := regexp.MustCompile(`\b(?:go|process)_[a-z0-9_]+`)
	for _, e := range exprs {
		for _, m := range runtimeRE.FindAllString(e, -1) {
			check("query "+e, m)
		}
	}
	for _, name := range info.own {
		if !used[name] {
			t.Errorf("%s: no panel shows %s (a metric the gateway registers)", rel, name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if !used[name] {
			t.Errorf("%s: no panel shows %s", rel, name)
		}
	}
	t.Logf("%d panels, %d queries, %d metrics used", len(all), len(exprs), len(used))
}

// balanced checks a PromQL expression's brackets and quotes pair up.
func balanced(expr string) error {
	var stack []rune
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inQuote := false
	for i := 0; i < len(expr); i++ {
		c := rune(expr[i])
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote || len(stack) > 0 {
		return errors.New("unclosed bracket or quote")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Kubernetes

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sHeader struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

// intOrString is a Kubernetes port reference or count: a number or a name
// (or a percentage).
type intOrString struct{ s string }

func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a number or a string expected", n.Line)
	}
	v.s = n.Value
	return nil
}

type probe struct {
	HTTPGet *struct {
		Path string      `yaml:"path"`
		Port intOrString `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type envFromSource struct {
	ConfigMapRef *struct {
		Name string `yaml:"name"`
	} `yaml:"configMapRef"`
	SecretRef *struct {
		Name string `yaml:"name"`
	} `yaml:"secretRef"`
}

type hpaMetric struct {
	Type     string `yaml:"type"`
	Resource *struct {
		Name string `yaml:"name"`
	} `yaml:"resource"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []envFromSource `yaml:"envFrom"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
}

type deployment struct {
	k8sHeader `yaml:",inline"`
	Spec      struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
				EnableServiceLinks            *bool           `yaml:"enableServiceLinks"`
				SecurityContext               securityContext `yaml:"securityContext"`
				Containers                    []container     `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type manifests struct {
	files      []string
	deployment deployment
	configMap  struct {
		k8sHeader `yaml:",inline"`
		Data      map[string]yaml.Node `yaml:"data"`
	}
	secret struct {
		k8sHeader  `yaml:",inline"`
		StringData map[string]string `yaml:"stringData"`
		Data       map[string]string `yaml:"data"`
	}
	service struct {
		k8sHeader `yaml:",inline"`
		Spec      struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string      `yaml:"name"`
				Port       int         `yaml:"port"`
				TargetPort intOrString `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	hpa struct {
		k8sHeader `yaml:",inline"`
		Spec      struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas *int        `yaml:"minReplicas"`
			MaxReplicas int         `yaml:"maxReplicas"`
			Metrics     []hpaMetric `yaml:"metrics"`
		} `yaml:"spec"`
	}
	pdb struct {
		k8sHeader `yaml:",inline"`
		Spec      struct {
			MinAvailable   *intOrString `yaml:"minAvailable"`
			MaxUnavailable *intOrString `yaml:"maxUnavailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	kustomization struct {
		Resources []string `yaml:"resources"`
	}
	env map[string]string // the ConfigMap's data
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{env: map[string]string{}}
	kinds := map[string]int{}
	for _, f := range kubernetesFiles(t) {
		if filepath.Base(f) == "kustomization.yaml" {
			decodeNode(t, f, yamlDocs(t, f)[0], &m.kustomization)
			continue
		}
		m.files = append(m.files, filepath.Base(f))
		for _, doc := range yamlDocs(t, f) {
			var h k8sHeader
			decodeNode(t, f, doc, &h)
			if h.APIVersion == "" || h.Kind == "" || h.Metadata.Name == "" {
				t.Fatalf("%s: an object without apiVersion, kind or metadata.name", f)
			}
			if h.Metadata.Namespace != "" {
				t.Errorf("%s: %s/%s sets namespace %q: the manifests are namespace-agnostic", f, h.Kind, h.Metadata.Name, h.Metadata.Namespace)
			}
			kinds[h.Kind]++
			var target any
			switch h.Kind {
			case "Deployment":
				target = &m.deployment
			case "ConfigMap":
				target = &m.configMap
			case "Secret":
				target = &m.secret
			case "Service":
				target = &m.service
			case "HorizontalPodAutoscaler":
				target = &m.hpa
			case "PodDisruptionBudget":
				target = &m.pdb
			default:
				continue
			}
			decodeNode(t, f, doc, target)
		}
	}
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if kinds[k] != 1 {
			t.Fatalf("deploy/kubernetes: %d %s objects, want 1", kinds[k], k)
		}
	}
	for k, v := range m.configMap.Data {
		m.env[k] = v.Value
	}
	return m
}

// TestKubernetesManifests: the objects refer to each other correctly, the
// probes hit the admin listener, the pod outlives its SIGTERM drain, and it
// runs locked down.
func TestKubernetesManifests(t *testing.T) {
	table := configTable(t)
	m := loadManifests(t)

	// kustomization.yaml lists exactly the manifests.
	if got, want := slices.Sorted(slices.Values(m.kustomization.Resources)), slices.Sorted(slices.Values(m.files)); !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %v, want the files %v", got, want)
	}

	// ConfigMap: string values only (Kubernetes rejects others), and no secrets.
	for k, v := range m.configMap.Data {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			t.Errorf("configmap.yaml: %s: value %q is a %s, quote it (ConfigMap data must be strings)", k, v.Value, v.Tag)
		}
		if k == "STOMP_GATEWAY_AMQP_URL" || k == "STOMP_GATEWAY_JWT_SECRET" {
			t.Errorf("configmap.yaml: %s belongs in the Secret", k)
		}
	}

	d := m.deployment
	pod := d.Spec.Template.Spec
	labels := d.Spec.Template.Metadata.Labels
	if len(d.Spec.Selector.MatchLabels) == 0 || !subset(d.Spec.Selector.MatchLabels, labels) {
		t.Errorf("deployment.yaml: selector %v does not match the pod labels %v", d.Spec.Selector.MatchLabels, labels)
	}
	if len(pod.Containers) == 0 {
		t.Fatal("deployment.yaml: no container")
	}
	c := pod.Containers[0]
	ports := map[string]int{}
	containerPorts := map[int]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		containerPorts[p.ContainerPort] = true
	}
	resolve := func(ref intOrString) int {
		if n, err := strconv.Atoi(ref.s); err == nil {
			return n
		}
		if n, ok := ports[ref.s]; ok {
			return n
		}
		t.Errorf("deployment.yaml: port %q is not a named container port", ref.s)
		return -1
	}

	// Listeners: the configured ports are the container's ports.
	admin := listenPort(t, "STOMP_GATEWAY_ADMIN_LISTEN", setting(t, table, m.env, "STOMP_GATEWAY_ADMIN_LISTEN"))
	if admin != adminPort {
		t.Errorf("STOMP_GATEWAY_ADMIN_LISTEN port %d, want %d", admin, adminPort)
	}
	for _, name := range []string{"STOMP_GATEWAY_LISTEN", "STOMP_GATEWAY_ADMIN_LISTEN", "STOMP_GATEWAY_TCP_LISTEN"} {
		if addr := setting(t, table, m.env, name); addr != "" {
			if p := listenPort(t, name, addr); !containerPorts[p] {
				t.Errorf("deployment.yaml: %s=%s but the container declares no port %d", name, addr, p)
			}
		}
	}

	// Probes on the admin listener.
	for _, pr := range []struct {
		name string
		p    *probe
		path string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("deployment.yaml: no %s with httpGet", pr.name)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			t.Errorf("deployment.yaml: %s path %q, want %q", pr.name, pr.p.HTTPGet.Path, pr.path)
		}
		if got := resolve(pr.p.HTTPGet.Port); got != adminPort {
			t.Errorf("deployment.yaml: %s port %d, want the admin port %d", pr.name, got, adminPort)
		}
	}

	// Drain: preStop sleeps DRAIN_DELAY, then the gateway drains for
	// DRAIN_DELAY and waits up to SHUTDOWN_TIMEOUT, all within the grace
	// period (which counts from the start of preStop).
	drain := durationSetting(t, table, m.env, "STOMP_GATEWAY_DRAIN_DELAY")
	shutdown := durationSetting(t, table, m.env, "STOMP_GATEWAY_SHUTDOWN_TIMEOUT")
	var preStop time.Duration
	switch ps := c.Lifecycle.PreStop; {
	case ps == nil || ps.Sleep == nil:
		t.Errorf("deployment.yaml: no lifecycle.preStop.sleep (the distroless image has no shell for an exec sleep)")
	default:
		preStop = time.Duration(ps.Sleep.Seconds) * time.Second
		if preStop != drain {
			t.Errorf("deployment.yaml: preStop sleeps %v, want STOMP_GATEWAY_DRAIN_DELAY (%v)", preStop, drain)
		}
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds is not set (default 30s)")
	} else if grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; grace <= preStop+drain+shutdown {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds %v must exceed preStop %v + STOMP_GATEWAY_DRAIN_DELAY %v + STOMP_GATEWAY_SHUTDOWN_TIMEOUT %v",
			grace, preStop, drain, shutdown)
	}

	// Locked down.
	nonRoot := c.SecurityContext.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = pod.SecurityContext.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		t.Errorf("deployment.yaml: runAsNonRoot is not true")
	}
	for _, u := range []*int64{pod.SecurityContext.RunAsUser, c.SecurityContext.RunAsUser} {
		if u != nil && *u == 0 {
			t.Errorf("deployment.yaml: runAsUser 0")
		}
	}
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("deployment.yaml: readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("deployment.yaml: allowPrivilegeEscalation is not false")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("deployment.yaml: capabilities.drop lacks ALL")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("deployment.yaml: enableServiceLinks must be false: the Service %q would inject %s_SERVICE_HOST, %s_PORT... into the config's namespace",
			m.service.Metadata.Name, strings.ToUpper(strings.ReplaceAll(m.service.Metadata.Name, "-", "_")), strings.ToUpper(strings.ReplaceAll(m.service.Metadata.Name, "-", "_")))
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("deployment.yaml: resources need cpu and memory requests (the HPA scales on CPU) and a memory limit: %+v", c.Resources)
	}

	// Prometheus scrapes the admin listener.
	ann := d.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(adminPort) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("deployment.yaml: pod annotations %v, want prometheus.io/scrape true, port %d, path /metrics", ann, adminPort)
	}

	// Config from the ConfigMap, the AMQP URL from the Secret.
	if !slices.ContainsFunc(c.EnvFrom, func(e envFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == m.configMap.Metadata.Name
	}) {
		t.Errorf("deployment.yaml: envFrom lacks configMapRef %q", m.configMap.Metadata.Name)
	}
	amqpFromSecret := false
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		_, inString := m.secret.StringData[ref.Key]
		_, inData := m.secret.Data[ref.Key]
		if ref.Name != m.secret.Metadata.Name || !inString && !inData {
			t.Errorf("deployment.yaml: %s refers to secret %s key %s, which secret.yaml does not hold", e.Name, ref.Name, ref.Key)
		}
		if e.Name == "STOMP_GATEWAY_AMQP_URL" {
			amqpFromSecret = true
		}
	}
	if !amqpFromSecret {
		t.Errorf("deployment.yaml: STOMP_GATEWAY_AMQP_URL does not come from the Secret")
	}
	for k, v := range m.secret.StringData {
		if strings.HasPrefix(v, "amqp") {
			if _, err := url.Parse(v); err != nil {
				t.Errorf("secret.yaml: %s: %v", k, err)
			}
		}
	}

	// Service: selects the pods, targets declared ports, serves WebSocket.
	if len(m.service.Spec.Selector) == 0 || !subset(m.service.Spec.Selector, labels) {
		t.Errorf("service.yaml: selector %v does not match the pod labels %v", m.service.Spec.Selector, labels)
	}
	servesWS := false
	for _, p := range m.service.Spec.Ports {
		target := resolve(p.TargetPort)
		if p.TargetPort.s == "" {
			target = p.Port
		}
		if !containerPorts[target] {
			t.Errorf("service.yaml: port %s targets %d, which the container does not declare", p.Name, target)
		}
		if p.Port == wsPort && target == wsPort {
			servesWS = true
		}
	}
	if !servesWS {
		t.Errorf("service.yaml: no port %d to the container's WebSocket port", wsPort)
	}

	// HPA and PDB.
	h := m.hpa
	if h.APIVersion != "autoscaling/v2" {
		t.Errorf("hpa.yaml: apiVersion %s, want autoscaling/v2", h.APIVersion)
	}
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Metadata.Name {
		t.Errorf("hpa.yaml: scaleTargetRef %+v is not the Deployment %q", ref, d.Metadata.Name)
	}
	minReplicas := 1
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	if minReplicas < 2 || h.Spec.MaxReplicas < minReplicas {
		t.Errorf("hpa.yaml: minReplicas %d, maxReplicas %d: want at least 2 nodes and max >= min", minReplicas, h.Spec.MaxReplicas)
	}
	if !slices.ContainsFunc(h.Spec.Metrics, func(x hpaMetric) bool {
		return x.Type == "Resource" && x.Resource != nil && x.Resource.Name == "cpu"
	}) {
		t.Errorf("hpa.yaml: no CPU metric")
	}
	p := m.pdb
	if p.APIVersion != "policy/v1" {
		t.Errorf("pdb.yaml: apiVersion %s, want policy/v1", p.APIVersion)
	}
	if len(p.Spec.Selector.MatchLabels) == 0 || !subset(p.Spec.Selector.MatchLabels, labels) {
		t.Errorf("pdb.yaml: selector %v does not match the pod labels %v", p.Spec.Selector.MatchLabels, labels)
	}
	switch {
	case p.Spec.MaxUnavailable != nil:
		if v := p.Spec.MaxUnavailable.s; v == "0" || v == "0%" {
			t.Errorf("pdb.yaml: maxUnavailable %s blocks every node drain", v)
		}
	case p.Spec.MinAvailable != nil:
		if n, err := strconv.Atoi(p.Spec.MinAvailable.s); err == nil && n >= minReplicas {
			t.Errorf("pdb.yaml: minAvailable %d with minReplicas %d blocks node drains", n, minReplicas)
		}
	default:
		t.Errorf("pdb.yaml: neither minAvailable nor maxUnavailable")
	}

	// kubectl's built-in kustomize, when kubectl is here (no cluster needed).
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not found: `kubectl kustomize deploy/kubernetes` not run")
		return
	}
	out, err := runTool(t, kubectl, "kustomize", "deploy/kubernetes")
	if err != nil {
		t.Errorf("kubectl kustomize deploy/kubernetes: %v\n%s", err, out)
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubectl kustomize output: %v", err)
		}
		n++
	}
	if n != 6 {
		t.Errorf("kubectl kustomize deploy/kubernetes: %d objects, want 6", n)
	}
	t.Logf("kubectl kustomize deploy/kubernetes: %d objects", n)
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

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

type instruction struct {
	cmd, args string
	line      int
}

// dockerfile returns the Dockerfile's instructions (continuations joined,
// comments dropped).
func dockerfile(t *testing.T) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(readFile(t, "deploy/Dockerfile"), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

// TestDockerfile: multi-stage, static Go build of both programs, the chat
// demo where STOMP_GATEWAY_DEMO_DIR points, a distroless or scratch base,
// a non-root user and the three ports.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	last := -1
	stages := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			stages++
			last = i
		}
	}
	if stages < 2 {
		t.Fatalf("deploy/Dockerfile: %d stages, want a multi-stage build", stages)
	}
	base := strings.Fields(ins[last].args)
	img := base[0]
	for _, f := range base {
		if !strings.HasPrefix(f, "--") {
			img = f
			break
		}
	}
	if img != "scratch" && !strings.HasPrefix(img, "gcr.io/distroless/static") {
		t.Errorf("deploy/Dockerfile: final base %s, want gcr.io/distroless/static* or scratch", img)
	}

	var build, npm bool
	for _, in := range ins {
		if in.cmd != "RUN" {
			continue
		}
		if strings.Contains(in.args, "go build") {
			build = true
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "./cmd/stomp-gateway", "./cmd/chat-backend"} {
				if !strings.Contains(in.args, want) {
					t.Errorf("deploy/Dockerfile:%d: go build lacks %s", in.line, want)
				}
			}
		}
		if strings.Contains(in.args, "npm ci") && strings.Contains(in.args, "--omit=dev") {
			npm = true
		}
	}
	if !build || !npm {
		t.Errorf("deploy/Dockerfile: want a RUN go build (found %v) and a RUN npm ci --omit=dev (found %v)", build, npm)
	}

	// COPY sources from the build context exist.
	for _, in := range ins {
		if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
			continue
		}
		fields := strings.Fields(in.args)
		var srcs []string
		for _, f := range fields[:len(fields)-1] {
			if !strings.HasPrefix(f, "--") {
				srcs = append(srcs, f)
			}
		}
		for _, s := range srcs {
			if _, err := os.Stat(repo(s)); err != nil {
				t.Errorf("deploy/Dockerfile:%d: COPY %s: not in the build context (the repository root)", in.line, s)
			}
		}
	}

	// The final stage: user, ports, entrypoint, the demo files.
	final := ins[last+1:]
	var user, demoDir string
	exposed := map[string]bool{}
	var dests []string
	entry := false
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				exposed[strings.TrimSuffix(p, "/tcp")] = true
			}
		case "ENV":
			if v, ok := strings.CutPrefix(in.args, "STOMP_GATEWAY_DEMO_DIR="); ok {
				demoDir = strings.Trim(strings.Fields(v)[0], `"`)
			}
		case "COPY":
			f := strings.Fields(in.args)
			dests = append(dests, f[len(f)-2]+" -> "+f[len(f)-1])
		case "ENTRYPOINT":
			entry = strings.Contains(in.args, "stomp-gateway")
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("deploy/Dockerfile: final stage USER %q, want a non-root user", user)
	} else if _, err := strconv.Atoi(u); err != nil {
		t.Errorf("deploy/Dockerfile: USER %q: use a numeric uid so Kubernetes' runAsNonRoot can verify it", user)
	}
	for _, p := range []int{wsPort, stompPort, adminPort} {
		if !exposed[strconv.Itoa(p)] {
			t.Errorf("deploy/Dockerfile: EXPOSE lacks %d", p)
		}
	}
	if !entry {
		t.Errorf("deploy/Dockerfile: the ENTRYPOINT is not stomp-gateway")
	}
	if !strings.HasPrefix(demoDir, "/") {
		t.Fatalf("deploy/Dockerfile: ENV STOMP_GATEWAY_DEMO_DIR=%q, want the absolute folder the demo is copied to", demoDir)
	}
	// As examples/chat/handler.go reads them.
	wantWeb := demoDir + "/web"
	wantBundle := demoDir + "/node_modules/@stomp/stompjs/bundles/"
	var web, bundle bool
	for _, d := range dests {
		src, dst, _ := strings.Cut(d, " -> ")
		if strings.TrimSuffix(dst, "/") == wantWeb {
			web = true
		}
		if strings.HasSuffix(src, "stomp.umd.min.js") && (dst == wantBundle || dst == wantBundle+"stomp.umd.min.js") {
			bundle = true
		}
	}
	if !web || !bundle {
		t.Errorf("deploy/Dockerfile: the final stage must copy web/ to %s (%v) and stomp.umd.min.js to %s (%v); copies: %v", wantWeb, web, wantBundle, bundle, dests)
	}
	if _, err := exec.LookPath("hadolint"); err == nil {
		out, err := runTool(t, "hadolint", "--failure-threshold", "error", "deploy/Dockerfile")
		if err != nil {
			t.Errorf("hadolint: %v\n%s", err, out)
		}
	}
}

// ---------------------------------------------------------------------------
// docker-compose.yml, HAProxy, RabbitMQ

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

// TestHAProxy: the load balancer's frontend, health checks and backends
// agree with the gateways of docker-compose.yml and with the drain.
func TestHAProxy(t *testing.T) {
	table := configTable(t)
	sections := map[string][]string{} // "frontend stomp" → directives
	var order []string
	cur := ""
	for _, raw := range strings.Split(readFile(t, "deploy/haproxy/haproxy.cfg"), "\n") {
		line := raw
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if raw[0] != ' ' && raw[0] != '\t' {
			cur = line
			order = append(order, cur)
			continue
		}
		sections[cur] = append(sections[cur], line)
	}
	has := func(sec, prefix string) (string, bool) {
		for _, d := range sections[sec] {
			if strings.HasPrefix(d, prefix) {
				return d, true
			}
		}
		return "", false
	}

	// The client frontend on 15674 and its backend.
	var front string
	for _, sec := range order {
		if strings.HasPrefix(sec, "frontend ") || strings.HasPrefix(sec, "listen ") {
			if b, ok := has(sec, "bind "); ok && strings.Contains(b, ":"+strconv.Itoa(wsPort)) {
				front = sec
			}
		}
	}
	if front == "" {
		t.Fatalf("haproxy.cfg: no frontend binding :%d", wsPort)
	}
	back := front
	if d, ok := has(front, "default_backend "); ok {
		back = "backend " + strings.Fields(d)[1]
	}
	if _, ok := sections[back]; !ok {
		t.Fatalf("haproxy.cfg: %s: no %s", front, back)
	}
	_, inDefaults := has("defaults", "timeout tunnel ")
	_, inFront := has(front, "timeout tunnel ")
	_, inBack := has(back, "timeout tunnel ")
	if !inDefaults && !inFront && !inBack {
		t.Errorf("haproxy.cfg: no timeout tunnel: WebSockets would be cut after timeout client/server")
	}
	if b, ok := has(back, "balance "); !ok || !slices.Contains([]string{"roundrobin", "leastconn"}, strings.Fields(b)[1]) {
		t.Errorf("haproxy.cfg: %s: want balance roundrobin or leastconn", back)
	}
	if _, ok := has(back, "option httpchk GET /readyz"); !ok {
		t.Errorf("haproxy.cfg: %s: want option httpchk GET /readyz", back)
	}

	// Servers: every compose gateway, checked on the admin port.
	defaults := ""
	if d, ok := has(back, "default-server "); ok {
		defaults = strings.TrimPrefix(d, "default-server ")
	}
	option := func(opts []string, key string) (string, bool) {
		for i, o := range opts {
			if o == key {
				if i+1 < len(opts) {
					return opts[i+1], true
				}
				return "", true
			}
		}
		return "", false
	}
	compose := loadCompose(t)
	gws := gatewayServices(compose)
	var servers []string
	for _, d := range sections[back] {
		f := strings.Fields(d)
		if f[0] != "server" || len(f) < 3 {
			continue
		}
		host, port, err := net.SplitHostPort(f[2])
		if err != nil || port != strconv.Itoa(wsPort) {
			t.Errorf("haproxy.cfg: server %s at %s, want host:%d", f[1], f[2], wsPort)
		}
		servers = append(servers, host)
		opts := append(strings.Fields(defaults), f[3:]...)
		if _, ok := option(opts, "check"); !ok {
			t.Errorf("haproxy.cfg: server %s is not health-checked", f[1])
		}
		if p, _ := option(opts, "port"); p != strconv.Itoa(adminPort) {
			t.Errorf("haproxy.cfg: server %s is checked on port %q, want the admin port %d", f[1], p, adminPort)
		}
		// HAProxy must see /readyz fail and mark the server down within the
		// gateway's drain delay, before the gateway stops accepting.
		inter, fall := 2*time.Second, 3 // HAProxy's defaults
		if v, ok := option(opts, "inter"); ok {
			inter = haproxyTime(t, v)
		}
		if v, ok := option(opts, "fall"); ok {
			fall, _ = strconv.Atoi(v)
		}
		if svc, ok := compose.Services[host]; ok {
			drain := durationSetting(t, table, svc.Environment, "STOMP_GATEWAY_DRAIN_DELAY")
			if time.Duration(fall)*inter >= drain {
				t.Errorf("haproxy.cfg: server %s: fall %d x inter %v reaches the drain delay %v: HAProxy would still send clients to a node that stopped accepting", f[1], fall, inter, drain)
			}
		}
	}
	slices.Sort(servers)
	if !slices.Equal(servers, gws) {
		t.Errorf("haproxy.cfg: servers %v, want the compose gateways %v", servers, gws)
	}
	stats := false
	for _, sec := range order {
		if _, ok := has(sec, "stats enable"); ok {
			stats = true
		}
	}
	if !stats {
		t.Errorf("haproxy.cfg: no stats page (stats enable)")
	}

	// HAProxy's own check, when it is installed (server names that do not
	// resolve outside compose are warnings only).
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Log("haproxy not found: `haproxy -c` not run")
		return
	}
	out, err := runTool(t, "haproxy", "-c", "-f", "deploy/haproxy/haproxy.cfg")
	if err != nil {
		t.Errorf("haproxy -c -f deploy/haproxy/haproxy.cfg: %v\n%s", err, out)
	} else {
		t.Log("haproxy -c: configuration file is valid")
	}
}

// haproxyTime parses an HAProxy time: a number of milliseconds or with a unit.
func haproxyTime(t *testing.T, v string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("haproxy.cfg: time %q: %v", v, err)
	}
	return d
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
