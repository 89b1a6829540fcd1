#!/usr/bin/env bash
# UDP flood fault: RATE new flows/s for SECONDS against `ferry run --mode userspace`, all of it in a
# network namespace of its own (Ferry's ferry0 interface included), deleted afterwards.
# Usage (root, after `mvn -B -DskipTests package`): benchmarks/flood/run.sh [RATE] [SECONDS] [CLIENTS] [TRANSPORT]
#   defaults: 10000 60 4 auto.  FERRY_ROOT: the build to run (default: this repository).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${FERRY_ROOT:-$(cd "$here/../.." && pwd)}"
rate="${1:-10000}"; seconds="${2:-60}"; clients="${3:-4}"; transport="${4:-auto}"
ns="ferryflood-$$"
work="$(mktemp -d)"
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"' EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" java "$here/UdpFlood.java" "$root" "$work" "$rate" "$seconds" "$clients" "$transport"
