#!/usr/bin/env bash
# cmd/stomp-bench/e2e/e2e.sh is `make bench-e2e`: issue 13's standard set, run side by
# side against RabbitMQ's Web-STOMP, a Go AMQP client (direct AMQP) and
# stomp-gateway, all on one private RabbitMQ node started for the run
# without the management plugin (it halves Web-STOMP's speed, DESIGN.md §7).
# Every result is stomp-bench JSON in $BENCH_RESULTS; cmd/stomp-bench/e2e/report turns
# them into the Markdown table of $BENCH_OUT.
#
# Needs Linux, root (the node runs as the rabbitmq user, each process gets
# 20,000 open files) and rabbitmq-server with rabbitmq_web_stomp. The node
# has its own name, ports and data folder; it is stopped and its data
# removed at the end, also when the run fails or is interrupted. The system
# node (rabbit@host on 5672) is not touched.
#
# Settings, from the environment:
#   BENCH_QUICK=1        smoke run of about 3 minutes: 3 s runs, 1,000 idle sessions, one round
#   BENCH_OUT            Markdown file (default docs/BENCHMARKS.md; bin/bench-e2e/BENCHMARKS.md when quick)
#   BENCH_RESULTS        JSON results, logs and profiles (default bin/bench-e2e; emptied first)
#   BENCH_ROUNDS         rounds of the throughput set, interleaved (default 2; quick 1)
#   BENCH_DURATION       measured seconds of each throughput, latency and fan-out run (default 10; quick 3)
#   BENCH_IDLE_N         idle sessions on each server (default 9000; quick 1000)
#   BENCH_AMQP_PORT      the node's AMQP port (5699); BENCH_WEBSTOMP_PORT (15699), BENCH_DIST_PORT (25699)
#   BENCH_GATEWAY_PORT   the gateway's WebSocket port (15697; its admin listener is the next one)
set -uo pipefail
cd "$(dirname "$0")/../../.."

QUICK=${BENCH_QUICK:-}
if [ -n "$QUICK" ] && [ "$QUICK" != 0 ]; then
	MODE=quick
	DUR=${BENCH_DURATION:-3} WARM=1 DRAIN=5 ROUNDS=${BENCH_ROUNDS:-1}
	IDLE_N=${BENCH_IDLE_N:-1000} HOLD=3 CONNECT_DUR=3 PROFILE_DUR=3
	OUT=${BENCH_OUT:-bin/bench-e2e/BENCHMARKS.md}
else
	MODE=default
	DUR=${BENCH_DURATION:-10} WARM=2 DRAIN=15 ROUNDS=${BENCH_ROUNDS:-2}
	IDLE_N=${BENCH_IDLE_N:-9000} HOLD=10 CONNECT_DUR=10 PROFILE_DUR=8
	OUT=${BENCH_OUT:-docs/BENCHMARKS.md}
fi
RES=${BENCH_RESULTS:-bin/bench-e2e}
AMQP_PORT=${BENCH_AMQP_PORT:-5699}
WS_PORT=${BENCH_WEBSTOMP_PORT:-15699}
DIST_PORT=${BENCH_DIST_PORT:-25699}
GW_PORT=${BENCH_GATEWAY_PORT:-15697}
GW_ADMIN=$((GW_PORT + 1))
NODE=sgbench$AMQP_PORT@$(hostname -s)
AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/
WS_URL=ws://127.0.0.1:$WS_PORT/ws
GW_URL=ws://127.0.0.1:$GW_PORT/ws
FILES=20000 # the hard nofile limit on these machines

die() {
	echo "bench-e2e: $*" >&2
	exit 1
}

# listening PORT succeeds when something accepts connections on it.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_get PORT PATH prints the body of an HTTP/1.0 GET, with bash alone.
http_get() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
		sed '1,/^\r$/d' <&3
	) 2>/dev/null
}

[ "$(uname -s)" = Linux ] || die "needs Linux (/proc and the rabbitmq user)"
[ "$(id -u)" = 0 ] || die "needs root: the private RabbitMQ node runs as the rabbitmq user"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || die "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
id rabbitmq >/dev/null 2>&1 || die "no rabbitmq user"
for p in "$AMQP_PORT" "$WS_PORT" "$DIST_PORT" "$GW_PORT" "$GW_ADMIN"; do
	listening "$p" && die "port $p is in use (set BENCH_AMQP_PORT, BENCH_WEBSTOMP_PORT, BENCH_DIST_PORT or BENCH_GATEWAY_PORT)"
