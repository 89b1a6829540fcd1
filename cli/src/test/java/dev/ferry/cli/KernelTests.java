package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Running a tool with a deadline, failing on a non-zero exit, for the cli tests that touch the
 * kernel (their root policy is {@code dev.ferry.testkit.KernelTest}).
 */
final class KernelTests {
    private KernelTests() {}

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
