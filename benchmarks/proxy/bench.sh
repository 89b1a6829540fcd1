#!/usr/bin/env bash
# Side-by-side L4 benchmark of Ferry's userspace proxy against a direct connection, kernel DNAT
# (one iptables rule) and HAProxy (mode tcp), in one routed namespace topology, A B A B:
#   (a) iperf3 bulk throughput, 1 and 4 streams
#   (b) short connections per second (connect, request, close) against nginx: wrk with Connection: close
#   (c) keep-alive request latency p50/p99 on one connection: wrk -c1 --latency
# Needs root, iproute2, iptables, haproxy, nginx, iperf3, wrk, python3 and a built proxy-core:
#   mvn -B -q -o -Dferry.target=target-proxy -pl proxy-core -am test-compile
#   mvn -B -q -o -Dferry.target=target-proxy -pl userspace -am dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/proxy-cp.txt
# Usage: benchmarks/proxy/bench.sh [SECONDS_PER_CELL] [ROUNDS]   (prints a markdown table)
# For quick A/B work on one cell, the environment can narrow a run (the recorded runs use neither):
#   BENCH_PATHS="haproxy ferry"   paths to measure (default: direct dnat haproxy ferry; haproxy always runs)
#   BENCH_CELLS="conns latency"   cells to measure (default: iperf1 iperf4 conns latency); others print nan
#   FERRY_JAVA_OPTS="..."         extra JVM options for Ferry (e.g. -XX:StartFlightRecording=...)
#   FERRY_TRANSPORT=io_uring      Ferry's Netty transport: auto (default), io_uring, epoll, nio (the log shows the one used)
#   FERRY_TARGET=target-uring     build folder of the modules (default target-proxy), FERRY_CP_FILE its
#                                 dependency classpath file (default /tmp/proxy-cp.txt); with
#                                 BENCH_FERRY=daemon the launcher's build folder (default target)
# Issue 18's configuration (an independent harness's): BENCH_CONFIG=issue18 sets the defaults below to
#   HAProxy nbthread 1, the real daemon started fresh for the run (`./ferry run --source FILE --mode
#   userspace`, the launcher with its class-data archive, no warm-up), wrk -t2 -c32 cells in the
#   order iperf3 1 stream, 4 streams, keep-alive req/s, 1-connection latency, close (each cell for
#   every path before the next cell), paths haproxy and ferry. Each can still be set on its own:
#   BENCH_HAPROXY_THREADS=1|2       HAProxy's nbthread (default 2; issue18: 1)
#   BENCH_FERRY=classes|daemon      classes: ProxyNodeMain from proxy-core's build (2 event loops);
#                                   daemon: ./ferry run (default classes; issue18: daemon)
#   BENCH_WARMUP=1|0                the 3 s keep-alive warm-up of every path, and Ferry's 5 s of short
#                                   connections and 3 s of iperf3 before the cells (default 1; issue18: 0,
#                                   only one request per path for ARP)
#   BENCH_ORDER=paths|cells         paths: each path runs all its cells, then the next path (default);
#                                   cells: each cell runs on every path, then the next cell (issue18)
#   BENCH_TW_REUSE=0|1|2            net.ipv4.tcp_tw_reuse in the client namespace (default 1: reuse
#                                   TIME_WAIT ports for new connections; 2 is a new namespace's own
#                                   default, loopback only; see RESULTS.md, issue 18)
#   BENCH_FERRY_ROOT=DIR            with BENCH_FERRY=daemon: run DIR/ferry (another build, e.g. for an A/B)
#   BENCH_FERRY_LOG=FILE            keep Ferry's log (stdout and stderr) there
#   BENCH_THREADS=1                 print, per cell, where Ferry's CPU went by thread
#   BENCH_TIME_WAIT=1               print the TIME_WAIT sockets of the client and node namespaces at the end
#   cells: iperf1 iperf4 conns (wrk -t1 -c16, Connection: close) latency (wrk -t1 -c1) keepalive
#          (wrk -t2 -c32 req/s) close (wrk -t2 -c32, Connection: close)
set -euo pipefail
SECS=${1:-5}
ROUNDS=${2:-2}
if [[ "${BENCH_CONFIG:-}" == issue18 ]]; then
  : "${BENCH_HAPROXY_THREADS:=1}" "${BENCH_FERRY:=daemon}" "${BENCH_WARMUP:=0}" "${BENCH_ORDER:=cells}"
  : "${BENCH_PATHS:=haproxy ferry}" "${BENCH_CELLS:=iperf1 iperf4 keepalive latency close}"
