package dev.ferry.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * `./ferry run --kubeconfig kube-proxy.kubeconfig` (the launcher at the repository root, the shaded
 * jar) in the node namespace, in nftables mode, as user system:kube-proxy; its /healthz, /metrics and
 * `ferry dump` as an operator sees them.
 */
final class FerryDaemon implements AutoCloseable {
    static final String HEALTHZ = "127.0.0.1:10256";
    static final String METRICS = "127.0.0.1:10249";

    final Path root;
    final Path stateDir;
    final Path log;
    private final NodeNamespaces net;
    private final Process process;

    private FerryDaemon(Path root, Path stateDir, Path log, NodeNamespaces net, Process process) {
        this.root = root;
        this.stateDir = stateDir;
        this.log = log;
        this.net = net;
        this.process = process;
    }

    static FerryDaemon start(Path root, NodeNamespaces net, Path kubeconfig, String nodeName, Path work) throws IOException {
        Path launcher = root.resolve("ferry");
        String target = System.getenv().getOrDefault("FERRY_TARGET", "target");
        assertTrue(Files.isRegularFile(root.resolve("cli").resolve(target).resolve("ferry.jar")),
                "cli/" + target + "/ferry.jar is not built (mvn -B -DskipTests package)");
        Path state = work.resolve("state");
        Path log = work.resolve("ferry.log");
        Process p = net.start(net.node, log, launcher.toString(), "run", "--kubeconfig", kubeconfig.toString(),
                "--mode", "nftables", "--node-name", nodeName, "--state-dir", state.toString(),
                "--healthz-bind-address", HEALTHZ, "--metrics-bind-address", METRICS, "--exit-after", "1200");
        return new FerryDaemon(root, state, log, net, p);
    }

    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "<no log: " + e + ">";
        }
    }

    /** The last lines of the daemon's log, for failure messages. */
    String logTail() {
        String[] lines = log().split("\n");
        return "--- ferry log (last 60 lines of " + lines.length + ")\n"
                + String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 60), lines.length));
    }

    boolean alive() {
        return process.isAlive();
    }

    /** Polls cond every 200 ms for at most timeoutMillis; fails with what and the log otherwise. */
    void await(String what, long timeoutMillis, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            if (cond.getAsBoolean()) return;
            if (!process.isAlive()) {
                throw new AssertionError("ferry exited (" + process.exitValue() + ") before " + what + "\n" + logTail());
            }
            Thread.sleep(200);
        }
        throw new AssertionError("timed out after " + timeoutMillis + " ms waiting for " + what + "\n" + logTail());
    }

    /** The HTTP status of /healthz (or /livez), 0 when it does not answer. */
    int healthz(String path) {
        try {
            Sh.Result r = Sh.exec(Map.of(), 10, List.of("ip", "netns", "exec", net.node, "curl", "-s", "-o", "/dev/null",
                    "-w", "%{http_code}", "--max-time", "3", "http://" + HEALTHZ + path));
            return r.out().isBlank() ? 0 : Integer.parseInt(r.out().trim());
        } catch (IOException | NumberFormatException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    String metrics() throws IOException, InterruptedException {
        return Sh.run(Map.of(), 10, "ip", "netns", "exec", net.node, "curl", "-s", "--max-time", "5",
                "http://" + METRICS + "/metrics");
    }

    /** The table-write counters (ferry_service_table_writes_total by op): added, updated, removed. */
    long[] tableWrites() throws IOException, InterruptedException {
        String m = metrics();
        long[] out = new long[3];
        String[] ops = {"added", "updated", "removed"};
        for (int i = 0; i < 3; i++) {
            Matcher x = Pattern.compile("(?m)^ferry_service_table_writes_total\\{op=\"" + ops[i] + "\"} ([0-9.eE+]+)$").matcher(m);
            assertTrue(x.find(), "no ferry_service_table_writes_total{op=\"" + ops[i] + "\"} in /metrics:\n" + m);
            out[i] = (long) Double.parseDouble(x.group(1));
        }
        return out;
    }

    /** `ferry dump KIND NAMESPACE/[NAME] -o json` from the root namespace (it maps the daemon's table file). */
    List<JsonNode> dump(String kind, String selector) throws IOException, InterruptedException {
        String out = Sh.run(Map.of(), 60, root.resolve("ferry").toString(), "dump", kind, selector, "-o", "json",
                "--state-dir", stateDir.toString());
        int start = out.indexOf('[');
        assertTrue(start >= 0, "ferry dump printed no JSON array:\n" + out);
        List<JsonNode> list = new ArrayList<>();
        JsonMapper.builder().build().readTree(out.substring(start)).forEach(list::add);
        return list;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                NodeNamespaces.stop(process);
            }
        }
    }
}
