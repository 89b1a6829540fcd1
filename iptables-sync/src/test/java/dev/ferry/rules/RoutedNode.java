package dev.ferry.rules;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A routed test topology (TESTING.md): a node namespace with ip_forward, a client namespace
 * (10.100.1.2 and .3, default route via the node at 10.100.1.1) and three backend namespaces
 * (10.244.N.2, node side 10.244.N.1), plus a port-less bridge on the node holding routes for the
 * service ranges 10.96/16, 10.200/16 and 10.201/16. Namespaces carry a unique prefix and are
 * deleted by {@link #close()}, which also kills only the processes this class started.
 * Not thread-safe.
 */
public final class RoutedNode implements AutoCloseable {
    public static final String NODE_IP = "10.100.1.1";
    public static final String CLIENT_IP = "10.100.1.2";
    public static final String OTHER_CLIENT_IP = "10.100.1.3";

    public final String prefix;
    public final String node;
    public final String client;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> started = new ArrayList<>();
    private final KernelTool host = new KernelTool(List.of(), Duration.ofSeconds(20));

    public RoutedNode() throws IOException {
        prefix = "fi" + HexFormat.of().toHexDigits((byte) ThreadLocalRandom.current().nextInt())
                + HexFormat.of().toHexDigits((byte) ThreadLocalRandom.current().nextInt());
        node = prefix + "-node";
        client = prefix + "-cli";
        try {
            addNs(node);
            sh(node, "sysctl -qw net.ipv4.ip_forward=1");
            addNs(client);
            link(client, "c", List.of(CLIENT_IP + "/24", OTHER_CLIENT_IP + "/24"), NODE_IP + "/24", NODE_IP);
            for (int i = 1; i <= 3; i++) {
                String b = backend(i);
                addNs(b);
                link(b, "b" + i, List.of("10.244." + i + ".2/24"), "10.244." + i + ".1/24", "10.244." + i + ".1");
            }
            String br = prefix + "sv";
            sh(node, "ip link add " + br + " type bridge && ip link set " + br + " up"
                    + " && ip route add 10.96.0.0/16 dev " + br + " && ip route add 10.200.0.0/16 dev " + br
                    + " && ip route add 10.201.0.0/16 dev " + br);
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    public String backend(int i) {
        return prefix + "-b" + i;
    }

    public static String backendIp(int i) {
        return "10.244." + i + ".2";
    }

    public KernelTool in(String ns) {
        return KernelTool.inNamespace(ns, Duration.ofSeconds(20));
    }

    private void addNs(String ns) throws IOException {
        host.runChecked(List.of("ip", "netns", "add", ns), null);
        namespaces.add(ns);
        sh(ns, "ip link set lo up");
    }

    private void link(String ns, String tag, List<String> addrs, String nodeAddr, String gw) throws IOException {
        String a = prefix + tag + "a";
        String n = prefix + tag + "n";
        host.runChecked(List.of("ip", "link", "add", a, "netns", ns, "type", "veth", "peer", "name", n, "netns", node), null);
        StringBuilder cmd = new StringBuilder("ip link set " + a + " up");
        for (String addr : addrs) cmd.append(" && ip addr add ").append(addr).append(" dev ").append(a);
        cmd.append(" && ip route add default via ").append(gw);
        sh(ns, cmd.toString());
        sh(node, "ip addr add " + nodeAddr + " dev " + n + " && ip link set " + n + " up");
    }

    /** Runs a shell command in ns and fails with its stderr when it fails. */
    public String sh(String ns, String command) throws IOException {
        return in(ns).runChecked(List.of("sh", "-c", command), null).stdout();
    }

    /** Starts a TCP server on port in backend i answering "b{i} <peer address>" to each connection. */
    public void tcpEcho(int i, int port) throws IOException {
        start(backend(i), List.of("socat", "TCP-LISTEN:" + port + ",fork,reuseaddr",
                "SYSTEM:echo b" + i + " $SOCAT_PEERADDR"));
        awaitListening(backend(i), "-ltn", port);
    }

    /** Starts a TCP server on port in backend i that echoes every line back (a long-lived connection). */
    public void tcpCat(int i, int port) throws IOException {
        start(backend(i), List.of("socat", "TCP-LISTEN:" + port + ",fork,reuseaddr", "EXEC:cat"));
        awaitListening(backend(i), "-ltn", port);
    }

    /** Starts a UDP server on port in backend i answering "b{i}" to each datagram; returns it to stop it. */
    public Process udpEcho(int i, int port) throws IOException {
        Process p = start(backend(i), List.of("socat", "UDP-RECVFROM:" + port + ",fork,reuseaddr", "SYSTEM:echo b" + i));
        awaitListening(backend(i), "-lun", port);
        return p;
    }

    public Process start(String ns, List<String> argv) throws IOException {
        return start(ns, argv, true);
    }

    private Process start(String ns, List<String> argv, boolean discardOutput) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(full).redirectError(ProcessBuilder.Redirect.DISCARD);
        if (discardOutput) {
            pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Process p = pb.start();
        started.add(p);
        return p;
    }

    public static void stop(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitListening(String ns, String ssFlags, int port) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            String out = in(ns).run(List.of("ss", ssFlags, "sport = :" + port)).stdout();
            if (out.contains(":" + port)) return;
            sleep(20);
        }
        throw new IOException("nothing listens on port " + port + " in " + ns + " after 10 s");
    }

    /**
     * One TCP request from the client namespace (bound to src); the answer, or "ERR: <socat error>".
     * -t3: after sending (stdin EOF) socat waits only 0.5 s for the answer by default, too little on
     * a loaded machine.
     */
    public String tcp(String src, String dst, int port) throws IOException {
        ToolResult r = in(client).run(List.of("socat", "-t3", "-T3", "-",
                "TCP:" + dst + ":" + port + ",bind=" + src + ",connect-timeout=3"), "");
        return r.ok() ? r.stdout().strip() : "ERR: " + r.stderr().strip();
    }

    /** One TCP request from backend namespace i (a "pod"). */
    public String tcpFromBackend(int i, String dst, int port) throws IOException {
        ToolResult r = in(backend(i)).run(List.of("socat", "-t3", "-T3", "-", "TCP:" + dst + ":" + port + ",connect-timeout=3"), "");
        return r.ok() ? r.stdout().strip() : "ERR: " + r.stderr().strip();
    }

    /** One UDP datagram from the client's fixed source port; the answer or "ERR: ...". */
    public String udp(String dst, int port, int srcPort) throws IOException {
        // Up to three tries from the same source port, as a DNS client retransmits: a datagram lost to a
        // busy machine is retried, while a stale conntrack entry would swallow every try alike.
        String err = "";
        for (int attempt = 0; attempt < 3; attempt++) {
            ToolResult r = in(client).run(List.of("socat", "-t2", "-T2", "-",
                    "UDP:" + dst + ":" + port + ",bind=" + CLIENT_IP + ":" + srcPort + ",reuseaddr"), "ping\n");
            String out = r.stdout().strip();
            if (!out.isEmpty()) {
                return out;
            }
            err = r.stderr().strip();
        }
        return "ERR: no answer after 3 tries (" + err + ")";
    }

    /** A long-lived line-echo connection from the client namespace. */
    public final class Session implements AutoCloseable {
        private final Process p;
        private final OutputStream out;
        private final BufferedReader in;

        Session(String dst, int port) throws IOException {
            p = start(client, List.of("socat", "-", "TCP:" + dst + ":" + port + ",connect-timeout=3"), false);
            out = p.getOutputStream();
            in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        }

        /** Sends a line and returns the echoed line, or null when none came within 5 s. */
        public String roundTrip(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> {
                try {
                    return in.readLine();
                } catch (IOException e) {
                    return null;
                }
            });
            try {
                return f.get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                return null;
            }
        }

        @Override
        public void close() {
            stop(p);
        }
    }

    public Session session(String dst, int port) throws IOException {
        return new Session(dst, port);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        for (Process p : started) {
            stop(p);
        }
        for (String ns : namespaces) {
            try {
                host.run(List.of("ip", "netns", "del", ns));
            } catch (IOException e) {
                // best effort: the next run uses another prefix
            }
        }
    }
}
