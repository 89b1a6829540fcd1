package dev.ferry.rules;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Tests that need root and kernel tools: skipped with the reason on a machine without them, failed
 * when CI=true (a CI that lost root or a package must not pass by skipping).
 */
public final class RootRequired {
    private RootRequired() {}

    public static void require(String why, String... tools) {
        if (!"root".equals(System.getProperty("user.name"))) {
            unavailable(why + " needs root (network namespaces, iptables-restore, conntrack)");
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

    private static boolean onPath(String tool) {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
