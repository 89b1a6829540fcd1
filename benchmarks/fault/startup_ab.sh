#!/bin/bash
# Launch-to-listeners time of `ferry run --mode userspace`, two builds alternating (A/B), restarted
# in a private network namespace (ferry0's addresses adopted from the previous run, as in a real
# restart). Needs root. Usage: benchmarks/fault/startup_ab.sh REPO_A REPO_B [ROUNDS]
# (REPO_*: a folder with a built ./ferry, e.g. a worktree of main and one of a branch). A build's
# first `run` makes its class-data archive (~3.5 s, see ./ferry): start each once before measuring.
set -euo pipefail
a="$1"; b="$2"; rounds="${3:-4}"
ns="ferryst$$"
work="$(mktemp -d)"
ip netns add "$ns"
trap 'ip netns del "$ns"; rm -rf "$work"' EXIT
ip -n "$ns" link set lo up
ip -n "$ns" link add v0 type veth peer name v1
ip -n "$ns" addr add 10.250.0.1/24 dev v0
ip -n "$ns" link set v0 up
ip -n "$ns" link set v1 up
src="$work/cluster.yaml"
cat > "$src" <<'Y'
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
for round in $(seq 1 "$rounds"); do
  for side in A B; do
    repo="$a"; [[ $side == B ]] && repo="$b"
    log="$work/$side-$round.log"
    t0=$(date +%s%3N)
    ip netns exec "$ns" "$repo/ferry" run --source "$src" --mode userspace --node-name n1 --state-dir "$work/state-$side" \
      --healthz-bind-address 127.0.0.1:10256 --metrics-bind-address 127.0.0.1:10249 > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do grep -q "listeners opened" "$log" && break; sleep 0.02; done
    t1=$(date +%s%3N)
    kill -TERM "$pid"; wait "$pid" || true
    echo "$side round $round: launch to 'listeners opened' in the log: $((t1 - t0)) ms $(grep -a 'start-up' "$log" | sed 's/.*started: /(/;s/$/)/' || true)"
  done
done
