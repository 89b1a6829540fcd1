#!/usr/bin/env bash
# Cold start of `ferry run --kubeconfig` against the CRUD mock API server: time to the first full
# table and the daemon's RSS/heap. Usage: benchmarks/daemon/run.sh [SIZES] [ENDPOINTS]
#   SIZES: comma-separated service counts, run in that order (default A B A B: 1000,10000,1000,10000)
#   FERRY_DAEMON_JAVA_OPTS: extra JVM options for the daemon only (e.g. -Xmx384m)
# Builds nothing itself: run first (from the repository root)
#   mvn -B -q -o -Dferry.target=target-daemon -pl cli -am test-compile
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${FERRY_TARGET:-target-daemon}"
sizes="${1:-1000,10000,1000,10000}"
endpoints="${2:-10}"
cd "$root"
cpfile="$(mktemp)"
trap 'rm -f "$cpfile"' EXIT
mvn -B -q -o -Dferry.target="$target" -pl cli dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >/dev/null
deps="$(cat "$cpfile")"
classes="$(for m in cli daemon proxy-core sources userspace lb-algorithms conntrack iptables-sync; do printf '%s:' "$m/$target/classes"; done)"
classes="${classes%:}"
flags="$(sed -n 's:.*<ferry.jvm.flags>\(.*\)</ferry.jvm.flags>.*:\1:p' pom.xml)"
# shellcheck disable=SC2086
exec java $flags -cp "$classes:$deps" benchmarks/daemon/ColdStart.java "$sizes" "$endpoints" "$classes:$deps" "$flags ${FERRY_DAEMON_JAVA_OPTS:-}"
