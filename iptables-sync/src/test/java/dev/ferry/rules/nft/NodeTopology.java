package dev.ferry.rules.nft;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A routed node in network namespaces, as TESTING.md describes: a node namespace forwarding between
 * a client namespace (192.168.50.2 and .3 on one veth, default route via the node at 192.168.50.1)
 * and three pod namespaces (10.244.K.2/24, node side 10.244.K.1). Each pod runs socat servers:
 * port 8080 answers "podK PEER-ADDRESS" and closes, port 9000 echoes. Names carry a unique prefix;
 * {@link #close()} kills the processes it started and deletes the namespaces.
 */
final class NodeTopology implements AutoCloseable {
    final String prefix = "fnft" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    final String node = prefix + "-n";
    final String client = prefix + "-c";
    final List<String> pods = List.of(prefix + "-p1", prefix + "-p2", prefix + "-p3");
    private final List<Process> started = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();

    /** What a client connection got: the server's line, or the failure socat printed. */
    record Reply(boolean ok, String body, String error) {}

    NodeTopology start() throws IOException {
        for (String ns : allNamespaces()) {
            sh("ip", "netns", "add", ns);
            namespaces.add(ns);
            sh("ip", "-n", ns, "link", "set", "lo", "up");
        }
        sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        // Service and LB addresses need a route on the node (or routing refuses them before netfilter
        // can reject): a bridge with no ports holds them, as a dummy interface would.
        sh("ip", "-n", node, "link", "add", "svc0", "type", "bridge");
        sh("ip", "-n", node, "link", "set", "svc0", "up");
        sh("ip", "-n", node, "route", "add", "10.96.0.0/12", "dev", "svc0");
        sh("ip", "-n", node, "route", "add", "198.51.100.0/24", "dev", "svc0");
        sh("ip", "-n", node, "link", "add", "vc", "type", "veth", "peer", "name", "eth0", "netns", client);
        sh("ip", "-n", node, "addr", "add", "192.168.50.1/24", "dev", "vc");
        sh("ip", "-n", node, "link", "set", "vc", "up");
        sh("ip", "-n", client, "addr", "add", "192.168.50.2/24", "dev", "eth0");
        sh("ip", "-n", client, "addr", "add", "192.168.50.3/24", "dev", "eth0");
        sh("ip", "-n", client, "link", "set", "eth0", "up");
        sh("ip", "-n", client, "route", "add", "default", "via", "192.168.50.1");
        for (int k = 1; k <= pods.size(); k++) {
            String pod = pods.get(k - 1);
            sh("ip", "-n", node, "link", "add", "vp" + k, "type", "veth", "peer", "name", "eth0", "netns", pod);
            sh("ip", "-n", node, "addr", "add", "10.244." + k + ".1/24", "dev", "vp" + k);
            sh("ip", "-n", node, "link", "set", "vp" + k, "up");
            sh("ip", "-n", pod, "addr", "add", "10.244." + k + ".2/24", "dev", "eth0");
            sh("ip", "-n", pod, "link", "set", "eth0", "up");
            sh("ip", "-n", pod, "route", "add", "default", "via", "10.244." + k + ".1");
            background("ip", "netns", "exec", pod, "socat", "TCP-LISTEN:8080,fork,reuseaddr",
                    "SYSTEM:echo pod" + k + " $SOCAT_PEERADDR");
            background("ip", "netns", "exec", pod, "socat", "TCP-LISTEN:9000,fork,reuseaddr", "EXEC:cat");
        }
        for (String pod : pods) {
            waitListening(pod, 8080);
            waitListening(pod, 9000);
        }
        return this;
    }

    private List<String> allNamespaces() {
        List<String> all = new ArrayList<>(List.of(node, client));
        all.addAll(pods);
        return all;
    }

    /** One TCP connection from the client namespace (optionally from source address src). */
    Reply request(String src, String dst, int port) throws IOException {
        String target = "TCP:" + dst + ":" + port + ",connect-timeout=2" + (src == null ? "" : ",bind=" + src);
        Result r = run(6, "ip", "netns", "exec", client, "socat", "-u", target, "STDOUT");
        return new Reply(r.exit == 0 && !r.out.isBlank(), r.out.strip(), r.err.strip());
    }

    /** One TCP connection from pod k's namespace. */
    Reply requestFromPod(int k, String dst, int port) throws IOException {
        Result r = run(6, "ip", "netns", "exec", pods.get(k - 1), "socat", "-u",
                "TCP:" + dst + ":" + port + ",connect-timeout=2", "STDOUT");
        return new Reply(r.exit == 0 && !r.out.isBlank(), r.out.strip(), r.err.strip());
    }

    /** A UDP server in pod k answering every datagram with "podK"; the caller may destroy it. */
    Process udpEcho(int k, int port) throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "exec", pods.get(k - 1), "socat", "UDP-RECVFROM:" + port + ",fork,reuseaddr",
                "SYSTEM:echo pod" + k).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        started.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!run(5, "ip", "netns", "exec", pods.get(k - 1), "ss", "-Hlun", "sport = :" + port).out.contains(":" + port)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("UDP server in pod" + k + " did not bind port " + port + " within 10 s");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
        return p;
    }

    /**
     * One datagram from the client namespace's 192.168.50.2:srcPort, the answer or "" — up to three
     * tries from the same source port, as a DNS client retransmits: a datagram lost to a busy machine
     * is retried, while a stale conntrack entry swallows every try alike.
     */
    String udp(String dst, int port, int srcPort) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            Result r = run(10, "ip", "netns", "exec", client, "sh", "-c", "echo ping | socat -t2 -T2 - UDP:" + dst + ":" + port
                    + ",bind=192.168.50.2:" + srcPort + ",reuseaddr");
            if (!r.out.isBlank()) {
                return r.out.strip();
            }
        }
        return "";
    }

    /** A long-lived client connection whose stdin/stdout the test drives. */
    Process openConnection(String dst, int port) throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "exec", client, "socat", "-", "TCP:" + dst + ":" + port + ",connect-timeout=2")
                .start();
        started.add(p);
        return p;
    }

    /** Runs a command in the node namespace and returns stdout; fails on a non-zero exit. */
    String inNode(String... cmd) throws IOException {
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", node));
        argv.addAll(List.of(cmd));
        return sh(argv.toArray(String[]::new));
    }

    record Result(int exit, String out, String err) {}

    static String sh(String... argv) throws IOException {
        Result r = run(30, argv);
        if (r.exit != 0) {
            throw new IOException(String.join(" ", argv) + " failed (" + r.exit + "): " + r.err);
        }
        return r.out;
    }

    static Result run(int timeoutSeconds, String... argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            var out = java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Result(124, "", String.join(" ", argv) + " timed out after " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("cannot read output of " + String.join(" ", argv), e);
        }
    }

    private static String readAll(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Reads one line from a process's stdout within a deadline; null on timeout or end of stream. */
    static String readLine(Process p, BufferedReader reader, int timeoutSeconds) {
        var f = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return reader.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        try {
            return f.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    static BufferedReader reader(Process p) {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    }

    private void background(String... argv) throws IOException {
        started.add(new ProcessBuilder(argv).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start());
    }

    private static void waitListening(String ns, int port) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (int i = 0; i < 200 && System.nanoTime() < deadline; i++) {
            if (run(5, "ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :" + port).out.contains(":" + port)) {
                return;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
        throw new IOException("socat in " + ns + " did not listen on " + port + " within 10 s");
    }

    @Override
    public void close() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : started) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : namespaces) {
            try {
                run(10, "ip", "netns", "del", ns);
            } catch (IOException e) {
                System.err.println("could not delete netns " + ns + ": " + e.getMessage());
            }
        }
    }
}
