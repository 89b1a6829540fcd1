package dev.ferry.rules;


import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real netfilter: a network namespace of this test's own, DNAT rules as kube-proxy's iptables mode
 * would install them, real UDP datagrams (socat) creating real conntrack entries, and
 * {@code conntrack -L} before and after each cleanup. All addresses live on the namespace's lo.
 *
 * <pre>
 *   clients 10.0.0.1-4, node IP 10.0.0.254, endpoints 10.1.0.1:5353 and 10.1.0.2:5353
 *   ClusterIP 10.96.0.10:53 -> 10.1.0.1 for client .1, 10.1.0.2 for client .2
 *   ClusterIP 10.96.0.11:53 -> 10.1.0.1 (another service on the same endpoint)
 *   ClusterIP 10.96.0.20:53 has no endpoints (no rule: the datagram goes nowhere)
 *   NodePort 10.0.0.254:30053 -> 10.1.0.1 for client .3, 10.1.0.2 for client .4; NodePort 30054 has no endpoints
 * </pre>
 */
@KernelTest(value = "kernel conntrack cleanup test", tools = {"ip", "iptables", "conntrack", "socat"})
class KernelConntrackCleanupNetnsTest {
    private static final Pattern ENTRY = Pattern.compile(
            "^udp\\s+17\\s+\\d+\\s+src=(\\S+) dst=(\\S+) sport=(\\d+) dport=(\\d+) .*?src=(\\S+) dst=\\S+ sport=(\\d+) dport=\\d+");

    private String ns;
    private KernelConntrackCleaner cleaner;

    @BeforeEach
    void createNamespace() throws Exception {
        ns = "ferryct-" + ProcessHandle.current().pid() + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
        sh("ip", "netns", "add", ns);
        sh("ip", "-n", ns, "link", "set", "lo", "up");
        for (String a : List.of("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.254", "10.1.0.1", "10.1.0.2")) {
            sh("ip", "-n", ns, "addr", "add", a + "/32", "dev", "lo");
        }
        sh("ip", "-n", ns, "route", "add", "10.96.0.0/16", "dev", "lo");
        dnat("-d", "10.96.0.10", "--dport", "53", "-s", "10.0.0.1", "10.1.0.1:5353");
        dnat("-d", "10.96.0.10", "--dport", "53", "-s", "10.0.0.2", "10.1.0.2:5353");
        dnat("-d", "10.96.0.11", "--dport", "53", "-s", "10.0.0.0/24", "10.1.0.1:5353");
        dnat("-d", "10.0.0.254", "--dport", "30053", "-s", "10.0.0.3", "10.1.0.1:5353");
        dnat("-d", "10.0.0.254", "--dport", "30053", "-s", "10.0.0.4", "10.1.0.2:5353");

        send("10.0.0.1", 40001, "10.96.0.10", 53);
        send("10.0.0.2", 40002, "10.96.0.10", 53);
        send("10.0.0.1", 40011, "10.96.0.11", 53);
        send("10.0.0.1", 40020, "10.96.0.20", 53);
        send("10.0.0.3", 40053, "10.0.0.254", 30053);
        send("10.0.0.4", 40054, "10.0.0.254", 30053);
        send("10.0.0.3", 40055, "10.0.0.254", 30054);
        cleaner = new KernelConntrackCleaner(List.of("ip", "netns", "exec", ns, "conntrack"));
        assertEquals(ALL, entries(), "setup: every datagram must have made its conntrack entry");
    }

    static final Set<String> ALL = Set.of(
            "10.0.0.1:40001 > 10.96.0.10:53 via 10.1.0.1:5353",
            "10.0.0.2:40002 > 10.96.0.10:53 via 10.1.0.2:5353",
            "10.0.0.1:40011 > 10.96.0.11:53 via 10.1.0.1:5353",
            "10.0.0.1:40020 > 10.96.0.20:53 via 10.96.0.20:53",
            "10.0.0.3:40053 > 10.0.0.254:30053 via 10.1.0.1:5353",
            "10.0.0.4:40054 > 10.0.0.254:30053 via 10.1.0.2:5353",
            "10.0.0.3:40055 > 10.0.0.254:30054 via 10.0.0.254:30054");

