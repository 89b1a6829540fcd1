package dev.ferry.bench.rules.iptables;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.iptables.IptablesBackend;
import dev.ferry.rules.iptables.IptablesSyncer;
import dev.ferry.rules.iptables.RenderOptions;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftSyncer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * End-to-end render + apply, iptables mode against nftables mode side by side in one run (A B A B):
 * for each size, each mode gets a fresh network namespace and does a first full sync (empty kernel),
 * a full resync over its own rules, and a series of one-endpoint changes (partial syncs). "Applied"
 * is when the tool (iptables-restore / nft -f) has exited 0: both commit their netlink batch before
 * exiting. Needs root, iptables, nft, iproute2. Deletes its namespaces at the end.
 *
 * <p>Usage: {@code java -Xmx3g -cp benchmarks.jar dev.ferry.bench.rules.iptables.RulesSyncHarness [SIZES...]}
 * (default 1000 10000 30000; {@code -Dchanges=N} one-endpoint changes per mode and round, default 10;
 * {@code -Drounds=N} A B rounds, default 2; {@code -Dmodes=iptables,nftables}, where iptables runs the
 * unsuffixed binaries and iptables-legacy / iptables-nft a named backend; {@code -DapplyTimeout=SECONDS}
 * per tool run, default 1800: a full sync that misses it is reported as not finished and that mode's
 * size is skipped; {@code -Dresync=false} skips the full resync, for a backend whose full sync takes minutes). Columns: render = Java time of the sync, apply = the tools (kernel side included),
 * total = the whole {@code RuleSyncer.sync()} call.
 */
public final class RulesSyncHarness {
    private RulesSyncHarness() {}

    public static void main(String[] args) throws Exception {
        int[] sizes = args.length == 0 ? new int[] {1000, 10000, 30000} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        int changes = Integer.getInteger("changes", 10);
        int rounds = Integer.getInteger("rounds", 2);
        List<String> modes = List.of(System.getProperty("modes", "iptables,nftables").split(","));
        System.out.println("| services | mode | round | phase | payload lines | render ms | apply ms | total ms (median of changes) | p90 / max total ms |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (int n : sizes) {
            List<ServicePort> ports = ServiceFixture.services(n);
            for (int round = 1; round <= rounds; round++) {
                for (String mode : modes) {
                    run(n, mode, round, ports, changes);
                }
            }
        }
    }

    private static void run(int n, String mode, int round, List<ServicePort> base, int changes) throws Exception {
        String ns = "fipb" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        KernelTool host = new KernelTool(List.of(), Duration.ofSeconds(30));
        host.runChecked(List.of("ip", "netns", "add", ns), null);
        try {
            host.runChecked(List.of("ip", "-n", ns, "link", "set", "lo", "up"), null);
            long timeout = Long.getLong("applyTimeout", 1800);
            KernelTool tool = KernelTool.inNamespace(ns, Duration.ofSeconds(timeout));
            RuleSyncer syncer = mode.startsWith("iptables")
                    ? new IptablesSyncer(tool, RenderOptions.defaults(false).withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9"))),
                            true, false, null, mode.equals("iptables") ? IptablesBackend.SYSTEM
                            : IptablesBackend.named(mode.substring("iptables-".length())))
                    : new NftSyncer(NftOptions.defaults().withClusterCidrs(List.of(Cidr.parse("10.128.0.0/9"))), tool);
            List<ServicePort> ports = new ArrayList<>(base);
            long t0 = System.nanoTime();
            SyncReport first;
            try {
                first = syncer.sync(ports, true);
            } catch (IOException e) {
                System.out.printf(Locale.ROOT, "| %d | %s | %d | first full sync (empty kernel) | | | **not finished: %s** | %.1f | |%n",
                        n, mode, round, e.getMessage().replace('|', '/'), (System.nanoTime() - t0) / 1e6);
                return;
            }
            row(n, mode, round, "first full sync (empty kernel)", first, System.nanoTime() - t0);
            if (!"false".equals(System.getProperty("resync"))) {
                t0 = System.nanoTime();
                SyncReport again = syncer.sync(ports, true);
                row(n, mode, round, "full resync (rules present)", again, System.nanoTime() - t0);
            }
            long[] totals = new long[changes];
            long[] renders = new long[changes];
            long[] applies = new long[changes];
            int lines = 0;
            for (int c = 0; c < changes; c++) {
                int k = (int) ((c * 7919L + round * 104729L) % n);
                ports.set(k, ServiceFixture.service(k, c + 1 + round * 1000));
                long s = System.nanoTime();
                SyncReport r = syncer.sync(ports, false);
                totals[c] = System.nanoTime() - s;
                renders[c] = r.renderNanos();
                applies[c] = r.applyNanos();
                lines = r.payloadLines();
            }
            Arrays.sort(totals);
            Arrays.sort(renders);
            Arrays.sort(applies);
            System.out.printf(Locale.ROOT, "| %d | %s | %d | one-endpoint change (x%d, medians) | %d | %.1f | %.1f | %.1f | %.1f / %.1f |%n",
                    n, mode, round, changes, lines, renders[changes / 2] / 1e6, applies[changes / 2] / 1e6,
                    totals[changes / 2] / 1e6,
                    totals[Math.min(changes - 1, (int) Math.ceil(changes * 0.9) - 1)] / 1e6, totals[changes - 1] / 1e6);
        } finally {
            host.run(List.of("ip", "netns", "del", ns));
        }
    }

    private static void row(int n, String mode, int round, String phase, SyncReport r, long totalNanos) {
        System.out.printf(Locale.ROOT, "| %d | %s | %d | %s | %d | %.1f | %.1f | %.1f | |%n", n, mode, round, phase,
                r.payloadLines(), r.renderNanos() / 1e6, r.applyNanos() / 1e6, totalNanos / 1e6);
    }
}
