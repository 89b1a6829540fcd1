package dev.ferry.rules.ipvs;

import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.ip;
import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.KernelTool;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IpvsRendererTest {
    static final IpvsOptions OPTS = new IpvsOptions("rr", List.of(ip("192.168.1.10")),
            List.of(Cidr.parse("10.244.0.0/16")), false, 14);

    static List<ServicePort> services() {
        return EndpointSelector.selectAll(List.of(
                svc("web").clusterIP("10.96.0.10").port(80).nodePort(30080)
                        .ep(ep("10.244.1.2", 8080, "node-a")).ep(ep("10.244.2.2", 8080, "node-b")).build(),
                svc("dns").udp().clusterIP("10.96.0.53").port(53).clientIP(600).ep(ep("10.244.1.53", 5353, "node-a")).build(),
                svc("lb").clusterIP("10.96.0.20").port(443).lbIP("10.200.0.10").sourceRange("203.0.113.0/24").local(0)
                        .ep(ep("10.244.1.3", 8443, "node-a")).ep(ep("10.244.2.3", 8443, "node-b")).build()),
                new NodeInfo("node-a", ""));
    }

    @Tag("unit")
    @Test
    void virtualServersCarryTheSelectedRealServers() {
        String vs = IpvsRenderer.render(services(), OPTS).ipvsadm();
        assertEquals("""
                -A -u 10.96.0.53:53 -s rr -p 600
                -a -u 10.96.0.53:53 -r 10.244.1.53:5353 -m -w 1
                -A -t 10.96.0.20:443 -s rr
                -a -t 10.96.0.20:443 -r 10.244.1.3:8443 -m -w 1
                -a -t 10.96.0.20:443 -r 10.244.2.3:8443 -m -w 1
                -A -t 10.200.0.10:443 -s rr
                -a -t 10.200.0.10:443 -r 10.244.1.3:8443 -m -w 1
                -A -t 10.96.0.10:80 -s rr
                -a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1
                -a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1
                -A -t 192.168.1.10:30080 -s rr
                -a -t 192.168.1.10:30080 -r 10.244.1.2:8080 -m -w 1
                -a -t 192.168.1.10:30080 -r 10.244.2.2:8080 -m -w 1
                """, vs);
    }

    @Tag("unit")
    @Test
    void ipsetsAreSwappedInAtomicallyAndHoldTheFrontends() {
        IpvsRendering r = IpvsRenderer.render(services(), OPTS);
        assertTrue(r.ipset().contains("add KUBE-CLUSTER-IP-T 10.96.0.10,tcp:80\n"), r.ipset());
        assertTrue(r.ipset().contains("add KUBE-LOAD-BALANCER-SOURCE-CIDR-T 10.200.0.10,tcp:443,203.0.113.0/24\n"), r.ipset());
        assertTrue(r.ipset().contains("add KUBE-NODE-PORT-TCP-T 30080\n"), r.ipset());
        assertTrue(r.ipset().contains("swap KUBE-CLUSTER-IP-T KUBE-CLUSTER-IP\n"), r.ipset());
        assertTrue(r.iptables().contains("--match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ"), r.iptables());
        assertTrue(r.addresses().contains("address replace 10.200.0.10/32 dev kube-ipvs0\n"), r.addresses());
    }

    @Tag("unit")
    @Test
    void schedulerComesFromTheAnnotationMappedToAKernelScheduler() {
        ServicePort sp = svc("a").clusterIP("10.96.0.1").build();
        assertEquals("rr", IpvsRenderer.scheduler(sp, OPTS));
        ServicePort p2c = new ServicePort(sp.name(), sp.type(), false, "", sp.clusterIPs(), 80, "", 0, List.of(), List.of(),
                null, 0, null, null, List.of(), 0, "", false, "p2c", false, List.of());
        assertEquals("lc", IpvsRenderer.scheduler(p2c, OPTS));
    }

    @Tag("unit")
    @Test
    void diffTouchesOnlyWhatChanged() {
        String current = """
                -A -t 10.96.0.10:80 -s rr
                -a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1
                -a -t 10.96.0.10:80 -r 10.244.9.9:8080 -m -w 1
                -A -t 10.96.0.99:80 -s rr
                """;
        String desired = """
                -A -t 10.96.0.10:80 -s rr
                -a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1
                -a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1
                -A -u 10.96.0.53:53 -s rr
                """;
        assertEquals("""
                -d -t 10.96.0.10:80 -r 10.244.9.9:8080
                -D -t 10.96.0.99:80
                -A -u 10.96.0.53:53 -s rr
                -a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1
                """, IpvsDiff.between(current, desired));
    }

    @Tag("unit")
    @Test
    void missingIpVsModuleIsNamedInTheStartupFailure(@TempDir Path proc) throws IOException {
        Files.createDirectories(proc.resolve("net"));
        Files.writeString(proc.resolve("modules"), "nf_conntrack 172032 1 - Live 0x0\n");
        String reason = IpvsSupport.check(proc);
        assertNotNull(reason);
        assertTrue(reason.contains("ip_vs") && reason.contains("--mode iptables"), reason);
        Files.writeString(proc.resolve("modules"), "ip_vs 172032 0 - Live 0x0\n");
        assertNull(IpvsSupport.check(proc));
    }

    @Test
    void thisKernelWithoutIpVsFailsAtStartBeforeTouchingAnything() {
        // These machines have no ip_vs (TESTING.md); where a kernel has it, start() must succeed instead.
        if (IpvsSupport.check() == null) {
            assertNotNull(assertDoesNotThrowStart());
            return;
        }
        IpvsUnavailableException e = assertThrows(IpvsUnavailableException.class,
                () -> IpvsSyncer.start(new KernelTool(), IpvsOptions.defaults()));
        assertTrue(e.getMessage().contains("ip_vs"), e.getMessage());
    }

    private static IpvsSyncer assertDoesNotThrowStart() {
        try {
            return IpvsSyncer.start(new KernelTool(), IpvsOptions.defaults());
        } catch (IpvsUnavailableException e) {
            throw new AssertionError(e);
        }
    }
}