    @AfterEach
    void deleteNamespace() throws Exception {
        if (ns != null) {
            run(List.of("ip", "netns", "del", ns));
        }
    }

    @Test
    void removedEndpointLosesOnlyItsFlowsToThatFrontend() throws Exception {
        int n = cleaner.endpointRemoved(ip("10.96.0.10"), 53, ip("10.1.0.1"), 5353);
        assertEquals(1, n);
        assertEquals(without("10.0.0.1:40001 > 10.96.0.10:53 via 10.1.0.1:5353"), entries(),
                "only the flow DNATed to the removed endpoint via 10.96.0.10:53 may go; the same endpoint behind "
                        + "10.96.0.11 and the other endpoint's flow stay");
    }

    @Test
    void frontendGainingEndpointsDropsTheFlowsThatWentNowhere() throws Exception {
        int n = cleaner.frontendGainedEndpoints(ip("10.96.0.20"), 53);
        assertEquals(1, n);
        assertEquals(without("10.0.0.1:40020 > 10.96.0.20:53 via 10.96.0.20:53"), entries());
    }

    @Test
    void removedNodePortEndpointLosesOnlyItsNodePortFlows() throws Exception {
        int n = cleaner.nodePortEndpointRemoved(30053, ip("10.1.0.1"), 5353);
        assertEquals(1, n);
        assertEquals(without("10.0.0.3:40053 > 10.0.0.254:30053 via 10.1.0.1:5353"), entries(),
                "ClusterIP flows to the same endpoint must stay");
    }

    @Test
    void nodePortGainingEndpointsDropsItsFlows() throws Exception {
        int n = cleaner.nodePortGainedEndpoints(30054, false);
        assertEquals(1, n);
        assertEquals(without("10.0.0.3:40055 > 10.0.0.254:30054 via 10.0.0.254:30054"), entries());
    }

    @Test
    void nothingStaleDeletesNothingWithoutError() throws Exception {
        assertEquals(0, cleaner.endpointRemoved(ip("10.96.0.10"), 53, ip("10.1.0.9"), 5353));
        assertEquals(ALL, entries());
    }

    private static Set<String> without(String gone) {
        Set<String> s = new TreeSet<>(ALL);
        if (!s.remove(gone)) {
            throw new IllegalArgumentException(gone);
        }
        return s;
    }

    /** "client > original destination via reply source" for each UDP entry in the namespace. */
    private Set<String> entries() throws Exception {
        Set<String> out = new TreeSet<>();
        for (String line : sh("ip", "netns", "exec", ns, "conntrack", "-L", "-p", "udp").split("\n")) {
            Matcher m = ENTRY.matcher(line.trim());
            if (m.find()) {
                out.add(m.group(1) + ":" + m.group(3) + " > " + m.group(2) + ":" + m.group(4)
                        + " via " + m.group(5) + ":" + m.group(6));
            }
        }
        return out;
    }

    private void dnat(String dFlag, String dst, String dportFlag, String dport, String sFlag, String src, String to)
            throws Exception {
        sh("ip", "netns", "exec", ns, "iptables", "-w", "-t", "nat", "-A", "OUTPUT", "-p", "udp",
                dFlag, dst, dportFlag, dport, sFlag, src, "-j", "DNAT", "--to-destination", to);
    }

    private void send(String src, int sport, String dst, int dport) throws Exception {
        sh("sh", "-c", "echo ping | ip netns exec " + ns + " socat -u - UDP4-SENDTO:" + dst + ":" + dport
                + ",bind=" + src + ":" + sport);
    }

    private static InetAddress ip(String s) throws IOException {
        return InetAddress.getByName(s);
    }

    private static String sh(String... argv) throws Exception {
        Result r = run(List.of(argv));
        if (r.exit != 0) {
            throw new AssertionError(String.join(" ", argv) + " exited " + r.exit + ": " + r.out);
        }
        return r.out;
    }

    record Result(int exit, String out) {}

    private static Result run(List<String> argv) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(argv)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", argv) + " hung");
        }
        return new Result(p.exitValue(), out);
    }
}
