package dev.ferry.bench.fault;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A routed node in three network namespaces with a unique prefix: client (10.210.1.2, plus
 * 10.210.1.100.. as flood sources) — node (10.210.1.1 / 10.211.1.1, forwarding, where Ferry runs) —
 * backend (10.211.1.2). The client routes the service CIDR 10.96.0.0/16 via the node, the backend
 * its default route; traffic never leaves these namespaces. {@link #close()} deletes them.
 */
final class Topology implements AutoCloseable {
    static final String NODE_IP = "10.210.1.1";
    static final String BACKEND_IP = "10.211.1.2";
    static final String FLOOD_PREFIX = "10.210.1.";
    static final int FLOOD_FIRST = 100;

    final String prefix;
    final String client;
    final String node;
    final String backend;
    private final List<String> created = new ArrayList<>();

    Topology(String prefix) {
        this.prefix = prefix;
        this.client = prefix + "c";
        this.node = prefix + "n";
        this.backend = prefix + "b";
    }

    /** Creates the namespaces and links; on failure deletes what it made and throws. */
    void create(int floodSources) throws IOException {
        try {
            for (String ns : List.of(client, node, backend)) {
                sh("ip", "netns", "add", ns);
                synchronized (this) {
                    created.add(ns);
                }
                sh("ip", "-n", ns, "link", "set", "lo", "up");
            }
            sh("ip", "link", "add", prefix + "c0", "netns", client, "type", "veth", "peer", "name", prefix + "c1",
                    "netns", node);
            sh("ip", "link", "add", prefix + "b0", "netns", backend, "type", "veth", "peer", "name", prefix + "b1",
                    "netns", node);
            sh("ip", "-n", client, "addr", "add", "10.210.1.2/24", "dev", prefix + "c0");
            for (int i = 0; i < floodSources; i++) {
                sh("ip", "-n", client, "addr", "add", FLOOD_PREFIX + (FLOOD_FIRST + i) + "/24", "dev", prefix + "c0");
            }
            sh("ip", "-n", node, "addr", "add", NODE_IP + "/24", "dev", prefix + "c1");
            sh("ip", "-n", node, "addr", "add", "10.211.1.1/24", "dev", prefix + "b1");
            sh("ip", "-n", backend, "addr", "add", BACKEND_IP + "/24", "dev", prefix + "b0");
            sh("ip", "-n", client, "link", "set", prefix + "c0", "up");
            sh("ip", "-n", node, "link", "set", prefix + "c1", "up");
            sh("ip", "-n", node, "link", "set", prefix + "b1", "up");
            sh("ip", "-n", backend, "link", "set", prefix + "b0", "up");
            sh("ip", "-n", client, "route", "add", "10.96.0.0/16", "via", NODE_IP, "src", "10.210.1.2");
            sh("ip", "-n", backend, "route", "add", "default", "via", "10.211.1.1");
            sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Runs a command inside the node namespace; false when it failed (the output is dropped). */
    boolean inNode(String... cmd) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", node));
        all.addAll(List.of(cmd));
        try {
            sh(all.toArray(new String[0]));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A command prefix that runs the rest inside a namespace. */
    static List<String> exec(String ns, String... cmd) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(cmd));
        return all;
    }

    static void sh(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + out);
        }
    }

    @Override
    public synchronized void close() {
        List<String> all = new ArrayList<>(created);
        created.clear();
        for (String ns : all) {
            try {
                sh("ip", "netns", "del", ns);
            } catch (IOException e) {
                System.err.println("fault harness: cannot delete namespace " + ns + ": " + e.getMessage());
            }
        }
    }
}
