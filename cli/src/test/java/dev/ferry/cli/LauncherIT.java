package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, as a newcomer runs it: the {@code ./ferry} launcher at the repository
 * root, on the shaded jar that {@code mvn package} built, running the embedded demo while a second
 * {@code ./ferry dump} reads its table.
 */
class LauncherIT {
    static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    static final Path FERRY = ROOT.resolve("ferry");

    @TempDir
    Path dir;

    record Result(int exit, String out) {}

    static Result ferry(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", FERRY.toString()));
        cmd.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "./ferry " + String.join(" ", args) + " hung");
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void theLauncherRunsTheShadedJar() throws Exception {
        Result r = ferry("version");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().startsWith("ferry "), r.out());
        assertFalse(r.out().contains("WARNING"), "the launcher passes every JVM flag the libraries need: " + r.out());
    }

    @Test
    void theDemoRunsAndASecondShellDumpsItsTable() throws Exception {
        Path state = dir.resolve("state");
        Path log = dir.resolve("demo.log");
        Process demo = new ProcessBuilder("bash", FERRY.toString(), "run", "--demo", "--state-dir", state.toString(),
                "--exit-after", "120").redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.currentTimeMillis() + 60_000;
            Result dump = null;
            while (System.currentTimeMillis() < deadline) {
                dump = ferry("dump", "services", "--state-dir", state.toString());
                if (dump.exit() == 0 && dump.out().contains("127.0.20.1")) break;
                assertTrue(demo.isAlive(), "the demo exited:\n" + Files.readString(log));
                Thread.sleep(200);
            }
            assertNotNull(dump);
            assertTrue(dump.out().contains("default") && dump.out().contains("web") && dump.out().contains("127.0.20.1"),
                    dump.out() + "\n--- demo log\n" + Files.readString(log));
            Result eps = ferry("dump", "endpoints", "default/web", "--state-dir", state.toString());
            assertEquals(0, eps.exit(), eps.out());
            assertTrue(eps.out().contains("127.0.10.1:18080"), eps.out());
        } finally {
            demo.destroy();
            if (!demo.waitFor(20, TimeUnit.SECONDS)) demo.destroyForcibly();
        }
        assertEquals(0, demo.exitValue(), "SIGTERM is a clean stop:\n" + Files.readString(log));
    }
}