done
[ -x bin/stomp-gateway ] && [ -x bin/stomp-bench ] || die "build bin/stomp-gateway and bin/stomp-bench first (make bench-bin)"

rm -rf "$RES"
mkdir -p "$RES"
TMP=$(mktemp -d /tmp/stomp-gateway-bench.XXXXXX)
D=$TMP/node
GW=

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$GW" ]; then
		kill -TERM "$GW" 2>/dev/null
		wait "$GW" 2>/dev/null
	fi
	if [ -f "$D/pid" ]; then
		local pid
		pid=$(cat "$D/pid")
		timeout 60 rabbitmqctl -n "$NODE" stop "$D/pid" >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-e2e ($MODE): node $NODE, AMQP $AMQP_PORT, Web-STOMP $WS_PORT, gateway $GW_PORT; results in $RES; load average $LOAD_START"

# The private node, as reference/private-rabbitmq-nodes.md starts one.
mkdir -p "$D/mnesia" "$D/log"
cat >"$D/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
web_stomp.tcp.port = $WS_PORT
web_stomp.tcp.ip = 127.0.0.1
web_stomp.max_connections = infinity
CONF
echo '[rabbitmq_web_stomp].' >"$D/enabled_plugins"
: >"$D/env.conf"
chown -R rabbitmq:rabbitmq "$TMP"
prlimit --nofile=$FILES:$FILES setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
	env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/var/lib/rabbitmq \
	RABBITMQ_NODENAME="$NODE" RABBITMQ_DIST_PORT="$DIST_PORT" \
	RABBITMQ_CONFIG_FILE="$D/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$D/enabled_plugins" \
	RABBITMQ_MNESIA_BASE="$D/mnesia" RABBITMQ_LOG_BASE="$D/log" RABBITMQ_PID_FILE="$D/pid" \
	RABBITMQ_CONF_ENV_FILE="$D/env.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$D/advanced.config" \
	/usr/lib/rabbitmq/bin/rabbitmq-server >"$D/stdout.log" 2>&1 &
if ! rabbitmqctl -n "$NODE" wait --timeout 90 "$D/pid" >/dev/null 2>&1 || ! listening "$WS_PORT"; then
	tail -n 30 "$D/stdout.log" >&2
	die "the private RabbitMQ node did not start"
fi
BEAM=$(cat "$D/pid")
RABBITMQ_VERSION=$(rabbitmqctl -n "$NODE" status 2>/dev/null | sed -n 's/^RabbitMQ version: //p')
ERLANG_VERSION=$(rabbitmqctl -n "$NODE" eval 'rabbit_misc:otp_release().' 2>/dev/null | tr -d '"')
echo "RabbitMQ $RABBITMQ_VERSION (Erlang/OTP $ERLANG_VERSION) up, beam.smp pid $BEAM, plugins: $(cat "$D/enabled_plugins")"

# A fresh gateway for every run, so that CPU time and RSS are its own.
gw_start() {
	STOMP_GATEWAY_AMQP_URL=$AMQP_URL STOMP_GATEWAY_AUTH=none \
		STOMP_GATEWAY_LISTEN=127.0.0.1:$GW_PORT STOMP_GATEWAY_ADMIN_LISTEN=127.0.0.1:$GW_ADMIN \
		STOMP_GATEWAY_DRAIN_DELAY=0s STOMP_GATEWAY_PPROF=true STOMP_GATEWAY_LOG_FORMAT=json \
		prlimit --nofile=$FILES:$FILES ./bin/stomp-gateway >>"$RES/gateway.log" 2>&1 &
	GW=$!
	for _ in $(seq 1 300); do
		[ "$(http_get "$GW_ADMIN" /readyz)" = ready ] && return 0
		kill -0 "$GW" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$RES/gateway.log" >&2
	die "the gateway did not get ready"
}

gw_stop() {
	kill -TERM "$GW"
	wait "$GW" 2>/dev/null
	GW=
}

