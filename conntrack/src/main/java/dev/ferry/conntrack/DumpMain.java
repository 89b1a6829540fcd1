package dev.ferry.conntrack;

import java.nio.file.Path;

/**
 * Prints the conntrack tables of a state directory, one line per entry: a minimal stand-in for
 * {@code ferry dump conntrack} used to measure how fast a fresh JVM can list them, and by the
 * tests that read the maps from a second process.
 */
public final class DumpMain {
    private DumpMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: DumpMain STATE_DIR");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        try (ConntrackReader r = ConntrackReader.open(Path.of(args[0]))) {
            print(r);
        } catch (java.io.IOException e) {
            System.err.println("ferry: " + e.getMessage());
            System.exit(1);
        }
        System.err.printf("listed in %d ms after main() started%n", (System.nanoTime() - t0) / 1_000_000);
    }

    private static void print(ConntrackReader r) throws java.io.IOException {
        {
            StringBuilder sb = new StringBuilder();
            for (ConntrackReader.FlowEntry f : r.flows()) {
                sb.append("flow ").append(f.protocol() == 17 ? "udp" : String.valueOf(f.protocol()))
                        .append(' ').append(f.client()).append(" -> ").append(f.frontend())
                        .append(" backend=").append(f.backend()).append(" lastSeen=").append(f.lastSeenMillis()).append('\n');
            }
            for (ConntrackReader.AffinityEntry a : r.affinities()) {
                sb.append("affinity ").append(a.client().getHostAddress()).append(" svc=").append(Long.toHexString(a.servicePortId()))
                        .append(" backend=").append(a.backend()).append(" expires=").append(a.expiresAtMillis()).append('\n');
            }
            for (ConntrackReader.BackendCount c : r.connections()) {
                sb.append("connections ").append(c.backend()).append(' ').append(c.connections()).append('\n');
            }
            System.out.print(sb);
        }
    }
}
