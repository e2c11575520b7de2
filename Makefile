# stomp-gateway: `make run` to try it, `make test` to check everything.

SHELL     := bash
GO        ?= go
BIN       := bin/stomp-gateway
STOMPJS   := gateway/compat/testdata/stompjs
CHAT      := examples/chat
# A count, not a duration: go1.26's fuzz coordinator can fail a run with
# "context deadline exceeded" when a duration ends while a worker is busy
# (golang/go#75804, fixed in go1.27). 150,000 inputs take about 10 s here.
FUZZTIME  ?= 150000x

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/stomp-gateway
	$(GO) build -trimpath -o $(BIN) ./cmd/stomp-gateway

.PHONY: run
run: build chat-deps ## run the gateway on :15674 with the embedded broker (unless STOMP_GATEWAY_AMQP_URL is set), the demo page at / with its rooms' history kept, and no authentication (unless STOMP_GATEWAY_AUTH is set)
	@# The chat rooms keep history (unless STOMP_GATEWAY_HISTORY_TOPICS is
	@# set, empty turns it off): a page that reconnects shows what it missed.
	STOMP_GATEWAY_DEMO=$${STOMP_GATEWAY_DEMO:-true} STOMP_GATEWAY_AUTH=$${STOMP_GATEWAY_AUTH-none} \
		STOMP_GATEWAY_HISTORY_TOPICS=$${STOMP_GATEWAY_HISTORY_TOPICS-/topic/chat.room.*} ./$(BIN)

.PHONY: test
test: vet client-deps chat-deps browser-deps stomppy-deps rabbitmq ## vet, every unit, integration (real RabbitMQ) and client test with -race, a short fuzz run, and the cluster tests
	@# -p 1: the relay's chaos tests restart RabbitMQ and raise its memory
	@# alarm; packages run one at a time so no other package's tests share
	@# the broker with them (tests inside a package still run in parallel).
	STOMP_GATEWAY_REQUIRE_CLIENT_TESTS=1 $(GO) test -race -count=1 -p 1 -timeout 8m ./...
	@# Allocation counts of the hot paths: the race detector changes them.
	$(GO) test -count=1 -run 'DoNotAllocate|Alloc' ./gateway/...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)
	$(MAKE) --no-print-directory test-cluster

.PHONY: vet
vet:
	$(GO) vet ./...

