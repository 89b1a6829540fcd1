#!/usr/bin/env bash
# Side-by-side L4 benchmark of Ferry's userspace proxy against a direct connection, kernel DNAT
# (one iptables rule) and HAProxy (mode tcp), in one routed namespace topology, A B A B:
#   (a) iperf3 bulk throughput, 1 and 4 streams
#   (b) short connections per second (connect, request, close) against nginx: wrk with Connection: close
#   (c) keep-alive request latency p50/p99 on one connection: wrk -c1 --latency
# Needs root, iproute2, iptables, haproxy, nginx, iperf3, wrk, python3 and a built proxy-core:
#   mvn -B -q -o -Dferry.target=target-proxy -pl proxy-core -am test-compile
#   mvn -B -q -o -Dferry.target=target-proxy -pl proxy-core dependency:build-classpath -Dmdep.outputFile=/tmp/proxy-cp.txt
# Usage: benchmarks/proxy/bench.sh [SECONDS_PER_CELL] [ROUNDS]   (prints a markdown table)
# For quick A/B work on one cell, the environment can narrow a run (the recorded runs use neither):
#   BENCH_PATHS="haproxy ferry"   paths to measure (default: direct dnat haproxy ferry; haproxy always runs)
#   BENCH_CELLS="conns latency"   cells to measure (default: iperf1 iperf4 conns latency); others print nan
#   FERRY_JAVA_OPTS="..."         extra JVM options for Ferry (e.g. -XX:StartFlightRecording=...)
#   FERRY_TRANSPORT=io_uring      Ferry's Netty transport: auto (default), io_uring, epoll, nio (the log shows the one used)
#   FERRY_TARGET=target-uring     build folder of the modules (default target-proxy), FERRY_CP_FILE its
#                                 dependency classpath file (default /tmp/proxy-cp.txt)
set -euo pipefail
SECS=${1:-5}
ROUNDS=${2:-2}
read -r -a PATHS <<< "${BENCH_PATHS:-direct dnat haproxy ferry}"
CELLS=" ${BENCH_CELLS:-iperf1 iperf4 conns latency} "
for p in "${PATHS[@]}"; do
  case $p in direct|dnat|haproxy|ferry) ;; *) echo "BENCH_PATHS: unknown path '$p' (direct dnat haproxy ferry)" >&2; exit 2;; esac
done
[[ " ${PATHS[*]} " == *" haproxy "* ]] || { echo "BENCH_PATHS must include haproxy (ratios are to it)" >&2; exit 2; }
for c in $CELLS; do
  case $c in iperf1|iperf4|conns|latency) ;; *) echo "BENCH_CELLS: unknown cell '$c' (iperf1 iperf4 conns latency)" >&2; exit 2;; esac
done
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
ip netns exec $C sysctl -qw net.ipv4.tcp_tw_reuse=1
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

# HAProxy, mode tcp, one thread per core as Ferry gets.
ip -n $N addr add 10.97.1.1/32 dev lo
cat > "$WORK/haproxy.cfg" <<HAP
global
  nbthread 2
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
T=${FERRY_TARGET:-target-proxy}
CP="$ROOT/proxy-core/$T/test-classes:$ROOT/proxy-core/$T/classes:$ROOT/lb-algorithms/$T/classes:$ROOT/conntrack/$T/classes:$(cat "${FERRY_CP_FILE:-/tmp/proxy-cp.txt}")"
FLAGS=$(grep -o '<ferry.jvm.flags>[^<]*' "$ROOT/pom.xml" | sed 's/<ferry.jvm.flags>//')
ip netns exec $N java $FLAGS -Xmx512m ${FERRY_JAVA_OPTS:-} -cp "$CP" dev.ferry.proxy.ProxyNodeMain "$WORK/services.yaml" "$WORK/state" \
  node-1 10.210.1.1 2 "${FERRY_TRANSPORT:-auto}" > "$WORK/ferry.log" 2>&1 & PIDS+=($!)
