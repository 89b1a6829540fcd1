#!/usr/bin/env bash
# Queries/s of Ferry's DNS responder versus NSD (Debian's authoritative server) serving the same
# zone from a file, both on 127.0.0.1, measured with dnsperf in one run, alternating A B A B.
# Needs: nsd dnsperf (apt-get install -y nsd dnsperf), the benchmarks jar built with
#   flock /tmp/ferry-bench.lock mvn -B -q -o -Dferry.target=target-dns -pl benchmarks -am package -DskipTests
# Usage: benchmarks/dns/run.sh [SERVICES] [SECONDS] [ROUNDS] [SERVER_THREADS]
set -euo pipefail
SERVICES=${1:-10000}
SECONDS_PER=${2:-10}
ROUNDS=${3:-2}
THREADS=${4:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JAR=${JAR:-$ROOT/benchmarks/target-dns/benchmarks.jar}
WORK=$(mktemp -d /tmp/ferry-dns-bench.XXXXXX)
FERRY_PORT=${FERRY_PORT:-15353}
NSD_PORT=${NSD_PORT:-15354}
FERRY_PID=""; NSD_PID=""
# Ferry's JVM flags come from the root pom (ferry.jvm.flags) unless the caller exports them.
if [ -z "${FERRY_JVM_FLAGS:-}" ]; then
  FERRY_JVM_FLAGS=$(sed -n 's:.*<ferry.jvm.flags>\(.*\)</ferry.jvm.flags>.*:\1:p' "$ROOT/pom.xml")
fi
cleanup() {
  [ -n "$FERRY_PID" ] && kill "$FERRY_PID" 2>/dev/null && wait "$FERRY_PID" 2>/dev/null || true
  [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

java $FERRY_JVM_FLAGS -cp "$JAR" dev.ferry.bench.dns.ServeZone "$WORK" "$SERVICES" "$FERRY_PORT" "$THREADS" \
  > "$WORK/ferry.log" 2>&1 &
FERRY_PID=$!
for _ in $(seq 1 120); do grep -q READY "$WORK/ferry.log" 2>/dev/null && break; sleep 0.5; done
grep -q READY "$WORK/ferry.log" || { echo "ferry did not start:"; cat "$WORK/ferry.log"; exit 1; }

cat > "$WORK/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: $THREADS
  username: ""
  chroot: ""
  zonesdir: "$WORK"
  database: ""
  zonelistfile: "$WORK/zone.list"
  xfrdfile: "$WORK/xfrd.state"
  xfrdir: "$WORK"
  pidfile: "$WORK/nsd.pid"
  logfile: "$WORK/nsd.log"
  verbosity: 0
  do-ip6: no
  hide-version: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: "$WORK/cluster.local.zone"
CONF
nsd -d -c "$WORK/nsd.conf" > "$WORK/nsd.out" 2>&1 &
NSD_PID=$!
for _ in $(seq 1 60); do dig @127.0.0.1 -p "$NSD_PORT" +short +tries=1 +time=1 dns-version.cluster.local TXT 2>/dev/null | grep -q 1.1.0 && break; sleep 0.5; done

echo "# machine: nproc=$(nproc) $(lscpu | sed -n 's/^Model name: *//p') (cores shared with other work)"
echo "# services=$SERVICES seconds=$SECONDS_PER rounds=$ROUNDS server_threads=$THREADS"
echo "# same answers? ferry vs nsd for svc-1.ns-1 A, _http._tcp.svc-9.ns-9 SRV:"
for q in "svc-1.ns-1.svc.cluster.local A" "_http._tcp.svc-9.ns-9.svc.cluster.local SRV"; do
  echo "#   ferry: $(dig @127.0.0.1 -p $FERRY_PORT +short $q | sort | tr '\n' ' ')"
  echo "#   nsd:   $(dig @127.0.0.1 -p $NSD_PORT +short $q | sort | tr '\n' ' ')"
done

perf() { # name port queryfile
  dnsperf -s 127.0.0.1 -p "$2" -d "$3" -l "$SECONDS_PER" -c 8 -q 256 -T 1 2>&1 \
    | awk -v n="$1" -v f="$(basename "$3")" '/Queries per second/{q=$4} /Queries lost/{l=$3" "$4} /Average Latency/{lat=$4} END{printf "%-6s %-16s qps=%10.0f lost=%s avg_latency_s=%s\n", n, f, q, l, lat}'
}
# Warm-up (JIT) for Ferry, then A B A B per query mix.
dnsperf -s 127.0.0.1 -p "$FERRY_PORT" -d "$WORK/queries-a.txt" -l 5 -c 8 -q 256 -T 1 > /dev/null 2>&1 || true
for mix in queries-a.txt queries-mix.txt; do
  for r in $(seq 1 "$ROUNDS"); do
    perf nsd "$NSD_PORT" "$WORK/$mix"
    perf ferry "$FERRY_PORT" "$WORK/$mix"
  done
done
if [ "${PTR:-1}" = 1 ]; then
  perf ferry "$FERRY_PORT" "$WORK/queries-ptr.txt"
fi
kill "$FERRY_PID"; wait "$FERRY_PID" 2>/dev/null || true; FERRY_PID=""
grep counters "$WORK/ferry.log" || true
