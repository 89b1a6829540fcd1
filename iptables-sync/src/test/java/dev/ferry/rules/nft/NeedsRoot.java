package dev.ferry.rules.nft;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Policy for tests that need root, network namespaces and kernel tools: skipped with the reason on
 * a machine without them, failed when CI=true so a CI that lost root or a package cannot pass.
 */
final class NeedsRoot {
    private NeedsRoot() {}

    static void require(String why, String... tools) {
        if (!isRoot()) {
            unavailable(why + " needs root (network namespaces, nft)");
        }
        for (String tool : tools) {
            if (!onPath(tool)) {
                unavailable(why + " needs the '" + tool + "' binary (apt-get install nftables iproute2 socat)");
            }
        }
    }

    private static void unavailable(String message) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            Assertions.fail("CI=true, so not skipping: " + message);
        }
        Assumptions.abort(message);
    }

    private static boolean isRoot() {
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

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
    }
}
