package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A shutdown that hangs is ended by the watchdog, which says where it hung. */
class ShutdownWatchdogTest {
    @Test
    void aHungShutdownIsHaltedWithExit1AndTheStuckStepAndThreadsLogged() throws Exception {
        List<String> cmd = DaemonProcess.javaCommand("500");
        cmd.set(cmd.size() - 2, StuckShutdownMain.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        boolean exited = p.waitFor(60, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(exited, "the watchdog did not end a hung JVM:\n" + out);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("shutdown did not finish within 500 ms (stuck: closing something that never returns)"), out);
        assertTrue(out.contains("\"stuck-non-daemon\""), "every thread's stack is logged:\n" + out);
    }
}