elif [[ -n "${BENCH_CONFIG:-}" ]]; then
  echo "BENCH_CONFIG: unknown configuration '$BENCH_CONFIG' (issue18)" >&2; exit 2
fi
HAP_THREADS=${BENCH_HAPROXY_THREADS:-2}
FERRY_KIND=${BENCH_FERRY:-classes}
WARMUP=${BENCH_WARMUP:-1}
ORDER=${BENCH_ORDER:-paths}
TW_REUSE=${BENCH_TW_REUSE:-1}
read -r -a PATHS <<< "${BENCH_PATHS:-direct dnat haproxy ferry}"
read -r -a CELL_LIST <<< "${BENCH_CELLS:-iperf1 iperf4 conns latency}"
CELLS=" ${CELL_LIST[*]} "
for p in "${PATHS[@]}"; do
  case $p in direct|dnat|haproxy|ferry) ;; *) echo "BENCH_PATHS: unknown path '$p' (direct dnat haproxy ferry)" >&2; exit 2;; esac
done
[[ " ${PATHS[*]} " == *" haproxy "* ]] || { echo "BENCH_PATHS must include haproxy (ratios are to it)" >&2; exit 2; }
for c in $CELLS; do
  case $c in iperf1|iperf4|conns|latency|keepalive|close) ;;
    *) echo "BENCH_CELLS: unknown cell '$c' (iperf1 iperf4 conns latency keepalive close)" >&2; exit 2;; esac
done
case $FERRY_KIND in classes|daemon) ;; *) echo "BENCH_FERRY: classes or daemon, got '$FERRY_KIND'" >&2; exit 2;; esac
case $ORDER in paths|cells) ;; *) echo "BENCH_ORDER: paths or cells, got '$ORDER'" >&2; exit 2;; esac
[[ $HAP_THREADS =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_HAPROXY_THREADS: a positive number, got '$HAP_THREADS'" >&2; exit 2; }
has() { [[ "$CELLS" == *" $1 "* ]]; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P=fb$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
C=${P}c; N=${P}n; B=${P}b
WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  for ns in $C $N $B; do ip netns del "$ns" 2>/dev/null || true; done
  if [[ -n "${BENCH_FERRY_LOG:-}" ]]; then cp "$WORK/ferry.log" "$BENCH_FERRY_LOG" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for ns in $C $N $B; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add ${P}c0 netns $C type veth peer name ${P}c1 netns $N
ip link add ${P}b0 netns $B type veth peer name ${P}b1 netns $N
ip -n $C addr add 10.210.1.2/24 dev ${P}c0
for a in 3 4 5; do ip -n $C addr add 10.210.1.$a/24 dev ${P}c0; done
ip -n $N addr add 10.210.1.1/24 dev ${P}c1
ip -n $N addr add 10.211.1.1/24 dev ${P}b1
ip -n $N addr add 10.211.1.3/24 dev ${P}b1   # HAProxy's source towards the backend (Ferry uses .1)
ip -n $B addr add 10.211.1.2/24 dev ${P}b0
for l in "$C ${P}c0" "$N ${P}c1" "$N ${P}b1" "$B ${P}b0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n $B route add default via 10.211.1.1
ip netns exec $N sysctl -qw net.ipv4.ip_forward=1
# The client is wrk: when it closes first (it does as soon as it has parsed a Connection: close
# response, racing the proxy's FIN) its side keeps TIME_WAIT, and at >10k connections/s one source
# address runs out of ephemeral ports within seconds (connects then stall, whatever the path).
# Let the client reuse TIME_WAIT ports (timestamps make it safe), as load generators do.
ip netns exec $C sysctl -qw net.ipv4.tcp_tw_reuse=$TW_REUSE
# One client source address per path (TESTING.md: shared addresses leave TIME_WAIT collisions).
ip -n $C route add 10.211.1.0/24 via 10.210.1.1 src 10.210.1.2   # direct
ip -n $C route add 10.96.1.1/32 via 10.210.1.1 src 10.210.1.3    # kernel DNAT
ip -n $C route add 10.97.1.1/32 via 10.210.1.1 src 10.210.1.4    # HAProxy
ip -n $C route add 10.96.2.1/32 via 10.210.1.1 src 10.210.1.5    # Ferry

# Backend: nginx on :80 (a 3-byte body) and iperf3 on :5201.
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 10.211.1.2:80 backlog=4096; location / { return 200 "ok\n"; } }
}
NGX
ip netns exec $B nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)
ip netns exec $B iperf3 -s -B 10.211.1.2 -p 5201 >/dev/null 2>&1 & PIDS+=($!)

