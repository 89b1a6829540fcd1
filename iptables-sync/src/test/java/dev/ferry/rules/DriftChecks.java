package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * What the periodic-check tests of both rule modes share: a network namespace of their own (unique
 * name, deleted in close), a sync loop on a driven clock, and bounded waits for a condition.
 */
public final class DriftChecks implements AutoCloseable {
    public static final Duration PERIOD = Duration.ofSeconds(30);

    public final String netns = "fdrift" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    public final KernelTool tool = KernelTool.inNamespace(netns, Duration.ofSeconds(60));
    public final AtomicLong clock = new AtomicLong();

    public DriftChecks() throws IOException, InterruptedException {
        run("ip", "netns", "add", netns);
        run("ip", "-n", netns, "link", "set", "lo", "up");
    }

    public SyncLoop loop(RuleSyncer syncer) {
        return new SyncLoop("drift", syncer, PERIOD, new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)), clock::get);
    }

    /** Lets one sync period pass on the loop's clock. */
    public void nextPeriod(SyncLoop loop) {
        clock.addAndGet(PERIOD.toNanos());
        loop.poke();
    }

    /** Runs argv in the namespace; its output, or an exception with it when it fails. */
    public String inNetns(String... argv) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(argv));
        return run(full.toArray(new String[0]));
    }

    /** Whether argv succeeds in the namespace. */
    public boolean succeeds(String... argv) throws IOException, InterruptedException {
        try {
            inNetns(argv);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what + " within 20 s");
            Thread.sleep(5);
        }
    }

    static String run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", argv) + " failed: " + out);
        }
        return out;
    }

    @Override
    public void close() {
        try {
            run("ip", "netns", "del", netns);
        } catch (IOException | InterruptedException e) {
            System.err.println("could not delete netns " + netns + ": " + e.getMessage());
        }
    }
}
