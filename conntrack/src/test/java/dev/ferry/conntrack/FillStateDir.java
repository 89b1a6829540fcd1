package dev.ferry.conntrack;

import java.nio.file.Path;

/**
 * Fills a state directory with N flows and N affinity entries, for measuring how long another
 * process takes to open and list them (see benchmarks/RESULTS.md) and for the tests'
 * child processes.
 */
public final class FillStateDir {
    private FillStateDir() {}

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int n = Integer.parseInt(args[1]);
        long now = System.currentTimeMillis();
        long t0 = System.nanoTime();
        ConntrackConfig cfg = ConntrackConfig.DEFAULTS.withMaxFlows(Math.max(n, 1024)).withMaxAffinities(Math.max(n, 1024));
        try (ConntrackState s = ConntrackState.open(dir, cfg)) {
            System.err.printf("opened in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            fill(s, n, now);
            System.err.printf("filled %d in %d ms%n", s.flows().entries(), (System.nanoTime() - t0) / 1_000_000);
        }
    }

    static void fill(ConntrackState s, int n, long now) {
        FlowKey k = new FlowKey().frontendIpv4(0x0a600001).frontendPort(53);
        AffinityKey a = new AffinityKey().servicePortId(42);
        Endpoint b = new Endpoint().port(5353);
        for (int i = 0; i < n; i++) {
            k.clientIpv4(0x0a000000 + (i >>> 8)).clientPort(10000 + (i & 0xff));
            b.ipv4(0x0a010000 + (i % 50));
            s.flows().record(k, b, now);
            a.clientIpv4(0x0a000000 + i);
            s.affinity().record(a, b, now);
        }
        s.connections().increment(b);
    }
}
