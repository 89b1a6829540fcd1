package dev.ferry.conntrack;

import static dev.ferry.conntrack.Tables.backend;
import static dev.ferry.conntrack.Tables.ip;
import static dev.ferry.conntrack.Tables.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry dump conntrack} runs in its own JVM while the daemon holds the maps open. */
class SecondProcessReadTest {
    @TempDir
    Path dir;

    @Test
    void anotherJvmListsTheLiveDaemonsFlowsAffinityAndCounts() throws Exception {
        long now = System.currentTimeMillis();
        try (ConntrackState s = ConntrackState.open(dir, ConntrackConfig.DEFAULTS.withMaxFlows(1000).withMaxAffinities(1000))) {
            s.flows().record(udp(1, 40000), backend(3, 5353), now);
            s.flows().record(udp(2, 40001), backend(4, 5353), now);
            s.affinity().record(new AffinityKey().clientIpv4(ip(192, 168, 7, 1)).servicePortId(0x2a), backend(5, 80), now);
            s.connections().increment(backend(6, 443));

            Result r = runDump(dir);
            assertEquals(0, r.exit, "dump failed:\n" + r.err);
            assertTrue(r.out.contains("flow udp /10.0.0.1:40000 -> /10.96.0.10:53 backend=/10.1.0.3:5353"), r.out);
            assertTrue(r.out.contains("flow udp /10.0.0.2:40001 -> /10.96.0.10:53 backend=/10.1.0.4:5353"), r.out);
            assertTrue(r.out.contains("affinity 192.168.7.1 svc=2a backend=/10.1.0.5:80"), r.out);
            assertTrue(r.out.contains("connections /10.1.0.6:443 1"), r.out);

            // The daemon keeps working after the reader came and went.
            s.flows().record(udp(3, 40002), backend(3, 5353), now);
            assertEquals(3, s.flows().entries());
            assertTrue(runDump(dir).out.contains("/10.0.0.3:40002"));
        }
    }

    record Result(int exit, String out, String err) {}

    static Result runDump(Path stateDir) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String flags = System.getenv("FERRY_JVM_FLAGS");
        if (flags == null || flags.isBlank()) {
            // Never start Chronicle without the flags that stop it reporting usage over the network.
            throw new IllegalStateException("FERRY_JVM_FLAGS is not set: run the tests through Maven (surefire sets it)");
        }
        cmd.addAll(List.of(flags.trim().split("\\s+")));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(DumpMain.class.getName());
        cmd.add(stateDir.toString());
        Process p = new ProcessBuilder(cmd).start();
        // Read both streams fully before waiting (small outputs; no deadlock risk at this size).
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("dump did not finish in 120 s");
        }
        return new Result(p.exitValue(), out, err);
    }
}
