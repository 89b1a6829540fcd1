package dev.ferry.testkit;

import java.io.IOException;
import java.lang.reflect.AnnotatedElement;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The one place for the project's rule on tests that need what a developer machine may lack (root,
 * a kernel tool, a control plane): skipped with the reason there, failed when {@code CI=true}.
 * Registered by {@link KernelTest}; the static methods are for tests whose needs are only known at
 * run time. Stateless and thread-safe.
 */
public final class KernelTestPolicy implements BeforeAllCallback, BeforeEachCallback {
    private static final List<String> SYSTEM_DIRS = List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin");

    @Override
    public void beforeAll(ExtensionContext context) {
        check(context.getTestClass());
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        check(context.getTestMethod());
    }

    private static void check(Optional<? extends AnnotatedElement> element) {
        element.map(e -> e.getAnnotation(KernelTest.class)).ifPresent(k -> requireRoot(k.value(), k.tools()));
    }

    /** Root and every tool in {@code tools}, or a skip (a failure under CI=true) naming what is missing. */
    public static void requireRoot(String why, String... tools) {
        enforce(missing(why, isRoot(), KernelTestPolicy::onPath, tools), ci());
    }

    /** Every tool in {@code tools} (no root needed), or a skip (a failure under CI=true) naming what is missing. */
    public static void requireTools(String why, String... tools) {
        enforce(missing(why, true, KernelTestPolicy::onPath, tools), ci());
    }

    /** Skips with {@code message}, or fails with it under CI=true. */
    public static void unavailable(String message) {
        enforce(message, ci());
    }

    /** What is missing for {@code why}, or null when nothing is. */
    static String missing(String why, boolean root, Predicate<String> installed, String... tools) {
        List<String> absent = new ArrayList<>();
        if (!root) {
            absent.add("root");
        }
        for (String tool : tools) {
            if (!installed.test(tool)) {
                absent.add("the '" + tool + "' binary");
            }
        }
        return absent.isEmpty() ? null : why + " needs " + String.join(" and ", absent)
                + " (CI installs them; see .ci/run)";
    }

    /** The decision itself: nothing when {@code missing} is null, else a skip, or a failure when {@code ci}. */
    static void enforce(String missing, boolean ci) {
        if (missing == null) {
            return;
        }
        if (ci) {
            Assertions.fail("CI=true, so not skipping: " + missing);
        }
        Assumptions.abort(missing);
    }

    static boolean ci() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** The effective uid from /proc (no child process); the user name where /proc is not readable. */
    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return "0".equals(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc not mounted: fall through
        }
        return "root".equals(System.getProperty("user.name"));
    }

    /** Whether {@code tool} is an executable on PATH or in the system directories a non-login PATH may lack. */
    public static boolean onPath(String tool) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(SYSTEM_DIRS);
        for (String dir : dirs) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
