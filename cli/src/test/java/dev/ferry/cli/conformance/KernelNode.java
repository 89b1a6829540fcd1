package dev.ferry.cli.conformance;

import dev.ferry.model.IpAddresses;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * kube-proxy's test node built from network namespaces, routed as TESTING.md describes, so the
 * conformance flows can be sent as real packets:
 * <ul>
 *   <li>node: 192.168.0.2 and 192.168.1.2 towards "ext", 10.0.0.1 towards "pod", 10.255.0.1 towards
 *       "eps"; forwarding on; its default route leads to "ext". Plain listeners on the NodePorts and
 *       the health-check port answer "UNTOUCHED" when the rules leave a connection alone.</li>
 *   <li>ext: the outside world (192.168.0.5, 203.0.113.2, 203.0.113.130, 1.2.3.4); every new
 *       connection routed into it (an address the rules left alone) is redirected to a server
 *       answering "UNTOUCHED".</li>
 *   <li>pod: a pod at 10.0.0.2.</li>
 *   <li>eps: every endpoint address of the scenarios; servers on ports 80, 443 (TCP) and 5353 (UDP)
 *       answer "LOCAL-ADDRESS PORT PEER-ADDRESS", so a reply tells which endpoint served and whether
 *       the source was masqueraded.</li>
 * </ul>
 * Unique names per run; {@link #close()} kills only the processes it started and deletes the namespaces.
 */
final class KernelNode implements AutoCloseable {
    static final List<String> ENDPOINTS = List.of("10.180.0.1", "10.180.0.2", "10.180.0.3", "10.180.0.4", "10.180.0.5",
            "10.180.1.1", "10.180.1.2", "10.180.1.3", "10.180.2.1", "10.180.2.2", "10.180.2.4",
            "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.1.2.3", "10.1.2.4", "10.1.2.5");
    static final List<String> EXT_ADDRESSES = List.of("203.0.113.2", "203.0.113.130");
    /** A load-balancer VIP used as a source (TestLoadBalancer): its own namespace, routed from the node. */
    static final String VIP = "1.2.3.4";
    static final List<Integer> NODE_PORTS = List.of(3001, 3002, 3003, 30000);

    final String prefix = "fcf" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    final String node = prefix + "-n";
    final String ext = prefix + "-x";
    final String pod = prefix + "-p";
    final String eps = prefix + "-e";
    final String vip = prefix + "-v";
    private final List<Process> started = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();

    KernelNode start() throws IOException {
        for (String ns : List.of(node, ext, pod, eps, vip)) {
            sh("ip", "netns", "add", ns);
            namespaces.add(ns);
            sh("ip", "-n", ns, "link", "set", "lo", "up");
        }
        sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0");
        link("ve", ext, "192.168.0.2/24", "192.168.0.5/24");
        sh("ip", "-n", node, "addr", "add", "192.168.1.2/24", "dev", "ve");
        for (String a : EXT_ADDRESSES) sh("ip", "-n", ext, "addr", "add", a + "/32", "dev", "eth0");
        sh("ip", "-n", ext, "route", "add", "default", "via", "192.168.0.2");
        sh("ip", "-n", node, "route", "add", "default", "via", "192.168.0.5");
        link("vp", pod, "10.0.0.1/24", "10.0.0.2/24");
        sh("ip", "-n", pod, "route", "add", "default", "via", "10.0.0.1");
        link("vq", eps, "10.255.0.1/30", "10.255.0.2/30");
        for (String a : ENDPOINTS) sh("ip", "-n", eps, "addr", "add", a + "/32", "dev", "eth0");
        sh("ip", "-n", eps, "route", "add", "default", "via", "10.255.0.1");
        for (String net : List.of("10.180.0.0/16", "10.0.1.0/24", "10.1.2.0/24")) {
            sh("ip", "-n", node, "route", "add", net, "via", "10.255.0.2");
        }
        link("vv", vip, "169.254.10.1/30", "169.254.10.2/30");
        sh("ip", "-n", vip, "addr", "add", VIP + "/32", "dev", "eth0");
        sh("ip", "-n", vip, "route", "add", "default", "via", "169.254.10.1");
        sh("ip", "-n", node, "route", "add", VIP + "/32", "via", "169.254.10.2");
        // ext and vip: anything routed in that they do not expect is answered by the UNTOUCHED server
        for (String ns : List.of(ext, vip)) {
            for (String proto : List.of("tcp", "udp")) {
                sh("ip", "netns", "exec", ns, "iptables", "-w", "5", "-t", "nat", "-A", "PREROUTING", "-p", proto,
                        "-j", "REDIRECT", "--to-ports", "9999");
            }
            background(ns, "TCP-LISTEN:9999,fork,reuseaddr", "SYSTEM:echo UNTOUCHED");
            background(ns, "UDP-RECVFROM:9999,fork", "SYSTEM:echo UNTOUCHED");
            waitListening(ns, 9999);
            waitListening(ns, 9999, "-lunH");
        }
        for (int p : NODE_PORTS) background(node, "TCP-LISTEN:" + p + ",fork,reuseaddr", "SYSTEM:echo UNTOUCHED");
        for (int p : List.of(80, 443)) {
            background(eps, "TCP-LISTEN:" + p + ",fork,reuseaddr", "SYSTEM:echo $SOCAT_SOCKADDR $SOCAT_SOCKPORT $SOCAT_PEERADDR");
        }
        // UDP replies must leave from the address the request was DNAT'd to: one bound server per endpoint
        for (String a : List.of("10.180.0.2", "10.180.2.2")) {
            background(eps, "UDP-RECVFROM:5353,bind=" + a + ",fork", "SYSTEM:echo " + a + " 5353 $SOCAT_PEERADDR");
        }
        waitListening(eps, 5353, "-lunH");
        waitListening(eps, 80);
        waitListening(eps, 443);
        for (int p : NODE_PORTS) waitListening(node, p);
        return this;
    }

    private void link(String nodeSide, String peerNs, String nodeAddr, String peerAddr) throws IOException {
        sh("ip", "-n", node, "link", "add", nodeSide, "type", "veth", "peer", "name", "eth0", "netns", peerNs);
        sh("ip", "-n", node, "addr", "add", nodeAddr, "dev", nodeSide);
        sh("ip", "-n", node, "link", "set", nodeSide, "up");
        sh("ip", "-n", peerNs, "addr", "add", peerAddr, "dev", "eth0");
        sh("ip", "-n", peerNs, "link", "set", "eth0", "up");
    }

    /** The namespace a flow's source address lives in. */
    String namespaceOf(String src) {
        if (src.equals("10.0.0.2")) return pod;
        if (src.startsWith("192.168.0.2") || src.equals("192.168.1.2") || src.startsWith("127.")) return node;
        if (ENDPOINTS.contains(src)) return eps;
        if (src.equals(VIP)) return node;
        return ext;
    }

    /**
     * Sends the flow's first packet for real and reads what came of it: the endpoint's reply (which
     * endpoint, and the source it saw), "UNTOUCHED", a quick refusal (REJECT) or nothing (DROP).
     */
    Outcome send(Packet p, Outcome expected) throws IOException {
        Outcome first = sendOnce(p);
        if (first.kind() == Outcome.Kind.DROP) {
            // silence must be reproducible: a lost first packet (a neighbour still resolving) is not a DROP
            first = sendOnce(p);
        }
        if (first.kind() != Outcome.Kind.FORWARD || expected.kind() != Outcome.Kind.FORWARD) {
            return first;
        }
        // each connection reaches one endpoint at random: repeat (bounded) until every expected one answered
        java.util.Set<String> seen = new java.util.TreeSet<>(first.endpoints());
        for (int i = 0; i < 16 * expected.endpoints().size() && !seen.containsAll(expected.endpoints()); i++) {
            Outcome next = sendOnce(p);
            // socat's forked UDP server can lose a datagram to a child still finishing the previous reply:
            // for UDP, silence after a first answer is asked again (twice at most) before it counts
            for (int retry = 0; retry < 2 && p.proto().equals("udp") && next.kind() == Outcome.Kind.DROP; retry++) {
                next = sendOnce(p);
            }
            if (next.kind() != Outcome.Kind.FORWARD || next.masquerade() != first.masquerade()) {
                return next;
            }
            seen.addAll(next.endpoints());
            if (!expected.endpoints().containsAll(seen)) break;
        }
        return new Outcome(Outcome.Kind.FORWARD, seen, first.masquerade());
    }

    private Outcome sendOnce(Packet p) throws IOException {
        String src = IpAddresses.format(p.src());
        if (src.equals(VIP)) {
            // a node that holds its load balancer's VIP (kube-vip, a cloud's local route) reaches it with the
            // VIP as source: the VIP is made local to the node for this one connection
            sh("ip", "-n", node, "addr", "add", VIP + "/32", "dev", "lo");
            try {
                return sendFrom(p, src);
            } finally {
                sh("ip", "-n", node, "addr", "del", VIP + "/32", "dev", "lo");
            }
        }
        return sendFrom(p, src);
    }

    private Outcome sendFrom(Packet p, String src) throws IOException {
        String target = (p.proto().equals("udp") ? "UDP:" : "TCP:") + IpAddresses.format(p.dst()) + ":" + p.dport()
                + ",bind=" + src + (p.proto().equals("udp") ? "" : ",connect-timeout=2");
        long t0 = System.nanoTime();
        Result r = run(5, p.proto().equals("udp") ? "ping\n" : "", "ip", "netns", "exec", namespaceOf(src), "timeout", "3",
                "socat", "-T", "2", "-", target);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        String body = r.out.strip();
        if (body.equals("UNTOUCHED")) return Outcome.UNTOUCHED;
        if (!body.isEmpty()) {
            String[] w = body.split(" ");
            if (w.length != 3) throw new IOException(p + ": unexpected reply \"" + body + "\"");
            boolean masq = !w[2].equals(src);
            return Outcome.forward(masq, w[0] + ":" + w[1]);
        }
        if (r.err.contains("Connection refused") || r.err.contains("No route to host") && ms < 1500) return Outcome.REJECT;
        return Outcome.DROP;
    }

    /** Forgets the node's connection tracking, so a new scenario's flows are judged by its rules only. */
    void flushConntrack() throws IOException {
        run(20, "", "ip", "netns", "exec", node, "conntrack", "-F");
    }

    record Result(int exit, String out, String err) {}

    private void background(String ns, String listen, String action) throws IOException {
        started.add(new ProcessBuilder("ip", "netns", "exec", ns, "socat", listen, action)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
    }

    private void waitListening(String ns, int port) throws IOException {
        waitListening(ns, port, "-ltnH");
    }

    /** Bounded wait (100 x 50 ms) until a socket of ss's kind (-ltnH TCP listeners, -lunH UDP) is bound to port. */
    private void waitListening(String ns, int port, String kind) throws IOException {
        for (int i = 0; i < 100; i++) {
            if (run(5, "", "ip", "netns", "exec", ns, "ss", kind, "sport = :" + port).out.contains(":" + port)) return;
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        throw new IOException("nothing listens on " + port + " in " + ns);
    }

    static void sh(String... argv) throws IOException {
        Result r = run(20, "", argv);
        if (r.exit != 0) throw new IOException(String.join(" ", argv) + ": " + r.err + r.out);
    }

    static Result run(int seconds, String input, String... argv) throws IOException {
        Process p = new ProcessBuilder(argv).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        try {
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Result(-1, "", "timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (String ns : namespaces) {
            try {
                run(20, "", "ip", "netns", "delete", ns);
            } catch (IOException e) {
                // best effort: the next run uses other names
            }
        }
    }

    static InetAddress addr(String s) {
        return IpAddresses.parse(s);
    }
}