# The relay's integration tests need a real RabbitMQ on 127.0.0.1:5672 (or
# STOMP_GATEWAY_TEST_AMQP_URL), and the auth tests its management API on
# 127.0.0.1:15672 too (the rabbitmq backend reads users' permissions there).
# Start the broker when it is installed but down, and enable
# rabbitmq_management when it does not answer; with CI set an unreachable
# broker or API fails the run (the tests fail too).
.PHONY: rabbitmq
rabbitmq: ## start the local RabbitMQ for the integration tests when it is installed but not running, with its management API
	@if [ -n "$$STOMP_GATEWAY_TEST_AMQP_URL" ] || (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then exit 0; fi; \
	if command -v rabbitmq-server >/dev/null; then \
		echo "RabbitMQ is not running: starting it with rabbitmq-server -detached"; \
		rabbitmq-server -detached; \
		for i in $$(seq 1 90); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && { rabbitmqctl await_startup >/dev/null 2>&1; exit 0; }; sleep 1; done; \
	fi; \
	if [ -n "$$CI" ]; then echo "ERROR: RabbitMQ is not reachable on 127.0.0.1:5672 and could not be started (apt-get install rabbitmq-server)"; exit 1; fi; \
	echo "WARNING: RabbitMQ is not reachable on 127.0.0.1:5672: the relay integration tests will be SKIPPED (they fail under CI)"
	@if [ -n "$$STOMP_GATEWAY_TEST_AMQP_URL" ] || $(MANAGEMENT_UP); then exit 0; fi; \
	if command -v rabbitmq-plugins >/dev/null && (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then \
		echo "RabbitMQ's management API does not answer: rabbitmq-plugins enable rabbitmq_management"; \
		rabbitmq-plugins enable rabbitmq_management >/dev/null; \
		for i in $$(seq 1 60); do $(MANAGEMENT_UP) && exit 0; sleep 1; done; \
	fi; \
	if [ -n "$$CI" ]; then echo "ERROR: RabbitMQ's management API does not answer on http://127.0.0.1:15672/api/overview with guest:guest"; exit 1; fi; \
	echo "WARNING: RabbitMQ's management API does not answer on 127.0.0.1:15672: the rabbitmq auth tests will be SKIPPED (they fail under CI)"

# MANAGEMENT_UP succeeds when http://127.0.0.1:15672/api/overview answers
# 200 to guest:guest (Z3Vlc3Q6Z3Vlc3Q=), with bash alone: no curl needed.
MANAGEMENT_UP := (exec 3<>/dev/tcp/127.0.0.1/15672 && printf 'GET /api/overview HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\r\n' >&3 && read -t 5 -r status <&3 && [[ $$status == *" 200 "* ]]) 2>/dev/null

# The third-party client tests drive @stomp/stompjs from Node, and the chat
# page serves it to browsers; npm installs both (pinned by package-lock.json)
# into ignored node_modules folders.
.PHONY: client-deps chat-deps
client-deps: $(STOMPJS)/node_modules/.installed
chat-deps: $(CHAT)/node_modules/.installed

%/node_modules/.installed: %/package.json %/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed (apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix $* --no-audit --no-fund
	@touch $@

# The chat room's browser test drives Debian's Chromium with playwright-core.
.PHONY: browser-deps
browser-deps:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		echo "installing Chromium for the browser test (apt-get install chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The stomp.py client test runs Debian's python3-stomp under Debian's own
# /usr/bin/python3 (another python3 on PATH, such as pyenv's, does not see
# Debian's packages).
.PHONY: stomppy-deps
stomppy-deps:
	@/usr/bin/python3 -c 'import stomp' 2>/dev/null || { \
		echo "installing stomp.py for the client test (apt-get install python3-stomp)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-stomp >/dev/null; }

# The cluster tests (build tag cluster, relay/cluster*_test.go) form a
# 3-node RabbitMQ cluster of private nodes of the installed rabbitmq-server
# (sgc1-3@localhost on AMQP ports 5691-5693, data under a temp dir; the
# system node on 5672 is not touched), kill and restart nodes under a
# gateway, run two gateway processes with @stomp/stompjs clients, a 60 s
# soak, and stop the nodes. The nodes run as the rabbitmq user, which needs
# root; without it or rabbitmq-server this fails under CI and is skipped,
# loudly, otherwise. The run's whole log goes to CLUSTER_LOG; make shows
# each test's result and the lines the tests print.
CLUSTER_LOG ?= bin/test-cluster.log
CLUSTER_OK  := [ "$$(id -u)" = 0 ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && command -v setpriv >/dev/null && command -v prlimit >/dev/null
CLUSTER_LINES := '^(=== RUN|--- (PASS|FAIL|SKIP)|PASS$$|FAIL|ok |panic:)|^cluster|^soak:|_test.go:[0-9]+: .*(SKIPPED|restarted \(down|sent after the kill delivered|baseline after warm-up|gateway A exited|connections back on)|node\[cluster\]: (two gateways|✔|✖)'

.PHONY: test-cluster
test-cluster: client-deps ## form a 3-node RabbitMQ cluster of private nodes (ports 5691-5693), run the cluster tests (failover, two gateways, a 60 s soak) and stop it
	@if ! $(CLUSTER_OK); then \
		msg="the cluster tests need root, rabbitmq-server (/usr/lib/rabbitmq/bin), setpriv and prlimit"; \
		if [ -n "$$CI" ]; then echo "ERROR: $$msg"; exit 1; fi; \
		echo "WARNING: $$msg: the cluster tests are SKIPPED (they fail under CI)"; exit 0; \
	fi; \
	mkdir -p $(dir $(CLUSTER_LOG)); \
	echo "go test -tags cluster -race -count=1 -run '^TestCluster' -timeout 15m -v ./relay/ (log: $(CLUSTER_LOG))"; \
	set -o pipefail; start=$$(date +%s); \
	STOMP_GATEWAY_REQUIRE_CLUSTER=1 STOMP_GATEWAY_REQUIRE_CLIENT_TESTS=1 $(GO) test -tags cluster -race -count=1 -run '^TestCluster' -timeout 15m -v ./relay/ 2>&1 \
		| tee $(CLUSTER_LOG) | grep -E --line-buffered $(CLUSTER_LINES); rc=$$?; \
	echo "make test-cluster: $$(( $$(date +%s) - start )) s"; \
	if [ $$rc != 0 ]; then echo "make test-cluster FAILED; the log without its info lines ($(CLUSTER_LOG) has all):"; grep -v '"level":"info"' $(CLUSTER_LOG) | tail -n 300; exit 1; fi

# soak-cluster is TestClusterSoak at full length (not part of make test):
# SOAK of session churn against the cluster, a node killed and restarted
# every SOAK_RESTART_EVERY (by default a sixth of SOAK: 5m for 30m), then
# the gateway's goroutines, open files and RSS compared with their
# baseline. docs/soak.md has the results of runs.
SOAK               ?= 30m
SOAK_RESTART_EVERY ?=
SOAK_CLIENTS       ?= 40
SOAK_LOG           ?= bin/soak-cluster.log

.PHONY: soak-cluster
soak-cluster: client-deps ## churn sessions against the cluster for SOAK (default 30m) with a node restart every SOAK_RESTART_EVERY (a sixth of SOAK), and check for leaks
	@$(CLUSTER_OK) || { echo "the soak needs root, rabbitmq-server, setpriv and prlimit"; exit 1; }
	@mkdir -p $(dir $(SOAK_LOG)); set -o pipefail; \
	STOMP_GATEWAY_SOAK=$(SOAK) STOMP_GATEWAY_SOAK_RESTART_EVERY=$(SOAK_RESTART_EVERY) STOMP_GATEWAY_SOAK_CLIENTS=$(SOAK_CLIENTS) \
		$(GO) test -tags cluster -count=1 -run '^TestClusterSoak$$' -timeout 2h -v ./relay/ 2>&1 \
		| tee $(SOAK_LOG) | grep -E --line-buffered $(CLUSTER_LINES)'|errors: |warnings and errors|^ +[0-9]+ x '

.PHONY: fuzz
fuzz: ## fuzz the STOMP parser and the WebSocket frame decoder for FUZZTIME each (default 150000x inputs; a duration such as 1m works too)
	$(GO) test -run='^$$' -fuzz=FuzzParser -fuzztime=$(FUZZTIME) ./gateway/stomp
	$(GO) test -run='^$$' -fuzz=FuzzWSDecoder -fuzztime=$(FUZZTIME) ./gateway

.PHONY: bench
bench: ## run the benchmarks with allocation counts
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# bench-scale holds N idle sessions, each subscribed to its own
# destination, on a gateway in front of the local RabbitMQ (DESIGN.md §7
# "Capacity" and "Idle sessions"): the gateway gets 20,000 open files, and
# one stomp-bench process opens the sessions, checks each still gets a
# message after SCALE_HOLD, and reports the gateway's RSS per session.
# Its log goes to SCALE_LOG. Not part of `make test`.
N          ?= 19000
SCALE_DEST ?= /topic/bench.user.{n}
SCALE_ACK  ?= auto
SCALE_HOLD ?= 30s
SCALE_ARGS ?=
SCALE_PORT ?= 15680
SCALE_LOG  ?= bin/bench-scale-gateway.log
ADMIN_PORT  = $(shell echo $$(($(SCALE_PORT)+1)))
# READY succeeds when the gateway's admin listener says /readyz 200 (the
# broker connection is up), with bash alone.
READY = (exec 3<>/dev/tcp/127.0.0.1/$(ADMIN_PORT) && printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && read -t 5 -r status <&3 && [[ $$status == *" 200 "* ]]) 2>/dev/null

.PHONY: bench-bin
bench-bin:
	$(GO) build -trimpath -o $(BIN) ./cmd/stomp-gateway
	$(GO) build -trimpath -o bin/stomp-bench ./cmd/stomp-bench

.PHONY: bench-scale
bench-scale: bench-bin ## hold N (default 19000) idle sessions on a gateway in front of the local RabbitMQ and report its RSS per session (SCALE_DEST, SCALE_ACK, SCALE_HOLD, SCALE_ARGS)
	@$(MAKE) --no-print-directory bench-scale-run

# bench-two-nodes is bench-scale on two gateway nodes at once, sharing the
# local RabbitMQ, each with N (default 9000) sessions on topics of its own.
.PHONY: bench-two-nodes
bench-two-nodes: bench-bin ## bench-scale on two gateway nodes at once, N sessions each on topics of their own
	@n=$(if $(filter command line,$(origin N)),$(N),9000); \
	$(MAKE) --no-print-directory bench-scale-run N=$$n SCALE_PORT=15690 SCALE_DEST='/topic/bench.node-a.{n}' SCALE_LOG=bin/bench-node-a.log > bin/bench-node-a.out 2>&1 & a=$$!; \
	$(MAKE) --no-print-directory bench-scale-run N=$$n SCALE_PORT=15700 SCALE_DEST='/topic/bench.node-b.{n}' SCALE_LOG=bin/bench-node-b.log > bin/bench-node-b.out 2>&1 & b=$$!; \
	wait $$a; ra=$$?; wait $$b; rb=$$?; \
	for n in a b; do echo "== node $$n"; grep -v '^\[' bin/bench-node-$$n.out; done; \
	[ $$ra = 0 ] && [ $$rb = 0 ]

# bench-e2e is issue 13's standard set side by side against RabbitMQ's
# Web-STOMP, direct AMQP (stomp-bench amqp-throughput) and the gateway, on
# a private RabbitMQ node that cmd/stomp-bench/e2e/e2e.sh starts without the management
# plugin and removes at the end (root and rabbitmq-server needed; the
# system node is not touched). cmd/stomp-bench/e2e/report writes the results as
# docs/BENCHMARKS.md. BENCH_QUICK=1 is a smoke run written to
# bin/bench-e2e/BENCHMARKS.md; cmd/stomp-bench/e2e/e2e.sh lists the other settings.
# Not part of `make test`.
.PHONY: bench-e2e
bench-e2e: bench-bin ## issue 13's benchmarks vs Web-STOMP and direct AMQP on a private RabbitMQ node, into docs/BENCHMARKS.md (~11 min; BENCH_QUICK=1: ~3 min smoke run)
	@$(SHELL) cmd/stomp-bench/e2e/e2e.sh

.PHONY: bench-scale-run
bench-scale-run:
	@STOMP_GATEWAY_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ STOMP_GATEWAY_AUTH=none \
	STOMP_GATEWAY_LISTEN=127.0.0.1:$(SCALE_PORT) STOMP_GATEWAY_ADMIN_LISTEN=127.0.0.1:$(ADMIN_PORT) STOMP_GATEWAY_DRAIN_DELAY=0s \
		prlimit --nofile=20000:20000 ./$(BIN) >$(SCALE_LOG) 2>&1 & gw=$$!; \
	trap 'kill $$gw 2>/dev/null; wait $$gw 2>/dev/null' EXIT; \
	for i in $$(seq 1 300); do \
		$(READY) && break; \
		if ! kill -0 $$gw 2>/dev/null || [ $$i = 300 ]; then \
			echo "the gateway did not get ready (is RabbitMQ up on 127.0.0.1:5672?); $(SCALE_LOG):"; tail -n 20 $(SCALE_LOG); exit 1; fi; \
		sleep 0.1; \
	done; \
	echo "gateway pid $$gw ($$(grep 'Max open files' /proc/$$gw/limits | tr -s ' ')), log in $(SCALE_LOG)"; \
	./bin/stomp-bench idle -url ws://127.0.0.1:$(SCALE_PORT)/ws -n $(N) -dest '$(SCALE_DEST)' -ack $(SCALE_ACK) \
		-pid $$gw -hold $(SCALE_HOLD) $(SCALE_ARGS); rc=$$?; \
	kill -TERM $$gw; wait $$gw; trap - EXIT; exit $$rc

.PHONY: lint
lint: vet ## gofmt, go vet, and staticcheck/govulncheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed: go install honnef.co/go/tools/cmd/staticcheck@latest"; fi
	@if command -v govulncheck >/dev/null; then govulncheck ./...; else echo "govulncheck not installed: go install golang.org/x/vuln/cmd/govulncheck@latest"; fi

.PHONY: docs
docs: ## regenerate the README's configuration table from the config structs
	@$(GO) run ./cmd/stomp-gateway -config-markdown > .config-table.md
	@awk 'BEGIN{t="";while((getline l < ".config-table.md")>0)t=t l "\n"} /<!-- config:start -->/{print;printf "%s",t;skip=1;next} /<!-- config:end -->/{skip=0} !skip' README.md > README.md.new && mv README.md.new README.md && rm .config-table.md

.PHONY: clean
clean: ## remove build output and installed client dependencies
	rm -rf bin $(STOMPJS)/node_modules $(CHAT)/node_modules $(CHAT)/test-output
