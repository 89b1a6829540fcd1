package dev.ferry.rules;

import static dev.ferry.testkit.ServicePorts.ep;
import static dev.ferry.testkit.ServicePorts.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.model.ServicePort;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Which conntrack deletions a rule mode asks for after an apply, seen through a recording stand-in for the tool. */
@Tag("unit")
class StaleUdpFlowsTest {
    @TempDir
    Path dir;

    private List<String> calls(Path log) throws Exception {
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    private StaleUdpFlows recording(Path log, boolean ipv6) {
        String script = "echo \"$*\" >> '" + log + "'; echo '0 flow entries have been deleted.' >&2";
        return new StaleUdpFlows(new KernelConntrackCleaner(List.of("sh", "-c", script, "conntrack")), true, ipv6,
                LoggerFactory.getLogger(StaleUdpFlowsTest.class));
    }

    @Test
    void aReplacedUdpEndpointHasItsFlowsDeletedAndNothingElseIsTouched() throws Exception {
        Path log = dir.resolve("calls");
        StaleUdpFlows flows = recording(log, false);
        ServicePort dns = svc("dns").udp().clusterIP("10.96.0.10").port(53).ep(ep("10.244.1.2", 53, "n")).build();
        ServicePort web = svc("web").clusterIP("10.96.0.20").port(80).ep(ep("10.244.1.3", 80, "n")).build();
        flows.applied(List.of(dns, web));
        assertEquals(List.of("-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53"), calls(log),
                "a UDP ClusterIP getting its first endpoint: flows answered by the reject rule go");

        ServicePort moved = svc("dns").udp().clusterIP("10.96.0.10").port(53).ep(ep("10.244.2.2", 53, "n")).build();
        ServicePort webMoved = svc("web").clusterIP("10.96.0.20").port(80).ep(ep("10.244.2.3", 80, "n")).build();
        Files.delete(log);
        flows.applied(List.of(moved, webMoved));
        assertEquals(List.of("-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.1.2 --reply-port-src 53"),
                calls(log), "only the UDP service's removed endpoint; TCP needs nothing");

        flows.applied(List.of(moved, webMoved));
        assertEquals(1, calls(log).size(), "an unchanged input deletes nothing");
    }

    @Test
    void aRemovedUdpServiceHasItsFlowsDeletedAndANodePortCoversEveryFamilyEnabled() throws Exception {
        Path log = dir.resolve("calls");
        StaleUdpFlows flows = recording(log, true);
        ServicePort dns = svc("dns").udp().clusterIP("10.96.0.10").port(53).nodePort(30053).ep(ep("10.244.1.2", 53, "n")).build();
        flows.applied(List.of(dns));
        assertEquals(List.of("-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53",
                "-D -f ipv4 -p udp --orig-port-dst 30053", "-D -f ipv6 -p udp --orig-port-dst 30053"),
                calls(log).stream().sorted().toList());
        Files.delete(log);
        flows.applied(List.of());
        assertEquals(List.of("-D -f ipv4 -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.1.2 --reply-port-src 53",
                "-D -f ipv4 -p udp --orig-port-dst 30053 --reply-src 10.244.1.2 --reply-port-src 53"),
                calls(log).stream().sorted().toList());
    }
}