for i in $(seq 1 240); do grep -q '^synced .* [1-9]' "$WORK/ferry.log" 2>/dev/null && break; sleep 0.5; done
grep -q '^synced .* [1-9]' "$WORK/ferry.log" || { echo "Ferry did not start:"; cat "$WORK/ferry.log"; exit 1; }
echo "ferry: $(grep -m1 '^interface' "$WORK/ferry.log")" >&2
sleep 1
ip netns exec $N ss -ltn | grep -q '10.97.1.1:80 ' || { echo "HAProxy is not listening:"; cat "$WORK/haproxy.log"; exit 1; }
ip netns exec $B ss -ltn | grep -q '10.211.1.2:80 ' || { echo "nginx is not listening:"; cat "$WORK/nginx/error.log"; exit 1; }

declare -A VIP=([direct]=10.211.1.2 [dnat]=10.96.1.1 [haproxy]=10.97.1.1 [ferry]=10.96.2.1)
C_EXEC="ip netns exec $C"

# Warm-up (JIT for Ferry: accept and relay paths; ARP for everyone).
for p in "${PATHS[@]}"; do $C_EXEC wrk -t1 -c8 -d3s "http://${VIP[$p]}/" >/dev/null; done
$C_EXEC wrk -t1 -c8 -d5s -H 'Connection: close' "http://${VIP[ferry]}/" >/dev/null
if has iperf1 || has iperf4; then $C_EXEC iperf3 -c "${VIP[ferry]}" -p 5201 -t 3 >/dev/null; fi

iperf() { # path streams
  $C_EXEC iperf3 -c "${VIP[$1]}" -p 5201 -t "$SECS" -P "$2" -J 2>/dev/null \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9,2))'
}
conns() {
  $C_EXEC wrk -t1 -c16 -d"${SECS}s" -H 'Connection: close' "http://${VIP[$1]}/" \
    | awk '/Requests\/sec/ {printf "%d\n", $2}'
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

echo "# load before: $(uptime)" >&2
OUT="$WORK/results.txt"
for r in $(seq 1 "$ROUNDS"); do
  for p in "${PATHS[@]}"; do
    t1=nan; t4=nan; c=nan; p50=nan; p99=nan
    if has iperf1; then t1=$(iperf "$p" 1); fi
    if has iperf4; then t4=$(iperf "$p" 4); fi
    if has conns; then c=$(conns "$p"); fi
    if has latency; then read -r p50 p99 < <(latency "$p"); fi
    echo "$r $p $t1 $t4 $c $p50 $p99" | tee -a "$OUT" >&2
  done
done
echo "# load after: $(uptime)" >&2
python3 - "$OUT" <<'PY'
import sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r, p, t1, t4, c, p50, p99 = line.split()
    rows[p].append((float(t1), float(t4), float(c), float(p50), float(p99)))
mean = {p: [sum(x[i] for x in v) / len(v) for i in range(5)] for p, v in rows.items()}
h = mean["haproxy"]; d = mean.get("direct", [float("nan")] * 5)
print("| path | iperf3 1 stream Gbit/s | 4 streams Gbit/s | short conn/s | keep-alive p50 µs | p99 µs | p99 added vs direct µs | rounds (1 stream / 4 / conn/s / p50 / p99) |")
print("|---|---|---|---|---|---|---|---|")
for p in [p for p in ["direct", "dnat", "haproxy", "ferry"] if p in mean]:
    m = mean[p]
    per = "; ".join("/".join(f"{x:g}" for x in v) for v in rows[p])
    print(f"| {p} | {m[0]:.2f} ({m[0]/h[0]:.2f}× HAProxy) | {m[1]:.2f} ({m[1]/h[1]:.2f}×) | {m[2]:.0f} ({m[2]/h[2]:.2f}×) "
          f"| {m[3]:.0f} | {m[4]:.0f} | {m[4]-d[4]:+.0f} | {per} |")
PY
