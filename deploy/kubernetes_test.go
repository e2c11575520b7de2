package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

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
