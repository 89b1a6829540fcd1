package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one runner for kernel tools: bounded output, a deadline, errors that name the command. */
class KernelToolTest {
    private final KernelTool tool = new KernelTool(List.of(), Duration.ofSeconds(30));

    @Test
    void stdoutBeyondTheBoundFailsTheCallNamingTheCommandAndTheSize() {
        KernelTool small = tool.withOutputLimits(1000, 1000);
        IOException e = assertThrows(IOException.class, () -> small.run(List.of("head", "-c", "5000", "/dev/zero")));
        assertTrue(e.getMessage().contains("head -c 5000 /dev/zero wrote 5000 bytes to stdout, more than the 1000"),
                e.getMessage());
    }

    @Test
    void stderrBeyondTheBoundIsCutAndTheRestCounted() throws Exception {
        ToolResult r = tool.withOutputLimits(1000, 100).run(List.of("sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x >&2; exit 3"));
        assertEquals(3, r.exitCode());
        assertTrue(r.stderr().startsWith("x".repeat(100) + "\n[4900 more bytes of stderr not kept]"), r.stderr());
    }

    @Test
    void outputLargerThanAPipeDoesNotStallTheTool() throws Exception {
        ToolResult r = tool.run(List.of("sh", "-c", "head -c 3000000 /dev/zero; head -c 300000 /dev/zero >&2"));
        assertEquals(0, r.exitCode());
        assertEquals(3_000_000, r.stdout().length());
        assertEquals(300_000, r.stderr().length());
    }

    @Test
    void aMissingToolIsAClearError() {
        IOException e = assertThrows(IOException.class, () -> tool.run(List.of("ferry-no-such-tool", "-x")));
        assertTrue(e.getMessage().startsWith("cannot run ferry-no-such-tool (") && e.getMessage().contains("PATH"), e.getMessage());
    }

    @Test
    void aToolPastItsDeadlineIsKilledAndNamed() {
        IOException e = assertThrows(IOException.class,
                () -> tool.withTimeout(Duration.ofMillis(200)).run(List.of("sleep", "30")));
        assertTrue(e.getMessage().startsWith("sleep 30 did not finish within PT0.2S and was killed"), e.getMessage());
    }
}
