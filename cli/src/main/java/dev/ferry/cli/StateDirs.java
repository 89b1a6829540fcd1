package dev.ferry.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the mapped tables live when --state-dir is not given. `ferry run` and `ferry dump` resolve
 * it the same way, so a dump in a second shell finds the daemon without flags: $FERRY_STATE_DIR,
 * else /run/ferry when we may write there (root, as in the DaemonSet), else a per-user directory
 * under the temp dir (the no-root demo).
 */
final class StateDirs {
    static final Path SYSTEM = Path.of("/run/ferry");

    private StateDirs() {}

    static Path resolve(Path explicit) {
        if (explicit != null) {
            return explicit;
        }
        String env = System.getenv("FERRY_STATE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        if (Files.isDirectory(SYSTEM) ? Files.isWritable(SYSTEM) : Files.isWritable(SYSTEM.getParent())) {
            return SYSTEM;
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "ferry-" + System.getProperty("user.name", "user"));
    }
}
