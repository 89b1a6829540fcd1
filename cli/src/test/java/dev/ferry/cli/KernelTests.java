package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * What the cli tests that touch the kernel share: the root policy (skip with the reason without
 * root, fail instead under CI=true) and running a tool with a deadline, failing on a non-zero exit.
 */
final class KernelTests {
    private KernelTests() {}

    static void requireRoot(String why) {
        boolean root = "root".equals(System.getProperty("user.name"));
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(root, why + " (CI=true: not skipping)");
        } else {
            Assumptions.assumeTrue(root, why);
        }
    }

    /** Runs argv (stdin from input when not null) and returns its output; fails on a non-zero exit or after 30 s. */
    static String run(String input, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        if (input != null) {
            p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", argv) + " hung");
        assertEquals(0, p.exitValue(), String.join(" ", argv) + ": " + out);
        return out;
    }
}