# Kernel DNAT: one rule.
ip netns exec $N iptables -t nat -A PREROUTING -d 10.96.1.1/32 -p tcp -j DNAT --to-destination 10.211.1.2

# HAProxy, mode tcp: one thread per core as Ferry gets (2), or 1 (issue 18's harness).
ip -n $N addr add 10.97.1.1/32 dev lo
cat > "$WORK/haproxy.cfg" <<HAP
global
  nbthread $HAP_THREADS
  maxconn 8000
defaults
  mode tcp
  timeout connect 1s
  timeout client 1h
  timeout server 1h
listen web
  bind 10.97.1.1:80
  server b 10.211.1.2:80 source 10.211.1.3
listen iperf
  bind 10.97.1.1:5201
  server b 10.211.1.2:5201 source 10.211.1.3
HAP
ip netns exec $N haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy.log" 2>&1 & PIDS+=($!)
declare -A PROC=([haproxy]=$!)

# Ferry: the same service as a ClusterIP, from a watched YAML file, on ferry0.
cat > "$WORK/services.yaml" <<YML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec:
  clusterIP: 10.96.2.1
  ports: [{name: http, port: 80, targetPort: 80}, {name: iperf, port: 5201, targetPort: 5201}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80}, {name: iperf, port: 5201}]
endpoints:
- addresses: [10.211.1.2]
  conditions: {ready: true}
YML
if [[ $FERRY_KIND == classes ]]; then
  T=${FERRY_TARGET:-target-proxy}
  CP="$ROOT/userspace/$T/test-classes:$ROOT/userspace/$T/classes:$ROOT/sources/$T/classes:$ROOT/proxy-core/$T/classes:$ROOT/lb-algorithms/$T/classes:$ROOT/conntrack/$T/classes:$(cat "${FERRY_CP_FILE:-/tmp/proxy-cp.txt}")"
  FLAGS=$(grep -o '<ferry.jvm.flags>[^<]*' "$ROOT/pom.xml" | sed 's/<ferry.jvm.flags>//')
  ip netns exec $N java $FLAGS -Xmx512m ${FERRY_JAVA_OPTS:-} -cp "$CP" dev.ferry.proxy.ProxyNodeMain "$WORK/services.yaml" "$WORK/state" \
    node-1 10.210.1.1 2 "${FERRY_TRANSPORT:-auto}" > "$WORK/ferry.log" 2>&1 & PIDS+=($!)
  PROC[ferry]=$!
  for i in $(seq 1 240); do grep -q '^synced .* [1-9]' "$WORK/ferry.log" 2>/dev/null && break; sleep 0.5; done
  grep -q '^synced .* [1-9]' "$WORK/ferry.log" || { echo "Ferry did not start:"; cat "$WORK/ferry.log"; exit 1; }
  echo "ferry: $(grep -m1 '^interface' "$WORK/ferry.log")" >&2
else
  # The real daemon, as an operator starts it (the launcher maps its class-data archive). The
  # archive is made on a build's first `run`: make it now, so the measured start is a plain one.
  export FERRY_TARGET=${FERRY_TARGET:-target}
  FR=${BENCH_FERRY_ROOT:-$ROOT}
  jsa="$FR/cli/$FERRY_TARGET/ferry-run.jsa"
  if [[ ! ( -f "$jsa" && "$jsa" -nt "$FR/cli/$FERRY_TARGET/ferry.jar" ) ]]; then
    ip netns exec $N "$FR/ferry" run --source "$WORK/services.yaml" --mode userspace --node-name node-1 \
      --state-dir "$WORK/state-cds" --exit-after 1 > "$WORK/ferry-cds.log" 2>&1 || true
  fi
  t0=$(date +%s%N)
  ip netns exec $N "$FR/ferry" run --source "$WORK/services.yaml" --mode userspace \
    --node-name node-1 --state-dir "$WORK/state" --proxy-transport "${FERRY_TRANSPORT:-auto}" \
    > "$WORK/ferry.log" 2>&1 & PIDS+=($!)
  PROC[ferry]=$!
  for i in $(seq 1 600); do grep -q 'listeners opened' "$WORK/ferry.log" 2>/dev/null && break; sleep 0.05; done
  grep -q 'listeners opened' "$WORK/ferry.log" || { echo "Ferry did not start:"; cat "$WORK/ferry.log"; exit 1; }
  echo "ferry: daemon (./ferry run), listeners open $(( ($(date +%s%N) - t0) / 1000000 )) ms after launch;" \
    "$(grep -m1 -o 'userspace proxy on [a-z_]* transport' "$WORK/ferry.log")" >&2
