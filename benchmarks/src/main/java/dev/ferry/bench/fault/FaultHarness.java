package dev.ferry.bench.fault;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Injects the faults of a node's real life into a real {@code ./ferry run} while a client sends
 * one TCP request every 50 ms through a ClusterIP service, and prints a Markdown table: per mode
 * and fault, requests sent and failed, the longest gap between successful requests, Ferry's peak
 * RSS and fds (sampled from /proc every 200 ms), and the seconds where /healthz was wrong (right
 * means: 200 exactly when the request made right after the probe, in the same second, succeeded).
 *
 * <p>Faults: SIGTERM and kill -9 restarts and a crash loop (each mode); in userspace mode also a UDP flood (new
 * source address and port per datagram), {@code ip addr flush dev ferry0}, and a reload of a
 * hostile source file (0 bytes, garbage, a YAML alias bomb), restored afterwards. Each mode gets its
 * own three namespaces with a unique prefix (see {@link Topology}), deleted at the end even on
 * failure or Ctrl-C. Needs root, iproute2, iptables/nft, curl, python3, and a built tree ({@code ./ferry},
 * {@code benchmarks/target/benchmarks.jar}).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.ferry.bench.fault.FaultHarness [--quick] [options]
 * </pre>
 *
 * Run from the repository root (or pass --repo). See {@link #usage()} for the options.
 */
public final class FaultHarness {
    static final String SERVICE_IP = "10.96.50.1";
    static final String UDP_SERVICE_IP = "10.96.50.2";
    static final int TCP_PORT = 8080;
    static final int UDP_PORT = 5300;
    static final List<String> RESTARTS = List.of("sigterm", "kill9", "crashloop");

    private final Map<String, String> opt;
    private final Path repo;
    private final Path work;
    private final List<PhaseResult> results = new ArrayList<>();
    private final List<Process> children = java.util.Collections.synchronizedList(new ArrayList<>());
    private Timeline timeline;
    private Topology topology;
    private Process ferry;
    private long ferryStartedAt;
    private int ferryStarts;
    private PrintWriter agentIn;
    private volatile boolean rssGuardFired;
    private volatile boolean stopping;

    private FaultHarness(Map<String, String> opt) throws IOException {
        this.opt = opt;
        this.repo = Paths.get(opt.getOrDefault("repo", ".")).toAbsolutePath().normalize();
        this.work = Files.createTempDirectory("ferry-fault-");
    }

    static String usage() {
        return """
                usage: FaultHarness [--quick] [--repo DIR] [--modes userspace,iptables,nftables]
                       [--faults sigterm,kill9,crashloop,flood,flush,empty,garbage,aliasbomb]
                       [--before S] [--after S] [--flood-seconds S] [--flood-rate N] [--flood-sources N]
                       [--hold S] [--flush-observe S] [--recover-wait S] [--rss-guard-mb N]
                  --quick            before 2, after 5, flood 15 s, hold 3, flush-observe 8, recover-wait 12
                                     (under 5 min)
                  defaults           before 3, after 10, flood 60 s at 10000/s from 16 addresses, hold 8,
                                     flush-observe 20, recover-wait 30 (about 8 min)
                  --before/--after   quiet seconds before a fault and after it (after recovery, for restarts)
                  --hold             seconds a hostile source file stays before the good one is restored
                  --recover-wait     how long a restart waits for the first successful request
                  --rss-guard-mb     kill -9 Ferry if its RSS passes this (protects a shared machine; 3072)
                """;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--quick")) {
                opt.putIfAbsent("before", "2");
                opt.putIfAbsent("after", "5");
                opt.putIfAbsent("flood-seconds", "15");
                opt.putIfAbsent("hold", "3");
                opt.putIfAbsent("flush-observe", "8");
                opt.putIfAbsent("recover-wait", "12");
            } else if (a.equals("-h") || a.equals("--help")) {
                System.out.print(usage());
                return;
            } else if (a.startsWith("--") && i + 1 < args.length) {
                opt.put(a.substring(2), args[++i]);
            } else {
                System.err.print("unknown argument " + a + "\n" + usage());
                System.exit(2);
            }
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            System.err.println("FaultHarness needs root (network namespaces)");
            System.exit(2);
        }
        FaultHarness h = new FaultHarness(opt);
        Thread main = Thread.currentThread();
        Thread hook = new Thread(() -> {
            h.stopping = true; // Ctrl-C: no new Ferry from here on, the main thread stops at its next wait
            main.interrupt();
            h.cleanup();
        }, "fault-harness-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        long start = System.currentTimeMillis();
        try {
            h.run();
        } catch (InterruptedException | IOException e) {
            if (!h.stopping) throw e;
            System.err.println("[fault] stopped by a signal: namespaces deleted, partial results below");
        } finally {
            h.cleanup();
        }
        System.out.println();
        System.out.println(PhaseResult.header());
        for (PhaseResult r : h.results) System.out.println(r.row());
        System.out.printf("%nTotal %.0f s. Ferry logs: %s%n", (System.currentTimeMillis() - start) / 1000.0, h.work);
    }

    private int num(String key, int dflt) {
        return Integer.parseInt(opt.getOrDefault(key, Integer.toString(dflt)));
    }

    private List<String> list(String key, String dflt) {
        return List.of(opt.getOrDefault(key, dflt).split(","));
    }

    private void run() throws Exception {
        if (!Files.isExecutable(repo.resolve("ferry")) || !Files.exists(repo.resolve("cli/target/ferry.jar"))) {
            throw new IOException("no built ./ferry under " + repo + " (mvn -B -DskipTests package; or pass --repo)");
        }
        List<String> faults = list("faults", "empty,garbage,aliasbomb,flush,flood,sigterm,kill9,crashloop");
        for (String mode : list("modes", "userspace,iptables,nftables")) {
            List<String> here = new ArrayList<>();
            for (String f : faults) {
                if (mode.equals("userspace") || RESTARTS.contains(f)) here.add(f);
            }
            if (here.isEmpty()) continue;
            runMode(mode, here);
        }
    }

    private void runMode(String mode, List<String> faults) throws Exception {
        String prefix = "fh" + HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
        log("== mode " + mode + " (namespaces " + prefix + "{c,n,b})");
        timeline = new Timeline();
        topology = new Topology(prefix);
        topology.create(num("flood-sources", 16));
        try {
            Path source = work.resolve(mode + "-services.yaml");
            Files.writeString(source, servicesYaml());
            startChild(Topology.exec(topology.backend, java(Backend.class.getName(), Topology.BACKEND_IP,
                    Integer.toString(TCP_PORT), Integer.toString(UDP_PORT))), work.resolve(mode + "-backend.log"));
            startAgent();
            Thread sampler = new Thread(this::sample, "sampler");
            sampler.setDaemon(true);
            sampler.start();
            if (!startFerry(mode, source)) {
                results.add(new PhaseResult(mode, "start", 0, 0, 0, false, 0, -1, -1, -1, -1, 0, 0, 0, "",
                        "Ferry did not serve within 60 s; see " + ferryLog(mode)));
                return;
            }
            for (String fault : faults) {
                if (!ensureServing(mode, source)) break;
                switch (fault) {
                    case "sigterm" -> restart(mode, source, false);
                    case "kill9" -> restart(mode, source, true);
                    case "crashloop" -> crashLoop(mode, source);
                    case "flood" -> flood(mode);
                    case "flush" -> flush(mode);
                    case "empty" -> hostile(mode, source, "0-byte source file", new byte[0]);
                    case "garbage" -> hostile(mode, source, "garbage source file (4 KiB random bytes)", garbage());
                    case "aliasbomb" -> hostile(mode, source, "YAML alias bomb (50 aliases)", aliasBomb());
                    default -> throw new IllegalArgumentException("unknown fault " + fault);
                }
            }
        } finally {
            stopFerry();
            stopChildren();
            topology.close();
        }
    }

    // ---- the faults ----

    private void restart(String mode, Path source, boolean kill9) throws Exception {
        String fault = kill9 ? "restart (kill -9)" : "restart (SIGTERM)";
        log(mode + ": " + fault);
        long from = now();
        sleepSeconds(num("before", 3));
        long faultAt = now();
        String notes;
        Process old = ferry;
        if (kill9) {
            old.destroyForcibly();
        } else {
            old.destroy();
        }
        boolean exited = old.waitFor(15, TimeUnit.SECONDS);
        long exitMillis = now() - faultAt;
        if (!exited) {
            old.destroyForcibly();
            old.waitFor(10, TimeUnit.SECONDS);
        }
        notes = kill9 ? "" : exited ? "exited " + exitMillis + " ms after SIGTERM" : "did NOT exit within 15 s of SIGTERM (killed)";
        long restartAt = now();
        ferry = launchFerry(mode, source);
        long firstOk = waitForOk(restartAt, num("recover-wait", 30) * 1000L);
        notes += (notes.isEmpty() ? "" : "; ") + (firstOk < 0
                ? "no successful request within " + num("recover-wait", 30) + " s of the new start"
                : "first success " + (firstOk - faultAt) + " ms after the signal");
        sleepSeconds(num("after", 10));
        record(mode, fault, from, faultAt, restartAt, notes);
    }

    /**
     * A crash loop: kill -9, start again, kill -9 that process as soon as it answers /healthz 200
     * (typically before it has read its source and synced), start again: what a DaemonSet pod that
     * crashes early in its start-up does.
     */
    private void crashLoop(String mode, Path source) throws Exception {
        String fault = "crash loop (kill -9, restart, kill -9 at its first /healthz 200, restart)";
        log(mode + ": " + fault);
        long from = now();
        sleepSeconds(num("before", 3));
        long faultAt = now();
        ferry.destroyForcibly();
        ferry.waitFor(10, TimeUnit.SECONDS);
        long second = now();
        ferry = launchFerry(mode, source);
        boolean answered = waitForHealthy(second, 20_000);
        ferry.destroyForcibly();
        ferry.waitFor(10, TimeUnit.SECONDS);
        long restartAt = now();
        ferry = launchFerry(mode, source);
        long firstOk = waitForOk(restartAt, num("recover-wait", 30) * 1000L);
        String notes = (answered ? "second process killed " + (restartAt - second) + " ms into its start-up; "
                : "second process never answered /healthz, killed after 20 s; ")
                + (firstOk < 0 ? "no successful request within " + num("recover-wait", 30) + " s of the last start"
                : "first success " + (firstOk - restartAt) + " ms after the last start");
        sleepSeconds(num("after", 10));
        record(mode, fault, from, faultAt, restartAt, notes);
    }

    private void flood(String mode) throws Exception {
        int seconds = num("flood-seconds", 60);
        int rate = num("flood-rate", 10_000);
        int sources = num("flood-sources", 16);
        log(mode + ": UDP flood " + rate + "/s for " + seconds + " s");
        long from = now();
        sleepSeconds(num("before", 3));
        long faultAt = now();
        Process flood = new ProcessBuilder(Topology.exec(topology.client, "python3",
                repo.resolve("benchmarks/fault/udp_flood.py").toString(), UDP_SERVICE_IP, Integer.toString(UDP_PORT),
                Integer.toString(rate), Integer.toString(seconds), Topology.FLOOD_PREFIX,
                Integer.toString(Topology.FLOOD_FIRST), Integer.toString(sources)))
                .redirectError(ProcessBuilder.Redirect.appendTo(work.resolve("flood.log").toFile())).start();
        children.add(flood);
        String achieved = "flood did not report (see flood.log)";
        if (flood.waitFor(seconds + 120L, TimeUnit.SECONDS)) {
            String[] f = new String(flood.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim().split(" ");
            if (f.length == 4 && f[0].equals("F")) {
                long sent = Long.parseLong(f[1]);
                long millis = Long.parseLong(f[2]);
                achieved = String.format("%d datagrams, each from a new source address:port, in %.1f s (%.0f/s)%s",
                        sent, millis / 1000.0, sent * 1000.0 / Math.max(1, millis),
                        f[3].equals("0") ? "" : ", " + f[3] + " send errors");
            }
        } else {
            flood.destroyForcibly();
        }
        sleepSeconds(num("after", 10));
        record(mode, "UDP flood " + rate + "/s × " + seconds + " s", from, faultAt, faultAt, achieved);
    }

    private void flush(String mode) throws Exception {
        log(mode + ": ip addr flush dev ferry0");
        long from = now();
        sleepSeconds(num("before", 3));
        long faultAt = now();
        boolean ok = topology.inNode("ip", "addr", "flush", "dev", "ferry0");
        sleepSeconds(num("flush-observe", 20));
        record(mode, "ip addr flush dev ferry0", from, faultAt, faultAt, ok ? "" : "the flush command failed");
    }

    private void hostile(String mode, Path source, String what, byte[] content) throws Exception {
        log(mode + ": reload " + what);
        byte[] good = Files.readAllBytes(source);
        long from = now();
        sleepSeconds(num("before", 3));
        long faultAt = now();
        Files.write(source, content); // in place, as an editor without atomic rename
        sleepSeconds(num("hold", 8));
        Files.write(source, good);
        long restoredAt = now();
        sleepSeconds(num("after", 10));
        record(mode, "reload: " + what, from, faultAt, faultAt,
                "held " + (restoredAt - faultAt) / 1000 + " s, then the good file restored");
    }

    private void record(String mode, String fault, long from, long faultAt, long recoverFrom, String notes) {
        String n = notes;
        if (rssGuardFired) {
            n = (n.isEmpty() ? "" : n + "; ") + "RSS passed " + num("rss-guard-mb", 3072) + " MB: killed by the harness";
            rssGuardFired = false;
        }
        PhaseResult r = PhaseResult.of(mode, fault, timeline, from, faultAt, recoverFrom, now(), n);
        results.add(r);
        log(r.row());
    }

    // ---- Ferry ----

    private boolean startFerry(String mode, Path source) throws Exception {
        long at = now();
        ferry = launchFerry(mode, source);
        return waitForOk(at, 60_000) >= 0 && waitForHealthy(at, 30_000) && waitForSync(30_000);
    }

    /**
     * Waits until the running Ferry reports a completed sync on its metrics (on the node's loopback):
     * /healthz can answer 200 before the source was even read, and rules an earlier process left
     * keep requests working meanwhile, so neither proves the new process is up.
     */
    private boolean waitForSync(long timeoutMillis) throws InterruptedException {
        long deadline = now() + timeoutMillis;
        while (now() < deadline) {
            try {
                Process p = new ProcessBuilder(Topology.exec(topology.node, "curl", "-s", "-m", "1",
                        "http://127.0.0.1:10249/metrics")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                String metrics = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(5, TimeUnit.SECONDS);
                for (String line : metrics.split("\n")) {
                    if (line.startsWith("kubeproxy_sync_proxy_rules_last_timestamp_seconds ")
                            && Double.parseDouble(line.substring(line.indexOf(' ') + 1)) > 0) {
                        return true;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // not serving yet
            }
            Thread.sleep(250);
        }
        return false;
    }

    /**
     * Before each fault: the service must work and the running process must have answered /healthz
     * 200 (rules left by an earlier process make requests succeed before the new one is up); if the
     * last fault left the service broken, start Ferry afresh.
     */
    private boolean ensureServing(String mode, Path source) throws Exception {
        long at = now();
        if (ferry != null && ferry.isAlive() && waitForOk(at, 3_000) >= 0 && waitForHealthy(ferryStartedAt, 30_000)
                && waitForSync(30_000)) {
            return true;
        }
        log(mode + ": service not working before the next fault: starting Ferry afresh (ferry0 deleted)");
        stopFerry();
        topology.inNode("ip", "link", "del", "ferry0");
        boolean ok = startFerry(mode, source);
        if (ok) {
            PhaseResult last = results.isEmpty() ? null : results.get(results.size() - 1);
            if (last != null) {
                results.set(results.size() - 1, new PhaseResult(last.mode(), last.fault(), last.sent(), last.failed(),
                        last.failedAfterRecovery(), last.recovered(), last.longestGapSeconds(), last.peakRssMb(),
                        last.peakFds(), last.fdLimit(), last.endFds(), last.probes(), last.wrongSeconds(),
                        last.wrongWithoutProcess(), last.wrongAt(),
                        last.notes() + (last.notes().isEmpty() ? "" : "; ") + "left the service broken: the harness "
                                + "restarted Ferry with ferry0 deleted"));
            }
        }
        return ok;
    }

    private Process launchFerry(String mode, Path source) throws IOException {
        if (stopping) throw new IOException("stopping: no new Ferry process");
        ferryStarts++;
        ferryStartedAt = now();
        List<String> cmd = Topology.exec(topology.node, repo.resolve("ferry").toString(), "run", "--source",
                source.toString(), "--mode", mode, "--node-name", "node-1",
                "--state-dir", work.resolve("state-" + mode).toString());
        Path log = ferryLog(mode);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Files.writeString(log, "\n==== start " + ferryStarts + " at " + now() + ": " + String.join(" ", cmd) + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        return pb.start(); // ip netns exec, ./ferry and java exec in turn: this pid is Ferry's JVM
    }

    private Path ferryLog(String mode) {
        return work.resolve("ferry-" + mode + ".log");
    }

    private synchronized void stopFerry() {
        Process p = ferry;
        ferry = null;
        if (p == null) return;
        p.destroy();
        try {
            if (!p.waitFor(15, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private boolean waitForHealthy(long since, long timeoutMillis) throws InterruptedException {
        long deadline = now() + timeoutMillis;
        while (now() < deadline) {
            if (timeline.firstHealthySince(since) >= 0) return true;
            Thread.sleep(100);
        }
        return false;
    }

    private long waitForOk(long since, long timeoutMillis) throws InterruptedException {
        long deadline = now() + timeoutMillis;
        while (now() < deadline) {
            long t = timeline.firstOkSince(since);
            if (t >= 0) return t;
            Thread.sleep(50);
        }
        return -1;
    }

    /** Every 200 ms: Ferry's RSS, open fds and fd limit, from /proc. */
    private void sample() {
        Timeline mine = timeline;
        long guardKb = num("rss-guard-mb", 3072) * 1024L;
        while (mine == timeline) {
            Process p = ferry;
            long rss = -1;
            int fds = -1;
            long limit = -1;
            if (p != null && p.isAlive()) {
                Path proc = Paths.get("/proc", Long.toString(p.pid()));
                try {
                    for (String line : Files.readAllLines(proc.resolve("status"))) {
                        if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.replaceAll("\\D", ""));
                    }
                    try (var s = Files.list(proc.resolve("fd"))) {
                        fds = (int) s.count();
                    }
                    for (String line : Files.readAllLines(proc.resolve("limits"))) {
                        if (line.startsWith("Max open files")) limit = Long.parseLong(line.trim().split("\\s+")[3]);
                    }
                } catch (IOException | RuntimeException e) {
                    // the process exited between the check and the read
                }
                if (rss > guardKb) {
                    rssGuardFired = true;
                    log("RSS " + rss / 1024 + " MB passed the guard: kill -9 Ferry");
                    p.destroyForcibly();
                }
            }
            mine.add(new Timeline.Sample(now(), rss, fds, limit));
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    // ---- the client and backend ----

    private void startAgent() throws IOException {
        Process agent = new ProcessBuilder(Topology.exec(topology.client, java(ClientAgent.class.getName(),
                SERVICE_IP + ":80", Topology.NODE_IP + ":10256", "50")))
                .redirectError(ProcessBuilder.Redirect.appendTo(work.resolve("agent.log").toFile())).start();
        children.add(agent);
        agentIn = new PrintWriter(agent.getOutputStream(), true, StandardCharsets.UTF_8);
        Timeline mine = timeline;
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    String[] f = line.split(" ", 4);
                    switch (f[0]) {
                        case "R" -> mine.add(new Timeline.Request(Long.parseLong(f[1]), f[2].equals("1"), f[3]));
                        case "H" -> mine.add(new Timeline.Probe(Long.parseLong(f[1]), Integer.parseInt(f[2]), f[3].equals("1")));
                        default -> { }
                    }
                }
            } catch (IOException e) {
                // the agent exited
            }
        }, "agent-reader");
        reader.setDaemon(true);
        reader.start();
    }

    private void startChild(List<String> cmd, Path log) throws IOException {
        children.add(new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start());
    }

    /** A command line that runs a main class of this jar in a small JVM. */
    private static String[] java(String mainClass, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                mainClass));
        cmd.addAll(List.of(args));
        return cmd.toArray(new String[0]);
    }

    private synchronized void stopChildren() {
        if (agentIn != null) {
            agentIn.close();
            agentIn = null;
        }
        List<Process> all = new ArrayList<>(children);
        children.clear();
        for (Process p : all) p.destroy();
        for (Process p : all) {
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) p.destroyForcibly();
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        }
    }

    private synchronized void cleanup() {
        stopFerry();
        stopChildren();
        if (topology != null) topology.close();
    }

    // ---- inputs ----

    static String servicesYaml() {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: fault}
                spec:
                  clusterIP: %s
                  ports: [{name: http, port: 80, targetPort: %d, protocol: TCP}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: fault, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: %d, protocol: TCP}]
                endpoints:
                - addresses: [%s]
                  conditions: {ready: true}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: echo, namespace: fault}
                spec:
                  clusterIP: %s
                  ports: [{name: udp, port: %d, targetPort: %d, protocol: UDP}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: echo-1, namespace: fault, labels: {kubernetes.io/service-name: echo}}
                addressType: IPv4
                ports: [{name: udp, port: %d, protocol: UDP}]
                endpoints:
                - addresses: [%s]
                  conditions: {ready: true}
                """.formatted(SERVICE_IP, TCP_PORT, TCP_PORT, Topology.BACKEND_IP, UDP_SERVICE_IP, UDP_PORT, UDP_PORT,
                UDP_PORT, Topology.BACKEND_IP);
    }

    static byte[] garbage() {
        byte[] b = new byte[4096];
        new SecureRandom().nextBytes(b);
        return b;
    }

    /**
     * The issue's 1.7 KB file: a Service whose annotation nests 5 levels of 10 aliases each (50 in
     * all, under common alias limits) over 10 strings of 100 bytes: 10^5 expansions of 1 KB if a
     * parser expands it.
     */
    static byte[] aliasBomb() {
        StringBuilder y = new StringBuilder("apiVersion: v1\nkind: Service\nmetadata:\n  name: bomb\n  namespace: fault\n"
                + "  annotations:\n    l0: &l0 [");
        for (int i = 0; i < 10; i++) y.append(i == 0 ? "" : ", ").append("x".repeat(100));
        y.append("]\n");
        for (int level = 1; level <= 5; level++) {
            y.append("    l").append(level).append(": &l").append(level).append(" [");
            for (int i = 0; i < 10; i++) y.append(i == 0 ? "" : ", ").append("*l").append(level - 1);
            y.append("]\n");
        }
        y.append("spec:\n  clusterIP: 10.96.50.9\n  ports: [{port: 80}]\n");
        return y.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static long now() {
        return System.currentTimeMillis();
    }

    private static void sleepSeconds(int s) throws InterruptedException {
        Thread.sleep(s * 1000L);
    }

    private static void log(String s) {
        System.err.println("[fault] " + s);
    }
}
