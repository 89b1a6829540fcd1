#!/bin/bash
# When does a (re)started `ferry run` accept on its health port? Two builds alternating (A/B), each
# started in a private network namespace in iptables mode (rules only in that namespace) and killed
# with kill -9 once it answered, as a crash loop does. A probe connects every 2 ms from the moment of
# launch; printed: launch -> first accepted connection, launch -> first HTTP answer (ms), and the
# daemon's own start-up line (ms after the JVM started). Needs root and python3.
# Usage: benchmarks/fault/health_port_ab.sh REPO_A REPO_B [ROUNDS]   (REPO_*: a folder with a built
# ./ferry; a build's first `run` makes its class-data archive: start each once before measuring.)
set -euo pipefail
a="$1"; b="$2"; rounds="${3:-4}"
ns="ferryhp$$"
work="$(mktemp -d)"
ip netns add "$ns"
trap 'ip netns del "$ns"; rm -rf "$work"' EXIT
ip -n "$ns" link set lo up
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" addr add 10.250.0.1/24 dev v0
ip -n "$ns" link set v0 up
ip -n "$ns" link set v1 up
cat > "$work/cluster.yaml" <<'Y'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.77.1
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.250.0.2]
  conditions: {ready: true}
Y
cat > "$work/probe.py" <<'P'
import socket, sys, time
t0 = int(sys.argv[1]); deadline = time.time() + 30
while True:
    s = socket.socket(); s.settimeout(15)
    try:
        s.connect(("127.0.0.1", 10256)); break
    except OSError:
        s.close()
        if time.time() > deadline: print("never accepted"); sys.exit(1)
        time.sleep(0.002)
accepted = int(time.time() * 1000) - t0
s.sendall(b"GET /healthz HTTP/1.0\r\nHost: ferry\r\n\r\n")
status = s.recv(12).decode(errors="replace")
print("accepted %d ms, answered %d ms (%s)" % (accepted, int(time.time() * 1000) - t0, status))
P
for round in $(seq 1 "$rounds"); do
  for side in A B; do
    repo="$a"; [[ $side == B ]] && repo="$b"
    log="$work/$side-$round.log"
    t0=$(date +%s%3N)
    ip netns exec "$ns" "$repo/ferry" run --source "$work/cluster.yaml" --mode iptables --node-name n1 \
      --state-dir "$work/state-$side" --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address 127.0.0.1:10249 \
      > "$log" 2>&1 &
    pid=$!
    result="$(ip netns exec "$ns" python3 "$work/probe.py" "$t0")"
    for _ in $(seq 1 500); do grep -q "start-up, ms" "$log" && break; sleep 0.02; done
    echo "$side round $round: $result $(grep -a 'start-up' "$log" | sed 's/.*started: /(/;s/$/)/' || true)"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  done
done
