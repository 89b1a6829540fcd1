package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.runner.ManualClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * What the periodic-check tests of both rule modes share: a network namespace of their own (unique
 * name, deleted in close), a sync loop on a manual clock (it syncs on the test thread), and what a test expects of it.
 */
public final class DriftChecks implements AutoCloseable {
    public static final Duration PERIOD = Duration.ofSeconds(30);

    public final String netns = "fdrift" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    public final KernelTool tool = KernelTool.inNamespace(netns, Duration.ofSeconds(60));
    public final ManualClock clock = new ManualClock();

    public DriftChecks() throws IOException, InterruptedException {
        run("ip", "netns", "add", netns);
        run("ip", "-n", netns, "link", "set", "lo", "up");
    }

    public SyncLoop loop(RuleSyncer syncer) {
        return new SyncLoop("drift", syncer, PERIOD, new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)), clock);
    }

    /** Lets one sync period pass on the loop's clock (the check, and a repair, run before this returns). */
    public void nextPeriod(SyncLoop loop) {
        clock.advance(PERIOD);
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

    /**
     * Asserts what a sync or check must have done: on the manual clock the loop runs on the test
     * thread, so it is done when {@link SyncLoop#update} or {@link #nextPeriod} returns.
     */
    public static void expect(String what, BooleanSupplier condition) {
        assertTrue(condition.getAsBoolean(), what);
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
