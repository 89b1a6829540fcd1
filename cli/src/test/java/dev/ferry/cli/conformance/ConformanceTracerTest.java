package dev.ferry.cli.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every flow of the conformance scenarios ({@link Scenarios}: kube-proxy's packet-flow test sets)
 * traced through the iptables and nftables payloads Ferry renders for it, in pure Java: the rules
 * must give each flow the outcome kube-proxy gives it (endpoints, REJECT, DROP, untouched,
 * masquerade).
 */
@Tag("unit")
class ConformanceTracerTest {
    static Stream<Arguments> flows() {
        List<Arguments> out = new ArrayList<>();
        for (Scenarios.Scenario s : Scenarios.all()) {
            for (Scenarios.FlowCase f : s.flows()) {
                out.add(Arguments.of(s, f));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("flows")
    void iptablesRulesGiveKubeProxysOutcome(Scenarios.Scenario s, Scenarios.FlowCase f) {
        Rendered r = Rendered.of(s);
        Outcome got = new IptablesTracer(r.iptables(), s.network(), 14).trace(f.packet());
        assertEquals(f.iptables(), got, s + " / " + f + ": iptables payload\n" + r.iptables());
    }

    @ParameterizedTest(name = "{0} / {1}")
    @MethodSource("flows")
    void nftablesRulesGiveKubeProxysOutcome(Scenarios.Scenario s, Scenarios.FlowCase f) {
        Rendered r = Rendered.of(s);
        Outcome got = new NftTracer(r.nftables(), s.network()).trace(f.packet());
        assertEquals(f.nftables(), got, s + " / " + f + ": nftables payload\n" + r.nftables());
    }

    @Test
    void theSuiteCoversEveryKubeProxyScenarioSet() {
        List<String> tests = Scenarios.all().stream().map(Scenarios.Scenario::kubeProxyTest).distinct().toList();
        assertEquals(List.of("TestOverallIPTablesRules", "TestNoEndpointsReject", "TestClusterIPGeneral", "TestLoadBalancer",
                "TestNodePorts", "TestHealthCheckNodePort", "TestExternalTrafficPolicyLocal", "TestExternalTrafficPolicyCluster",
                "TestInternalTrafficPolicy", "TestTerminatingEndpointsTrafficPolicyLocal",
                "TestTerminatingEndpointsTrafficPolicyCluster", "TestInternalExternalMasquerade", "TestCategorizeEndpoints"), tests);
    }
}