fi
sleep 1
ip netns exec $N ss -ltn | grep -q '10.97.1.1:80 ' || { echo "HAProxy is not listening:"; cat "$WORK/haproxy.log"; exit 1; }
ip netns exec $B ss -ltn | grep -q '10.211.1.2:80 ' || { echo "nginx is not listening:"; cat "$WORK/nginx/error.log"; exit 1; }

declare -A VIP=([direct]=10.211.1.2 [dnat]=10.96.1.1 [haproxy]=10.97.1.1 [ferry]=10.96.2.1)
C_EXEC="ip netns exec $C"

if [[ $WARMUP == 1 ]]; then
  # Warm-up (JIT for Ferry: accept and relay paths; ARP for everyone).
  for p in "${PATHS[@]}"; do $C_EXEC wrk -t1 -c8 -d3s "http://${VIP[$p]}/" >/dev/null; done
  $C_EXEC wrk -t1 -c8 -d5s -H 'Connection: close' "http://${VIP[ferry]}/" >/dev/null
  if has iperf1 || has iperf4; then $C_EXEC iperf3 -c "${VIP[ferry]}" -p 5201 -t 3 >/dev/null; fi
else
  # No warm-up: one request per path (ARP), so the first cell does not time the neighbour look-up.
  for p in "${PATHS[@]}"; do $C_EXEC python3 -c 'import socket,sys; socket.create_connection((sys.argv[1],80),2).close()' "${VIP[$p]}"; done
fi

