package dev.ferry.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.testkit.KernelTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conntrack maps on a full filesystem (a 4 MiB tmpfs mounted in a private mount namespace that
 * lives as long as the child JVM). Chronicle Map preallocates its files (posix_fallocate), so maps
 * that exist reopen and keep working; creating new ones is a clear error naming the state
 * directory and the free space, and nothing is moved aside as if it were corrupt.
 */
class FullDiskTest {
    @TempDir
    Path dir;

    @KernelTest(value = "mounting a tmpfs in a private mount namespace", tools = {"unshare", "mount"})
    @Test
    void onAFullDiskExistingMapsReopenAndNewOnesAreAClearErrorNamingTheDirectory() throws Exception {
        Path mnt = dir.resolve("mnt");
        Files.createDirectory(mnt);
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "--propagation", "private", "sh", "-c",
                "mount -t tmpfs -o size=4m,mode=0700 ferry-test-tmpfs \"$0\" && exec \"$@\"", mnt.toString(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        String flags = System.getenv("FERRY_JVM_FLAGS");
        if (flags == null || flags.isBlank()) {
            throw new IllegalStateException("FERRY_JVM_FLAGS is not set: run the tests through Maven (surefire sets it)");
        }
        cmd.addAll(List.of(flags.trim().split("\\s+")));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), FullDiskMain.class.getName(), mnt.toString()));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("filled: No space left on device"), out);
        assertTrue(out.contains("used opened: 100 flows"), out);
        assertTrue(out.contains("fresh refused: no space in state directory " + mnt.resolve("fresh") + " for conntrack map"), out);
        assertFalse(out.contains(".corrupt-"), "a full disk must not make maps look corrupt:\n" + out);
        assertTrue(out.contains("\nflows.v2.cmap\n"), out);
    }
}
