package dev.ferry.select;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.TrafficPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One row per selection rule: the endpoints (by last octet), the service's policies, and the exact
 * sets kube-proxy would use for ClusterIP traffic and for external traffic on node "me" in zone "a".
 */
@Tag("unit")
class EndpointSelectorTest {
    static final NodeInfo ME = new NodeInfo("me", "a");

    /** Endpoint spec: "1:R:me:a" = 10.0.0.1, Ready, on node me, hinted for zone a. States R (ready), T (serving+terminating), D (terminating, not serving), N (not ready). Hint "-" = none. */
    static Endpoint ep(String spec) {
        String[] f = spec.split(":");
        boolean ready = f[1].equals("R");
        boolean serving = ready || f[1].equals("T");
        boolean terminating = f[1].equals("T") || f[1].equals("D");
        List<String> hints = f[3].equals("-") ? List.of() : List.of(f[3].split(","));
        return new Endpoint(IpAddresses.parse("10.0.0." + f[0]), 80, ready, serving, terminating, f[2], "", hints, "");
    }

    static ServicePort svc(TrafficPolicy itp, TrafficPolicy etp, boolean external, String distribution, String... eps) {
        List<Endpoint> list = new ArrayList<>();
        for (String e : eps) list.add(ep(e));
        return new ServicePort(new ServicePortName("ns", "svc", "", Protocol.TCP),
                external ? ServiceType.NODE_PORT : ServiceType.CLUSTER_IP, false, "",
                List.of(IpAddresses.parse("10.96.0.1")), 80, "80", external ? 30080 : 0, List.of(), List.of(), null, 0,
                etp, itp, List.of(), 0, distribution, false, "", false, list);
    }

    static final TrafficPolicy C = TrafficPolicy.CLUSTER;
    static final TrafficPolicy L = TrafficPolicy.LOCAL;

    static Stream<Arguments> rules() {
        return Stream.of(
                Arguments.of("ready endpoints only", svc(C, C, true, "", "1:R:me:-", "2:N:me:-", "3:R:other:-"), "1,3", "1,3"),
                Arguments.of("no ready anywhere: serving-terminating fallback", svc(C, C, true, "", "1:T:other:-", "2:D:me:-", "3:N:me:-"), "1", "1"),
                Arguments.of("a ready endpoint beats terminating ones", svc(C, C, true, "", "1:T:me:-", "2:R:other:-"), "2", "2"),
                Arguments.of("eTP Local: external uses this node's only", svc(C, L, true, "", "1:R:me:-", "2:R:other:-"), "1,2", "1"),
                Arguments.of("eTP Local without local endpoints: external gets none", svc(C, L, true, "", "2:R:other:-"), "2", ""),
                Arguments.of("eTP Local: local terminating fallback", svc(C, L, true, "", "1:T:me:-", "2:R:other:-"), "2", "1"),
                Arguments.of("iTP Local: ClusterIP uses this node's only", svc(L, C, true, "", "1:R:me:-", "2:R:other:-"), "1", "1,2"),
                Arguments.of("iTP Local without local endpoints: ClusterIP gets none", svc(L, C, false, "", "2:R:other:-"), "", ""),
                Arguments.of("not externally reachable: no external selection", svc(C, C, false, "", "1:R:me:-"), "1", ""),
                Arguments.of("PreferClose with full hints: same zone only", svc(C, C, true, "PreferClose", "1:R:x:a", "2:R:y:b", "3:R:z:a"), "1,3", "1,3"),
                Arguments.of("PreferClose but one ready endpoint lacks hints: all", svc(C, C, true, "PreferClose", "1:R:x:a", "2:R:y:-"), "1,2", "1,2"),
                Arguments.of("PreferClose but no endpoint for this zone: all", svc(C, C, true, "PreferClose", "1:R:x:b", "2:R:y:c"), "1,2", "1,2"),
                // kube-proxy 1.32 follows the slices' zone hints whoever set them: no trafficDistribution needed
                Arguments.of("hints used without trafficDistribution", svc(C, C, true, "", "1:R:x:a", "2:R:y:b"), "1", "1"),
                Arguments.of("hints used whatever trafficDistribution says", svc(C, C, true, "Other", "1:R:x:a", "2:R:y:b"), "1", "1"),
                Arguments.of("hints without one for this zone: all, even if ready elsewhere", svc(C, C, true, "", "1:R:x:b", "2:N:y:a"), "1", "1"),
                Arguments.of("no ready endpoint: hints ignored, terminating fallback", svc(C, C, true, "", "1:T:x:a", "2:T:y:b"), "1,2", "1,2"),
                Arguments.of("hints for several zones", svc(C, C, true, "PreferClose", "1:R:x:a,b", "2:R:y:b"), "1", "1"),
                Arguments.of("topology and eTP Local: external ignores topology", svc(C, L, true, "PreferClose", "1:R:me:b", "2:R:y:a"), "2", "1"),
                Arguments.of("not-ready endpoints do not count for hint completeness", svc(C, C, true, "PreferClose", "1:R:x:a", "2:N:y:-", "3:R:z:b"), "1", "1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rules")
    void selectsExactlyWhatKubeProxyWould(String rule, ServicePort sp, String cluster, String external) {
        ServicePort selected = EndpointSelector.select(sp, ME);
        assertEquals(cluster, octets(selected, true), rule + ": ClusterIP traffic");
        assertEquals(external, octets(selected, false), rule + ": external traffic");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rules")
    void aNodeWithoutAZoneNeverUsesTopology(String rule, ServicePort sp, String cluster, String external) {
        ServicePort a = EndpointSelector.select(sp.withEndpoints(sp.endpoints()), new NodeInfo("me", ""));
        ServicePort b = EndpointSelector.select(sp.withEndpoints(sp.endpoints()).withEndpoints(sp.endpoints()),
                new NodeInfo("me", "zone-nobody-hints"));
        assertEquals(octets(a, true), octets(b, true), rule);
    }

    static String octets(ServicePort sp, boolean cluster) {
        List<String> out = new ArrayList<>();
        for (Endpoint e : sp.endpoints()) {
            if (cluster ? e.clusterTraffic() : e.externalTraffic()) {
                out.add(Integer.toString(e.address().getAddress()[3]));
            }
        }
        return String.join(",", out);
    }
}
