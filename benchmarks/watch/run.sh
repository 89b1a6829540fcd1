#!/usr/bin/env bash
# Watcher benchmarks: API change -> table visible (minSyncPeriod 0 and 1 s, A B A B) and cold start.
# Usage (from the repository root, after building benchmarks.jar into $TARGET):
#   TARGET=target-watch benchmarks/watch/run.sh [latency|coldstart|all]
# The mock API server runs in its own JVM (its memory is not Ferry's); it is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${TARGET:-target}
WHAT=${1:-all}
UPDATES=${UPDATES:-1000}
INTERVAL_MS=${INTERVAL_MS:-50}
COLD_SERVICES=${COLD_SERVICES:-10000}
JAR=benchmarks/$TARGET/benchmarks.jar
FLAGS=$(cat benchmarks/$TARGET/classes/dev/ferry/bench/jvm.flags)
# The benchmarks module does not depend on kubernetes-server-mock: take it from proxy-core's test class path.
CPFILE=$(mktemp)
mvn -B -q -o -Dferry.target=$TARGET -pl proxy-core dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$CPFILE" >/dev/null
CP="${EXTRA_CP:+$EXTRA_CP:}$JAR:$(cat "$CPFILE")"
rm -f "$CPFILE"
MAIN=dev.ferry.bench.watch.WatchBenchMain

SERVER_PID=""
FIFO=""
start_server() { # services endpoints
    FIFO=$(mktemp -u); mkfifo "$FIFO"
    OUT=$(mktemp)
    # stdin from the fifo: the server runs until we close it.
    java $FLAGS -cp "$CP" $MAIN serve "$1" "$2" <"$FIFO" >"$OUT" 2>"$OUT.err" &
    SERVER_PID=$!
    exec 9>"$FIFO"
    for _ in $(seq 1 1800); do
        if grep -q READY "$OUT"; then break; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$OUT.err"; exit 1; fi
        sleep 0.2
    done
    PORT=$(awk '/READY/ {print $2}' "$OUT")
    [ -n "$PORT" ] || { echo "mock server not ready"; cat "$OUT.err"; exit 1; }
    grep created "$OUT.err" || true
    URL=http://localhost:$PORT
}
stop_server() {
    exec 9>&-
    if [ -n "$SERVER_PID" ]; then
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$FIFO"
    SERVER_PID=""
}
trap stop_server EXIT

nproc; lscpu | grep 'Model name'
if [ "$WHAT" = latency ] || [ "$WHAT" = all ]; then
    start_server 1000 10
    for ms in 0 1000 0 1000; do
        java $FLAGS -cp "$CP" $MAIN latency "$URL" "$UPDATES" "$ms" "$INTERVAL_MS" 2>/dev/null | grep '^latency'
    done
    stop_server
fi
if [ "$WHAT" = coldstart ] || [ "$WHAT" = all ]; then
    start_server "$COLD_SERVICES" 10
    for _ in 1 2; do
        java $FLAGS -cp "$CP" $MAIN coldstart "$URL" "$COLD_SERVICES" 2>/dev/null | grep '^coldstart'
    done
    stop_server
fi
