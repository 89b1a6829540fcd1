package dev.ferry.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Network namespaces for one test run: a unique name prefix, commands with deadlines, child JVMs
 * started inside a namespace with Ferry's JVM flags and the test class path, and {@link #close()}
 * that kills exactly those children and deletes exactly those namespaces. For tests marked
 * {@link KernelTest} (it needs root and iproute2). Not thread-safe.
 */
public final class Netns implements AutoCloseable {
    /** Starts every namespace name of this run (unique per run, so parallel runs never collide). */
    public final String prefix = "fp" + UUID.randomUUID().toString().substring(0, 5);
    private final List<String> namespaces = new ArrayList<>();
    private final List<Child> children = new ArrayList<>();

    public String add(String suffix) throws IOException {
        String ns = prefix + suffix;
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    /** A veth between two namespaces with an address on each end (CIDR notation). */
    public void link(String nsA, String ifA, String addrA, String nsB, String ifB, String addrB) throws IOException {
        run("ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB);
        run("ip", "-n", nsA, "addr", "add", addrA, "dev", ifA);
        run("ip", "-n", nsB, "addr", "add", addrB, "dev", ifB);
        run("ip", "-n", nsA, "link", "set", ifA, "up");
        run("ip", "-n", nsB, "link", "set", ifB, "up");
    }

    public static String run(String... argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + ": no answer in 20 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", argv) + " failed: " + out.strip());
        }
        return out;
    }

    /** Starts {@code mainClass} in a child JVM inside {@code ns}. */
    public Child java(String ns, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        String flags = System.getenv("FERRY_JVM_FLAGS");
        if (flags != null && !flags.isBlank()) {
            cmd.addAll(List.of(flags.trim().split("\\s+")));
        }
        cmd.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), mainClass));
        cmd.addAll(List.of(args));
        Child c = new Child(new ProcessBuilder(cmd).redirectErrorStream(true).start(),
                ns + " " + mainClass + " " + String.join(" ", args));
        children.add(c);
        return c;
    }

    /** A child process with its output as a queue of lines. */
    public static final class Child {
        public final Process process;
        public final String label;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        private final Writer stdin;

        Child(Process process, String label) {
            this.process = process;
            this.label = label;
            this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        log.add(l);
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "child-output");
            t.setDaemon(true);
            t.start();
        }

        /** The next output line starting with {@code prefix} (others skipped), within the deadline. */
        public String await(String prefix, long timeoutMillis) throws InterruptedException {
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
            while (true) {
                long left = deadline - System.nanoTime();
                String l = left > 0 ? lines.poll(Math.min(left, 1_000_000_000L), TimeUnit.NANOSECONDS) : null;
                if (l == null && (left <= 0 || !process.isAlive())) {
                    Thread.sleep(200); // let the reader drain what the process printed last
                    throw new AssertionError(label + ": no line starting with '" + prefix + "' within "
                            + timeoutMillis + " ms" + (process.isAlive() ? "" : " (exited " + process.exitValue() + ")")
                            + "; output so far:\n" + String.join("\n", tail()));
                }
                if (l == null) {
                    continue;
                }
                if (l.startsWith(prefix)) {
                    return l;
                }
            }
        }

        /** Sends one command and returns the next line of output. */
        public String ask(String command) throws IOException, InterruptedException {
            lines.clear();
            stdin.write(command + "\n");
            stdin.flush();
            String l = lines.poll(15, TimeUnit.SECONDS);
            if (l == null) {
                throw new AssertionError(label + ": no answer to '" + command + "'");
            }
            return l;
        }

        public List<String> tail() {
            synchronized (log) {
                return new ArrayList<>(log.subList(Math.max(0, log.size() - 40), log.size()));
            }
        }

        public void kill() throws InterruptedException {
            // Kill the JVM itself (a child of "ip netns exec", which execs it: same pid).
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        for (Child c : children) {
            c.process.destroyForcibly();
        }
        for (Child c : children) {
            try {
                c.process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : namespaces) {
            try {
                run("ip", "netns", "del", ns);
            } catch (IOException e) {
                System.err.println("could not delete namespace " + ns + ": " + e.getMessage());
            }
        }
    }
}