# bench NAME ARGS... is one stomp-bench run: its JSON in $RES/NAME.json,
# progress and table in $RES/NAME.log. A run that failed its own checks
# (exit 1: a backlog left, sessions lost) still has a result; bad usage
# (exit 2) ends the whole run.
bench() {
	local name=$1 t0=$SECONDS rc=0
	shift
	prlimit --nofile=$FILES:$FILES ./bin/stomp-bench "$@" -json >"$RES/$name.json" 2>"$RES/$name.log" || rc=$?
	if [ "$rc" -ge 2 ]; then
		tail -n 5 "$RES/$name.log" >&2
		die "$name: stomp-bench exit $rc"
	fi
	printf '  %-28s %4ds  %s\n' "$name" $((SECONDS - t0)) "$(grep -m1 '^result:' "$RES/$name.log")"
}

# gw_bench NAME ARGS... is bench against a fresh gateway, watching its CPU
# time and the broker's.
gw_bench() {
	local name=$1
	shift
	gw_start
	bench "$name" "$@" -url "$GW_URL" -pid "$GW" -broker-pid "$BEAM"
	gw_stop
}

# ws_bench NAME ARGS... is bench against Web-STOMP, then waits until the
# node has deleted the queues of that run's subscriptions (thousands after
# the idle run, deep backlogs after a fan-out): that cleanup keeps the node
# busy for seconds and would otherwise land on the next run.
ws_bench() {
	local name=$1 n=0
	shift
	bench "$name" "$@" -url "$WS_URL"
	for _ in $(seq 1 120); do
		n=$(rabbitmqctl -n "$NODE" list_queues name --quiet --no-table-headers 2>/dev/null | grep -c '^stomp-subscription-')
		[ "$n" = 0 ] && return
		sleep 1
	done
	echo "  ($n Web-STOMP subscription queues still there after 2 minutes; going on)"
}

# profile NAME URL-PATH saves a gateway profile while a run goes on, and
# its top functions: by their own time, then with what they call.
profile() {
	local pb=$RES/profile-$1.pb.gz
	go tool pprof -proto -output "$pb" "http://127.0.0.1:$GW_ADMIN$2" >/dev/null 2>&1 || return
	{
		go tool pprof -top -nodecount=15 bin/stomp-gateway "$pb"
		echo
		go tool pprof -top -cum -nodecount=25 bin/stomp-gateway "$pb" | sed -n '/flat%/,$p'
	} >"$RES/profile-$1.txt" 2>/dev/null
}

TP="-duration ${DUR}s -warmup ${WARM}s -drain ${DRAIN}s"

echo "idle sessions: $IDLE_N each, CONNECT + 1 SUBSCRIBE to a topic of their own, held ${HOLD}s"
# Web-STOMP first, while the node's memory is fresh; its RSS is beam.smp's.
IDLE="idle -n $IDLE_N -hold ${HOLD}s -dest /topic/bench.idle.{n}"
ws_bench idle.webstomp $IDLE -pid "$BEAM"
gw_start
# Halfway through the hold: the gateway's goroutines and heap with every
# session idle, for the memory profile.
(
	for _ in $(seq 1 1200); do
		grep -q holding "$RES/idle.gateway.log" 2>/dev/null && break
		[ -s "$RES/idle.gateway.json" ] && break # the run ended first
		sleep 0.1
	done
	sleep $((HOLD / 2))
	http_get "$GW_ADMIN" /metrics >"$RES/idle.gateway.metrics"
	profile idle-heap /debug/pprof/heap
) &
watcher=$!
bench idle.gateway $IDLE -url "$GW_URL" -pid "$GW"
wait $watcher
gw_stop

echo "connects: CONNECT, CONNECTED, DISCONNECT in a loop, 32 at once, ${CONNECT_DUR}s"
ws_bench connects.webstomp connects -concurrency 32 -duration "${CONNECT_DUR}s"
gw_start
bench connects.gateway connects -concurrency 32 -duration "${CONNECT_DUR}s" -url "$GW_URL"
gw_stop

