package dev.ferry.bench.rules.nft;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftSyncer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * End-to-end nftables sync timing in a fresh network namespace per size: the first full sync, a
 * periodic full resync of the existing table, and a series of one-endpoint changes (partial syncs).
 * "In the kernel" is when a listener on the nf_tables netlink multicast group in the namespace
 * ({@code benchmarks/rules-nft/nft_events.py}, like {@code nft monitor} but without its start-up dump
 * of the whole rule set) receives the first notification of the transaction (the kernel sends
 * NEWRULE / NEWSETELEM at commit) — no listing of the rule set. Needs python3. Needs root, nft and iproute2; deletes its namespace at the end.
 *
 * <p>Usage: {@code java -cp benchmarks.jar dev.ferry.bench.rules.nft.NftSyncHarness [SIZES...]}
 * (default 1000 10000 30000; {@code -Dchanges=N} one-endpoint changes per size, default 20; run
 * from the repository root or pass {@code -Dnft.events=PATH} to the listener script).
 */
public final class NftSyncHarness {
    private NftSyncHarness() {}

    public static void main(String[] args) throws Exception {
        int[] sizes = args.length == 0 ? new int[] {1000, 10000, 30000} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        int changes = Integer.getInteger("changes", 20);
        System.out.println("| services | phase | payload lines | Java render ms | nft ms (list + apply) | sync() total ms | first netlink event of the change after sync() started, ms |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (int n : sizes) {
            run(n, changes);
        }
    }

    private static void run(int n, int changes) throws Exception {
        String ns = "fnftb" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        exec(30, "ip", "netns", "add", ns);
        Monitor monitor = null;
        try {
            exec(30, "ip", "-n", ns, "link", "set", "lo", "up");
            List<ServicePort> ports = new ArrayList<>(NftServiceFixture.services(n));
            NftOptions options = NftOptions.defaults().withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9")));
            NftSyncer syncer = new NftSyncer(options, KernelTool.inNamespace(ns, Duration.ofMinutes(20)));

            monitor = Monitor.start(ns);
            monitor.expect(" NEW");
            long t0 = System.nanoTime();
            SyncReport first = syncer.sync(ports, true);
            long t1 = System.nanoTime();
            row(n, "first full sync (empty kernel)", first, t1 - t0, monitor.await(t0, 120));

            monitor.expect(" NEWRULE");
            long r0 = System.nanoTime();
            SyncReport resync = syncer.sync(ports, true);
            long r1 = System.nanoTime();
            row(n, "full resync (table exists; incl. nft list chains/sets/maps)", resync, r1 - r0, monitor.await(r0, 120));

            List<double[]> samples = new ArrayList<>();
            for (int g = 0; g < changes; g++) {
                int i = (int) ((g * 7919L) % n);
                ServicePort changed = NftServiceFixture.withOneEndpointChanged(ports.get(i), g % NftServiceFixture.ENDPOINTS, g);
                ports.set(i, changed);
                // Any nf_tables message: the kernel sends them all when the transaction commits. (The first
                // message is DELRULE for a chain rewrite, DELSETELEM for element updates.) The only
                // writer in this namespace is the syncer.
                monitor.expect(" ");
                long c0 = System.nanoTime();
                SyncReport r = syncer.sync(ports, false);
                long c1 = System.nanoTime();
                if (r.full()) {
                    throw new IllegalStateException("change " + g + " was applied as a full sync");
                }
                double kernel = monitor.await(c0, 30);
                samples.add(new double[] {r.payloadLines(), r.renderNanos() / 1e6, r.applyNanos() / 1e6, (c1 - c0) / 1e6, kernel});
            }
            summarize(n, samples);
            if (Boolean.getBoolean("heap")) {
                // What the syncer keeps between syncs (its input and rendered state), next to the
                // fixture's own service ports, which every variant holds alike.
                for (int i = 0; i < 3; i++) {
                    System.gc();
                }
                long used = java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
                System.out.printf(Locale.ROOT, "heap after the changes, syncer alive: %.1f MB%n", used / 1e6);
                java.lang.ref.Reference.reachabilityFence(syncer);
            }
        } finally {
            if (monitor != null) {
                monitor.close();
            }
            exec(60, "ip", "netns", "del", ns);
        }
    }

    private static void row(int n, String phase, SyncReport r, long totalNanos, double kernelMs) {
        System.out.printf(Locale.ROOT, "| %d | %s | %d | %.1f | %.1f | %.1f | %s |%n", n, phase, r.payloadLines(),
                r.renderNanos() / 1e6, r.applyNanos() / 1e6, totalNanos / 1e6, kernelMs < 0 ? "—" : String.format(Locale.ROOT, "%.1f", kernelMs));
    }

    private static void summarize(int n, List<double[]> s) {
        String[] cols = new String[5];
        for (int c = 0; c < 5; c++) {
            double[] v = new double[s.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = s.get(i)[c];
            }
            Arrays.sort(v);
            double med = v[v.length / 2];
            double p90 = v[Math.min(v.length - 1, (int) Math.ceil(v.length * 0.9) - 1)];
            cols[c] = c == 0 ? String.format(Locale.ROOT, "%.0f", med)
                    : String.format(Locale.ROOT, "%.1f / %.1f / %.1f", med, p90, v[v.length - 1]);
        }
        System.out.printf(Locale.ROOT, "| %d | one-endpoint change, %d samples (median / p90 / max) | %s | %s | %s | %s | %s |%n",
                n, s.size(), cols[0], cols[1], cols[2], cols[3], cols[4]);
    }

    /** {@code nft monitor} in the namespace; records when a line containing the expected token arrives. */
    private static final class Monitor implements AutoCloseable {
        private final Process process;
        private volatile String token;
        private volatile long seenAt;

        private Monitor(Process p) {
            this.process = p;
        }

        static Monitor start(String ns) throws Exception {
            String script = System.getProperty("nft.events", "benchmarks/rules-nft/nft_events.py");
            Process p = new ProcessBuilder("ip", "netns", "exec", ns, "python3", script)
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Monitor m = new Monitor(p);
            m.expect("ready");
            Thread t = new Thread(m::read, "nft-events-" + ns);
            t.setDaemon(true);
            t.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (m.seenAt == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            if (m.seenAt == 0) {
                m.close();
                throw new IllegalStateException("the netlink listener " + script + " did not start in " + ns + " within 30 s");
            }
            return m;
        }

        void expect(String t) {
            seenAt = 0;
            token = t;
        }

        /** Milliseconds from start to the expected line, waiting at most timeoutSeconds; -1 when it never came. */
        double await(long start, int timeoutSeconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (seenAt == 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            return seenAt == 0 ? -1 : (seenAt - start) / 1e6;
        }

        /** Lines are "MONOTONIC_NS MESSAGE" (or "ready"); the listener's own timestamp is used. */
        private void read() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    String t = token;
                    if (t == null || seenAt != 0) {
                        continue;
                    }
                    if (line.equals("ready") && t.equals("ready")) {
                        seenAt = System.nanoTime();
                    } else if (line.contains(t)) {
                        int sp = line.indexOf(' ');
                        seenAt = sp > 0 ? Long.parseLong(line.substring(0, sp)) : System.nanoTime();
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // the process was closed
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String exec(int timeoutSeconds, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
