package dev.ferry.cli;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A `ferry` process started from the test class path with Ferry's JVM flags, its output in a file.
 * Always bounded: it is started with --exit-after, and close() kills it.
 */
final class DaemonProcess implements AutoCloseable {
    final Process process;
    final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    static List<String> javaCommand(String... args) {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String flags = System.getenv("FERRY_JVM_FLAGS");
        if (flags != null && !flags.isBlank()) cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
        cmd.addAll(List.of("-cp", cp, FerryCommand.class.getName()));
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    static DaemonProcess start(Path log, String... args) throws IOException {
        return start(List.of(), log, args);
    }

    /**
     * Starts ferry under {@code wrapper} (e.g. {@code sh -c 'umask 000; exec "$@"' sh}, which must
     * exec its arguments so the process is the JVM), working directory the log's folder (where a
     * crashing JVM would leave its hs_err file).
     */
    static DaemonProcess start(List<String> wrapper, Path log, String... args) throws IOException {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        all.addAll(List.of("--exit-after", "120"));
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.addAll(javaCommand(all.toArray(String[]::new)));
        Process p = new ProcessBuilder(cmd).directory(log.toAbsolutePath().getParent().toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new DaemonProcess(p, log);
    }

    String output() {
        try {
            return java.nio.file.Files.readString(log);
        } catch (IOException e) {
            return "<no log: " + e + ">";
        }
    }

    /** Polls until cond holds, at most timeoutMillis; fails with the daemon's log otherwise. */
    void await(String what, long timeoutMillis, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            if (cond.getAsBoolean()) return;
            if (!process.isAlive()) {
                throw new AssertionError("ferry exited (" + process.exitValue() + ") before " + what + ":\n" + output());
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for " + what + ":\n" + output());
    }

    /** SIGTERM, as the kubelet sends; returns the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
            throw new AssertionError("ferry did not stop on SIGTERM:\n" + output());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static String pathSep() {
        return File.pathSeparator;
    }
}