for r in $(seq 1 "$ROUNDS"); do
	echo "throughput, round $r of $ROUNDS: 128-byte bodies, ${DUR}s after ${WARM}s of warmup"
	for shape in queue11 queue44 topic110 queue11r; do
		case $shape in
		queue11) args="-publishers 1 -subscribers 1" dest=/queue/bench.$shape ;;
		queue44) args="-publishers 4 -subscribers 4" dest=/queue/bench.$shape ;;
		topic110) args="-publishers 1 -subscribers 10" dest=/topic/bench.$shape ;;
		queue11r) args="-publishers 1 -subscribers 1 -receipts" dest=/queue/bench.$shape ;;
		esac
		# Each target its own destination: no backlog of one run reaches another.
		ws_bench "$shape.webstomp.r$r" throughput $args $TP -dest "$dest.webstomp.r$r" -pid "$BEAM"
		if [ "$shape" != queue11r ]; then # direct AMQP always publishes with confirms
			bench "$shape.amqp.r$r" amqp-throughput $args $TP -dest "$dest.amqp.r$r" -url "$AMQP_URL" -broker-pid "$BEAM"
		fi
		case $shape in
		queue11 | queue44) # direct AMQP asking of RabbitMQ what the gateway asks (report: asksFlags)
			bench "$shape.amqpasks.r$r" amqp-throughput $args $TP -dest "$dest.amqpasks.r$r" -url "$AMQP_URL" -broker-pid "$BEAM" \
				-ack multiple -ack-every 200 -prefetch 1000 -mandatory -header x-stomp-user:guest
			;;
		esac
		gw_bench "$shape.gateway.r$r" throughput $args $TP -dest "$dest.gateway.r$r"
	done
done

echo "the machine's floor: a wake from idle at 2,000/s, 300-byte loopback writes to 1,000 sockets x 100/s"
bench floor.machine floor -duration "${DUR}s" -wake-rate 2000 -sockets 1000 -write-rate 100

echo "CPU per message at 2,000 msg/s: /queue 1 pub / 1 sub, open loop"
LAT="latency -rate 2000 -subscribers 1 -duration ${DUR}s -warmup ${WARM}s"
ws_bench cpu2000.webstomp $LAT -dest /queue/bench.cpu2000.webstomp -pid "$BEAM"
gw_bench cpu2000.gateway $LAT -dest /queue/bench.cpu2000.gateway

echo "fan-out: one topic, 1,000 subscribers"
FAN="fanout -subscribers 1000 -duration ${DUR}s -warmup ${WARM}s -drain ${DRAIN}s"
ws_bench fanout100.webstomp $FAN -rate 100 -dest /topic/bench.fanout100.webstomp -pid "$BEAM"
for rate in 100 200 300; do
	gw_bench "fanout$rate.gateway" $FAN -rate $rate -dest "/topic/bench.fanout$rate.gateway"
done

echo "gateway CPU profiles, ${PROFILE_DUR}s each (separate runs, so profiling does not touch the numbers above)"
PROF="-duration $((PROFILE_DUR + 2))s -warmup ${WARM}s -drain ${DRAIN}s"
for p in cpu2000 saturation fanout200 connects; do
	case $p in
	cpu2000) args="latency -rate 2000 -subscribers 1 -dest /queue/bench.profile.cpu2000 $PROF" ;;
	saturation) args="throughput -publishers 1 -subscribers 1 -dest /queue/bench.profile.saturation $PROF" ;;
	fanout200) args="fanout -subscribers 1000 -rate 200 -dest /topic/bench.profile.fanout200 $PROF" ;;
	connects) args="connects -concurrency 32 -duration $((PROFILE_DUR + 2))s" ;;
	esac
	gw_start
	(
		sleep 1
		# fanout's subscribers take a while to connect; start once they are in.
		if [ "$p" = fanout200 ]; then
			for _ in $(seq 1 300); do grep -q 'sent [1-9]' "$RES/profile-run-$p.log" 2>/dev/null && break; sleep 0.1; done
		fi
		profile "$p" "/debug/pprof/profile?seconds=$PROFILE_DUR"
	) &
	watcher=$!
	bench "profile-run-$p" $args -url "$GW_URL"
	wait $watcher
	gw_stop
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$SECONDS
echo "writing $OUT (${ELAPSED}s so far; load average $LOAD_END)"
go run ./cmd/stomp-bench/e2e/report -results "$RES" -out "$OUT" -mode "$MODE" -started "$START" -elapsed "${ELAPSED}s" \
	-rabbitmq "$RABBITMQ_VERSION" -erlang "$ERLANG_VERSION" -load-start "$LOAD_START" -load-end "$LOAD_END" \
	-rounds "$ROUNDS" -duration "${DUR}s" -idle-n "$IDLE_N" -commit "$COMMIT" || die "cmd/stomp-bench/e2e/report failed"
echo "bench-e2e ($MODE) done in ${SECONDS}s: $OUT"
