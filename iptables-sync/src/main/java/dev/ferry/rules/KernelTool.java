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
 * Runs the kernel's rule tools (iptables-restore, ip6tables-restore, iptables, nft, ipvsadm, ipset,
 * conntrack) with an optional payload on stdin and a deadline. A non-empty prefix runs them elsewhere,
 * e.g. {@code [ip, netns, exec, NS]} for a test's network namespace.
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
    /** How long an iptables tool waits for the xtables lock before giving up. */
    public static final int XTABLES_WAIT_SECONDS = 5;

    private final List<String> prefix;
    private final Duration timeout;

    /** Runs tools directly, with a 120 s deadline per call (a 30 000-service restore takes a while). */
    public KernelTool() {
        this(List.of(), Duration.ofSeconds(120));
    }

    public KernelTool(List<String> prefix, Duration timeout) {
        this.prefix = List.copyOf(prefix);
        this.timeout = timeout;
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
        Process p = pb.start();
        // Drain both pipes concurrently with the write: a tool that reports errors while we are
        // still feeding it a large payload must not deadlock on a full stderr pipe.
        CompletableFuture<String> out = keepStdout ? CompletableFuture.supplyAsync(() -> drain(p.getInputStream()))
                : CompletableFuture.completedFuture("");
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
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
                throw new IOException(String.join(" ", full) + " did not finish within " + timeout);
            }
            return new ToolResult(full, p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", full), e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("could not read the output of " + String.join(" ", full), e);
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

    private static String drain(InputStream s) {
        try (s) {
            return new String(s.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