iperf() { # path streams
  $C_EXEC iperf3 -c "${VIP[$1]}" -p 5201 -t "$SECS" -P "$2" -J 2>/dev/null \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))'
}
rate() { # path threads connections [wrk options]: requests/s (with Connection: close, connections/s)
  local p=$1 t=$2 c=$3; shift 3
  $C_EXEC wrk -t"$t" -c"$c" -d"${SECS}s" "$@" "http://${VIP[$p]}/" | awk '/Requests\/sec/ {printf "%d\n", $2}'
}
latency() { # prints p50 p99 in µs
  $C_EXEC wrk -t1 -c1 -d"${SECS}s" --latency "http://${VIP[$1]}/" | python3 -c '
import re,sys
def us(v):
    m=re.match(r"([\d.]+)(us|ms|s)",v); x=float(m.group(1)); return x*{"us":1,"ms":1e3,"s":1e6}[m.group(2)]
d={}
for l in sys.stdin:
    m=re.match(r"\s+(50|99)(?:\.0+)?%\s+(\S+)",l)
    if m: d[m.group(1)]=us(m.group(2))
print(round(d["50"]),round(d["99"]))'
}
cpu_ms() { # CPU time (user + system) of a path's proxy process so far, in ms; 0 for direct and dnat
  local pid=${PROC[$1]:-}
  [[ -n $pid ]] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d\n", ($12 + $13) * 1000 / hz }' "/proc/$pid/stat"
}
thread_ms() { # CPU ms of each of Ferry's threads so far, summed by name ("ferry-io-1-2" counts as "ferry-io")
  for t in /proc/${PROC[ferry]}/task/*; do
    awk -v hz="$(getconf CLK_TCK)" '{ n = $0; sub(/^[^(]*\(/, "", n); sub(/\).*$/, "", n); sub(/^.*\) /, "");
      gsub(/ /, "_", n); sub(/-[0-9]+-[0-9]+$/, "", n); sub(/#[0-9]+$/, "", n); printf "%s %d\n", n, ($12 + $13) * 1000 / hz }' "$t/stat" 2>/dev/null
  done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
}
cell() { # round path cell: one measurement, one line "round path cell value..." in $OUT
  local v c0 t0=""
  c0=$(cpu_ms "$2")
  if [[ -n "${BENCH_THREADS:-}" && $2 == ferry ]]; then t0=$(thread_ms); fi
  case $3 in
    iperf1) v=$(iperf "$2" 1);;
    iperf4) v=$(iperf "$2" 4);;
    conns) v=$(rate "$2" 1 16 -H 'Connection: close');;
    keepalive) v=$(rate "$2" 2 32);;
    close) v=$(rate "$2" 2 32 -H 'Connection: close');;
    latency) v=$(latency "$2");;
  esac
  echo "$1 $2 $3 $v" | tee -a "$OUT" >&2
  if [[ -n $t0 ]]; then
    # Where Ferry's CPU went in this cell, by thread (event loops, JIT compilers, GC, ...); BENCH_THREADS=1.
    join -a2 -e0 -o 0,1.2,2.2 <(echo "$t0") <(thread_ms) | awk '$3 - $2 >= 20 { printf "%s %d ms, ", $1, $3 - $2 }' \
      | sed 's/^/#   ferry threads: /; s/, $/\n/' >&2
  fi
  # The proxy's CPU per connection (close/conns cells): a figure the machine's load disturbs much
  # less than the rate (the two cores are shared with the client, the backend and other work).
  if [[ ${PROC[$2]:-} && ( $3 == close || $3 == conns ) ]]; then
    echo "# $1 $2 $3: proxy CPU $(( $(cpu_ms "$2") - c0 )) ms for $(( v * SECS )) connections," \
      "$(awk -v c=$(( $(cpu_ms "$2") - c0 )) -v n=$(( v * SECS )) 'BEGIN { printf "%.1f", c * 1000 / n }') µs each" >&2
  fi
}

echo "# load before: $(uptime)" >&2
echo "# haproxy nbthread $HAP_THREADS, ferry $FERRY_KIND, warm-up $WARMUP, order $ORDER, client tcp_tw_reuse $TW_REUSE," \
  "$SECS s cells, $ROUNDS rounds, cells: ${CELL_LIST[*]}" >&2
OUT="$WORK/results.txt"
: > "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  if [[ $ORDER == paths ]]; then
    for p in "${PATHS[@]}"; do for c in "${CELL_LIST[@]}"; do cell "$r" "$p" "$c"; done; done
  else
    for c in "${CELL_LIST[@]}"; do for p in "${PATHS[@]}"; do cell "$r" "$p" "$c"; done; done
  fi
done
echo "# load after: $(uptime)" >&2
if [[ -n "${BENCH_TIME_WAIT:-}" ]]; then
  echo "# TIME_WAIT sockets at the end: client $($C_EXEC ss -tan state time-wait | tail -n +2 | wc -l)," \
    "node $(ip netns exec $N ss -tan state time-wait | tail -n +2 | wc -l)" >&2
fi
python3 - "$OUT" "${CELL_LIST[@]}" <<'PY'
import sys, collections
cells = sys.argv[2:]
head = {"iperf1": "iperf3 1 stream Gbit/s", "iperf4": "4 streams Gbit/s", "conns": "short conn/s (wrk -t1 -c16)",
        "keepalive": "keep-alive req/s (wrk -t2 -c32)", "close": "short conn/s (wrk -t2 -c32)",
        "latency": "keep-alive p50 µs | p99 µs | p99 added vs direct µs"}
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    r, p, c, *v = line.split()
    rows[p][c].append([float(x) for x in v])
mean = {p: {c: [sum(x[i] for x in v) / len(v) for i in range(len(v[0]))] for c, v in cs.items()} for p, cs in rows.items()}
h = mean["haproxy"]
print("| path | " + " | ".join(head[c] for c in cells) + " | rounds |")
print("|---" * (1 + sum(3 if c == "latency" else 1 for c in cells) + 1) + "|")
for p in [p for p in ["direct", "dnat", "haproxy", "ferry"] if p in mean]:
    out = []
    for c in cells:
        m = mean[p][c]
        if c == "latency":
            d = mean.get("direct", {}).get("latency")
            out.append(f"{m[0]:.0f} | {m[1]:.0f} | " + (f"{m[1]-d[1]:+.0f}" if d else "—"))
        else:
            fmt = f"{m[0]:.2f}" if c.startswith("iperf") else f"{m[0]:.0f}"
            out.append(f"{fmt} ({m[0]/h[c][0]:.2f}×)")
    per = "; ".join(c + " " + "/".join("~".join(f"{x:g}" for x in v) for v in rows[p][c]) for c in cells)
    print(f"| {p} | " + " | ".join(out) + f" | {per} |")
PY
