package dev.ferry.e2e;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A routed node as TESTING.md describes, dual-stack: a node namespace (forwarding on) where Ferry runs,
 * a client namespace (10.100.1.2, fd00:100::2, default routes via the node) and two backend
 * namespaces (10.244.N.2, fd00:244:N::2), each on its own veth to the node. The node reaches the
 * API server at 127.0.0.1:6443 through two socat relays over a unix socket, as
 * kube-proxy-netns.sh does for kube-proxy. Namespace names carry a per-run prefix; close() kills
 * only the processes started here and deletes the namespaces.
 */
final class NodeNamespaces implements AutoCloseable {
    static final String NODE_IP = "10.100.1.1";
    static final String NODE_IP6 = "fd00:100::1";
    static final String CLIENT_IP = "10.100.1.2";

    final String prefix;
    final String node;
    final String client;
    private final Path runDir;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> started = new ArrayList<>();
    private Process hostRelay;
    private Process nodeRelay;

    NodeNamespaces(Path runDir) throws IOException, InterruptedException {
        this.runDir = runDir;
        prefix = "fe" + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
        node = prefix + "-node";
        client = prefix + "-cli";
        try {
            addNs(node);
            sh(node, "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
            addNs(client);
            link(client, "c", "10.100.1.2/24", "fd00:100::2/64", NODE_IP + "/24", NODE_IP6 + "/64", NODE_IP, NODE_IP6);
            for (int i = 1; i <= 2; i++) {
                addNs(backend(i));
                link(backend(i), "b" + i, backendIp(i) + "/24", backendIp6(i) + "/64", "10.244." + i + ".1/24",
                        "fd00:244:" + i + "::1/64", "10.244." + i + ".1", "fd00:244:" + i + "::1");
            }
        } catch (IOException | RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    String backend(int i) {
        return prefix + "-b" + i;
    }

    static String backendIp(int i) {
        return "10.244." + i + ".2";
    }

    static String backendIp6(int i) {
        return "fd00:244:" + i + "::2";
    }

    private void addNs(String ns) throws IOException, InterruptedException {
        Sh.run(Map.of(), 20, "ip", "netns", "add", ns);
        namespaces.add(ns);
        sh(ns, "ip link set lo up");
    }

    private void link(String ns, String tag, String addr, String addr6, String nodeAddr, String nodeAddr6, String gw,
                      String gw6) throws IOException, InterruptedException {
        String a = prefix + tag + "a";
        String n = prefix + tag + "n";
        Sh.run(Map.of(), 20, "ip", "link", "add", a, "netns", ns, "type", "veth", "peer", "name", n, "netns", node);
        sh(ns, "ip link set " + a + " up && ip addr add " + addr + " dev " + a + " && ip -6 addr add " + addr6 + " dev " + a
                + " nodad && ip route add default via " + gw + " && ip -6 route add default via " + gw6);
        sh(node, "ip addr add " + nodeAddr + " dev " + n + " && ip -6 addr add " + nodeAddr6 + " dev " + n
                + " nodad && ip link set " + n + " up");
    }

    /** Runs a shell command in ns; fails with its output when it fails. */
    String sh(String ns, String command) throws IOException, InterruptedException {
        return Sh.run(Map.of(), 30, "ip", "netns", "exec", ns, "sh", "-c", command);
    }

    /** Starts argv in ns (output to log, or discarded when log is null); killed by close(). */
    Process start(String ns, Path log, String... argv) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(argv));
        ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.appendTo(log.toFile()));
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /**
     * A TCP server on port in backend i (IPv4 and IPv6) answering "b{i}-{port}" to each connection
     * (socat splits its address arguments at colons).
     */
    void echo(int i, int port) throws IOException, InterruptedException {
        start(backend(i), null, "socat", "TCP6-LISTEN:" + port + ",ipv6only=0,fork,reuseaddr", "SYSTEM:echo b" + i + "-" + port);
        awaitListening(backend(i), port);
    }

    private void awaitListening(String ns, int port) throws IOException, InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (Sh.run(Map.of(), 10, "ip", "netns", "exec", ns, "ss", "-Hltn", "sport = :" + port).contains(":" + port)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nothing listens on port " + port + " in " + ns + " after 10 s");
    }

    /** The relay root ns unix socket ⇄ 127.0.0.1:6443, and node ns 127.0.0.1:6443 ⇄ that socket. */
    void startRelay() throws IOException, InterruptedException {
        Path sock = runDir.resolve(prefix + "-apiserver.sock");
        startHostRelay();
        for (int i = 0; i < 100 && !java.nio.file.Files.exists(sock); i++) {
            Thread.sleep(50);
        }
        nodeRelay = start(node, null, "socat", "TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:" + sock);
        awaitListening(node, 6443);
    }

    /** Starts the root-namespace half of the relay (again, after {@link #cutRelay()}). */
    void startHostRelay() throws IOException {
        Path sock = runDir.resolve(prefix + "-apiserver.sock");
        ProcessBuilder pb = new ProcessBuilder("socat", "UNIX-LISTEN:" + sock + ",fork,unlink-early,mode=600",
                "TCP:127.0.0.1:6443").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        hostRelay = pb.start();
        started.add(hostRelay);
    }

    /**
     * Cuts the node off the API server: the root-namespace relay and its per-connection children
     * die, so every open connection closes and new ones are refused at the unix socket.
     */
    void cutRelay() throws InterruptedException {
        stop(hostRelay);
    }

    static void stop(Process p) throws InterruptedException {
        if (p == null) return;
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : started) {
            stop(p);
        }
        for (String ns : namespaces) {
            try {
                Sh.exec(Map.of(), 20, List.of("ip", "netns", "del", ns));
            } catch (IOException e) {
                System.err.println("could not delete netns " + ns + ": " + e);
            }
        }
        try {
            java.nio.file.Files.deleteIfExists(runDir.resolve(prefix + "-apiserver.sock"));
        } catch (IOException e) {
            System.err.println("could not delete the relay socket: " + e);
        }
    }
}
