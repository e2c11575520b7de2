package deploy_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

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
