package deploy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/stomp-gateway/stomp-gateway/gateway"
	"github.com/stomp-gateway/stomp-gateway/relay"
)

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
