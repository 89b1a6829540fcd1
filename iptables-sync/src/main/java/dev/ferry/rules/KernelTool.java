package dev.ferry.rules;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The one way Ferry runs a kernel tool (iptables-restore, ip6tables-restore, iptables, nft, ipvsadm,
 * ipset, conntrack, ip): an optional payload on stdin, a deadline after which the tool is killed,
 * output read while it runs (so a full pipe never stalls it) and kept up to a bound
 * ({@link #MAX_STDOUT_BYTES}; stderr to {@link #MAX_STDERR_BYTES}, the rest counted), and errors
 * that name the command line. A non-empty prefix runs them elsewhere, e.g. {@code [ip, netns, exec,
 * NS]} for a test's network namespace.
 *
 * <p>The xtables lock: iptables tools are always given {@code -w SECONDS} by the callers that build
 * their argv ({@link #xtablesWaitArgs()}), so a concurrent iptables user (kubelet, a CNI plugin) makes
 * Ferry wait instead of fail; if the lock is still held after the wait the tool fails and the sync
 * loop retries with back-off.
 *
 * <p>Thread-safe: holds only immutable configuration; every call starts its own process.
 */
public final class KernelTool {
    private static final int STDIN_CHUNK = 64 * 1024;
    /**
     * Standard output kept per call; a tool that writes more fails the call (a cut listing parsed as
     * whole would be wrong). iptables-save of 10 000 kube-proxy services is ~30 MB.
     */
    public static final int MAX_STDOUT_BYTES = 256 << 20;
    /** Standard error kept per call (the first errors say what went wrong; the rest is counted). */
    public static final int MAX_STDERR_BYTES = 1 << 20;
    /** How long an iptables tool waits for the xtables lock before giving up. */
    public static final int XTABLES_WAIT_SECONDS = 5;

    private final List<String> prefix;
    private final Duration timeout;
    private final int maxStdout;
    private final int maxStderr;

    /** Runs tools directly, with a 120 s deadline per call (a 30 000-service restore takes a while). */
    public KernelTool() {
        this(List.of(), Duration.ofSeconds(120));
    }

    public KernelTool(List<String> prefix, Duration timeout) {
        this(prefix, timeout, MAX_STDOUT_BYTES, MAX_STDERR_BYTES);
    }

    private KernelTool(List<String> prefix, Duration timeout, int maxStdout, int maxStderr) {
        this.prefix = List.copyOf(prefix);
        this.timeout = timeout;
        this.maxStdout = maxStdout;
        this.maxStderr = maxStderr;
    }

    /** This runner with other output bounds (bytes kept from stdout, which fails a call beyond it, and stderr). */
    public KernelTool withOutputLimits(int stdoutBytes, int stderrBytes) {
        return new KernelTool(prefix, timeout, stdoutBytes, stderrBytes);
    }

    /** This runner with another deadline per call. */
    public KernelTool withTimeout(Duration timeout) {
        return new KernelTool(prefix, timeout, maxStdout, maxStderr);
    }

    /** A runner executing inside the named network namespace (via {@code ip netns exec}). */
    public static KernelTool inNamespace(String netns, Duration timeout) {
        return new KernelTool(List.of("ip", "netns", "exec", netns), timeout);
    }

    /** The arguments that make an iptables tool wait for the xtables lock. */
    public static List<String> xtablesWaitArgs() {
        return List.of("-w", Integer.toString(XTABLES_WAIT_SECONDS));
    }

    public List<String> prefix() {
        return prefix;
    }

    /** Runs argv with no input. */
    public ToolResult run(List<String> argv) throws IOException {
        return run(argv, null);
    }

    /**
     * Runs argv with stdin (null for none). Never throws for a non-zero exit: the caller decides what
     * a failure means. Throws IOException when the tool cannot be started or misses its deadline (it
     * is then killed).
     */
    public ToolResult run(List<String> argv, String stdin) throws IOException {
        return run(argv, stdin, true);
    }

    /**
     * As {@link #run(List, String)}, with the tool's standard output thrown away by the kernel rather
     * than read (the result's stdout is then empty): for a restore whose only output is a listing
     * nobody reads, e.g. iptables-nft-restore's {@code -S}, 26 MB at 10 000 services.
     */
    public ToolResult runDiscardingOutput(List<String> argv, String stdin) throws IOException {
        return run(argv, stdin, false);
    }

    private ToolResult run(List<String> argv, String stdin, boolean keepStdout) throws IOException {
        List<String> full = new ArrayList<>(prefix.size() + argv.size());
        full.addAll(prefix);
        full.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(full);
        pb.environment().put("PATH", System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin");
        if (!keepStdout) {
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new CannotStartException("cannot run " + full.get(0) + " (" + e.getMessage() + "): is it installed and on the PATH ("
                    + pb.environment().get("PATH") + ")? Command: " + String.join(" ", full), e);
        }
        // Drain both pipes concurrently with the write: a tool that reports errors while we are
        // still feeding it a large payload must not deadlock on a full stderr pipe.
        CompletableFuture<Captured> out = keepStdout ? drain(p.getInputStream(), maxStdout, "stdout")
                : CompletableFuture.completedFuture(Captured.NONE);
        CompletableFuture<Captured> err = drain(p.getErrorStream(), maxStderr, "stderr");
        // Encoded as it is written, 64 KiB at a time: a full sync's payload (megabytes at 10 000
        // services) is never copied whole into a byte array next to its text.
        try (OutputStream in = p.getOutputStream();
             java.io.Writer w = new java.io.OutputStreamWriter(in, StandardCharsets.UTF_8)) {
            if (stdin != null) {
                for (int i = 0; i < stdin.length(); i += STDIN_CHUNK) {
                    w.write(stdin, i, Math.min(STDIN_CHUNK, stdin.length() - i));
                }
            }
        } catch (IOException e) {
            // The tool exited early (a broken pipe); its exit code and stderr say why.
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", full) + " did not finish within " + timeout + " and was killed");
            }
            Captured o = out.get(10, TimeUnit.SECONDS);
            Captured e = err.get(10, TimeUnit.SECONDS);
            if (o.total() > maxStdout) {
                throw new IOException(String.join(" ", full) + " wrote " + o.total() + " bytes to stdout, more than the "
                        + maxStdout + " Ferry reads from a tool");
            }
            String stderr = e.total() > maxStderr
                    ? e.text() + "\n[" + (e.total() - maxStderr) + " more bytes of stderr not kept]" : e.text();
            return new ToolResult(full, p.exitValue(), o.text(), stderr);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", full), e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            p.destroyForcibly();
            throw new IOException("could not read the output of " + String.join(" ", full)
                    + " (a child it started may hold the pipe open)", e);
        }
    }

    /** The first {@code limit} bytes a stream carried, as text, and how many it carried in all. */
    private record Captured(String text, long total) {
        static final Captured NONE = new Captured("", 0);
    }

    /** Reads s to its end on a thread of its own, keeping at most limit bytes. */
    private static CompletableFuture<Captured> drain(InputStream s, int limit, String name) {
        CompletableFuture<Captured> done = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
            long total = 0;
            byte[] chunk = new byte[8192];
            try (s) {
                for (int n; (n = s.read(chunk)) >= 0; ) {
                    int keep = (int) Math.max(0, Math.min(n, limit - total));
                    kept.write(chunk, 0, keep);
                    total += n;
                }
            } catch (IOException e) {
                // the process is gone; what was read is what there is
            }
            done.complete(new Captured(kept.toString(StandardCharsets.UTF_8), total));
        }, "ferry-tool-" + name);
        t.setDaemon(true);
        t.start();
        return done;
    }

    /** The tool could not be started at all (not installed, not executable): callers may add what to install. */
    public static final class CannotStartException extends IOException {
        CannotStartException(String message, IOException cause) {
            super(message, cause);
        }
    }

    /** Runs argv and throws with its stderr when it fails. */
    public ToolResult runChecked(List<String> argv, String stdin) throws IOException {
        ToolResult r = run(argv, stdin);
        if (!r.ok()) {
            throw new IOException(r.commandLine() + " failed with exit code " + r.exitCode() + ": " + r.stderr().strip());
        }
        return r;
    }
}
