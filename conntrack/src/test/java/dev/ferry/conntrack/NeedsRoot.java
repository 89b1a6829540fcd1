package dev.ferry.conntrack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The one place for the policy on tests that need root and kernel tools: on a developer machine
 * without them the test is skipped with the reason; in CI (env CI=true) it fails, so a CI that
 * lost root or a package cannot pass by skipping the kernel tests.
 */
final class NeedsRoot {
    private NeedsRoot() {}

    static void require(String why, String... tools) {
        if (!isRoot()) {
            unavailable(why + " needs root (network namespaces, iptables, conntrack)");
        }
        for (String tool : tools) {
            if (!onPath(tool)) {
                unavailable(why + " needs the '" + tool + "' binary (apt-get install iproute2 iptables conntrack socat)");
            }
        }
    }

    private static void unavailable(String message) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            Assertions.fail("CI=true, so not skipping: " + message);
        }
        Assumptions.abort(message);
    }

    static boolean isRoot() {
        try {
            Process p = new ProcessBuilder("id", "-u").start();
            String uid = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return "0".equals(uid);
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        // Debian keeps conntrack/iptables in /usr/sbin, which a non-login PATH may lack.
        return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
    }
}
