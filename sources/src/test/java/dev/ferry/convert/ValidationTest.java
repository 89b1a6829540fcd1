package dev.ferry.convert;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;

import static dev.ferry.convert.Objects.service;
import static dev.ferry.convert.Objects.slice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Every validation error: the object is rejected whole, with the field path and the reason. */
@Tag("unit")
class ValidationTest {

    private static final String GOOD_SPEC_PORTS = "ports: [{name: http, port: 80}]";

    private static Service svc(String spec) {
        return service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n" + spec);
    }

    private static EndpointSlice sl(String body) {
        return slice("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                + "metadata: {name: web-abc, namespace: shop, labels: {kubernetes.io/service-name: web}}\n" + body);
    }

    /** Asserts the service is rejected whole and that one rejection has this field, reason and detail. */
    private static Rejection assertServiceRejected(Service s, String field, RejectionReason reason, String detail) {
        Conversion c = ServiceConverter.convert(s, List.of());
        assertEquals(List.of(), c.ports(), "a bad Service yields no ports at all");
        return assertHas(c, "Service", field, reason, detail);
    }

    /** Asserts the slice is rejected whole: the service still converts, with no endpoints from it. */
    private static Rejection assertSliceRejected(EndpointSlice s, String field, RejectionReason reason, String detail) {
        Conversion c = ServiceConverter.convert(svc("spec: {" + GOOD_SPEC_PORTS + "}"), List.of(s));
        assertEquals(1, c.ports().size(), "the service itself is fine: " + c);
        assertEquals(List.of(), c.ports().get(0).endpoints(), "a bad slice contributes no endpoints");
        return assertHas(c, "EndpointSlice", field, reason, detail);
    }

    private static Rejection assertHas(Conversion c, String kind, String field, RejectionReason reason, String detail) {
        for (Rejection r : c.rejections()) {
            if (r.kind().equals(kind) && r.field().equals(field) && r.reason() == reason) {
                assertTrue(r.detail().contains(detail), "detail of " + r + " should contain: " + detail);
                return r;
            }
        }
        throw new AssertionError("no " + kind + " rejection at " + field + " (" + reason + "); got " + c.rejections());
    }

    // ---- Service ----

    @Test
    void servicePortAboveRangeIsRejectedInKubernetesWords() {
        Rejection r = assertServiceRejected(svc("spec: {ports: [{name: a, port: 80}, {name: b, port: 70000}]}"),
                "spec.ports[1].port", RejectionReason.INVALID_PORT, "70000");
        assertEquals("Service shop/web: spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                r.toString());
        assertEquals("InvalidPort", r.reason().code());
    }

    @Test
    void servicePortZeroIsRejected() {
        assertServiceRejected(svc("spec: {ports: [{port: 0}]}"), "spec.ports[0].port", RejectionReason.INVALID_PORT,
                "Invalid value: 0");
    }

    @Test
    void nodePortAboveRangeIsRejected() {
        assertServiceRejected(svc("spec: {type: NodePort, ports: [{port: 80, nodePort: 65536}]}"),
                "spec.ports[0].nodePort", RejectionReason.INVALID_PORT, "65536");
    }

    @Test
    void numericTargetPortZeroIsRejected() {
        assertServiceRejected(svc("spec: {ports: [{port: 80, targetPort: 0}]}"), "spec.ports[0].targetPort",
                RejectionReason.INVALID_PORT, "Invalid value: 0");
    }

    @Test
    void namedTargetPortThatIsNotAnIanaNameIsRejected() {
        assertServiceRejected(svc("spec: {ports: [{port: 80, targetPort: Not_A_Name}]}"), "spec.ports[0].targetPort",
                RejectionReason.INVALID_VALUE, "\"Not_A_Name\"");
    }

    @Test
    void healthCheckNodePortAboveRangeIsRejected() {
        assertServiceRejected(svc("spec: {type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 99999, ports: [{port: 80}]}"),
                "spec.healthCheckNodePort", RejectionReason.INVALID_PORT, "99999");
    }

    @Test
    void duplicatePortNamesAreRejected() {
        assertServiceRejected(svc("spec: {ports: [{name: http, port: 80}, {name: http, port: 81}]}"),
                "spec.ports[1].name", RejectionReason.DUPLICATE_PORT_NAME, "Duplicate value: \"http\"");
    }

    @Test
    void unnamedPortAmongSeveralIsRejected() {
        assertServiceRejected(svc("spec: {ports: [{name: http, port: 80}, {port: 81}]}"),
                "spec.ports[1].name", RejectionReason.REQUIRED_VALUE, "Required value");
    }

    @Test
    void unknownProtocolIsRejected() {
        assertServiceRejected(svc("spec: {ports: [{port: 80, protocol: ICMP}]}"), "spec.ports[0].protocol",
                RejectionReason.UNSUPPORTED_PROTOCOL, "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    }

    @Test
    void lowercaseProtocolIsRejectedAsTheApiServerDoes() {
        assertServiceRejected(svc("spec: {ports: [{port: 80, protocol: tcp}]}"), "spec.ports[0].protocol",
                RejectionReason.UNSUPPORTED_PROTOCOL, "\"tcp\"");
    }

    @Test
    void invalidClusterIpIsRejected() {
        assertServiceRejected(svc("spec: {clusterIP: 10.0.0.256, " + GOOD_SPEC_PORTS + "}"), "spec.clusterIP",
                RejectionReason.INVALID_IP, "\"10.0.0.256\"");
    }

    @Test
    void clusterIpHostNameIsRejectedWithoutAnyDnsLookup() {
        assertServiceRejected(svc("spec: {clusterIPs: [localhost], " + GOOD_SPEC_PORTS + "}"), "spec.clusterIPs[0]",
                RejectionReason.INVALID_IP, "\"localhost\"");
    }

    @Test
    void twoClusterIpsOfOneFamilyAreRejected() {
        assertServiceRejected(svc("spec: {clusterIPs: [10.0.0.1, 10.0.0.2], " + GOOD_SPEC_PORTS + "}"), "spec.clusterIPs[1]",
                RejectionReason.INVALID_IP, "one IPv4 and one IPv6");
    }

    @Test
    void clusterIpsDisagreeingWithClusterIpAreRejected() {
        assertServiceRejected(svc("spec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.2], " + GOOD_SPEC_PORTS + "}"),
                "spec.clusterIPs[0]", RejectionReason.INVALID_VALUE, "must match spec.clusterIP");
    }

    @Test
    void invalidExternalIpIsRejected() {
        assertServiceRejected(svc("spec: {externalIPs: [192.0.2.1, 'fe80::1%eth0'], " + GOOD_SPEC_PORTS + "}"),
                "spec.externalIPs[1]", RejectionReason.INVALID_IP, "\"fe80::1%eth0\"");
    }

    @Test
    void invalidLoadBalancerIngressIpIsRejected() {
        assertServiceRejected(svc("spec: {type: LoadBalancer, " + GOOD_SPEC_PORTS + "}\n"
                        + "status: {loadBalancer: {ingress: [{ip: 198.51.100.7}, {ip: 198.51.100}]}}"),
                "status.loadBalancer.ingress[1].ip", RejectionReason.INVALID_IP, "\"198.51.100\"");
    }

    @Test
    void unknownTypeIsRejected() {
        assertServiceRejected(svc("spec: {type: Magic, " + GOOD_SPEC_PORTS + "}"), "spec.type",
                RejectionReason.UNSUPPORTED_VALUE, "Unsupported value: \"Magic\"");
    }

    @Test
    void unknownExternalTrafficPolicyIsRejected() {
        assertServiceRejected(svc("spec: {type: NodePort, externalTrafficPolicy: Global, " + GOOD_SPEC_PORTS + "}"),
                "spec.externalTrafficPolicy", RejectionReason.UNSUPPORTED_VALUE, "\"Cluster\", \"Local\"");
    }

    @Test
    void unknownInternalTrafficPolicyIsRejected() {
        assertServiceRejected(svc("spec: {internalTrafficPolicy: local, " + GOOD_SPEC_PORTS + "}"),
                "spec.internalTrafficPolicy", RejectionReason.UNSUPPORTED_VALUE, "\"local\"");
    }

    @Test
    void unknownSessionAffinityIsRejected() {
        assertServiceRejected(svc("spec: {sessionAffinity: Cookie, " + GOOD_SPEC_PORTS + "}"),
                "spec.sessionAffinity", RejectionReason.UNSUPPORTED_VALUE, "\"ClientIP\", \"None\"");
    }

    @Test
    void affinityTimeoutOutOfRangeIsRejected() {
        assertServiceRejected(svc("spec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, "
                        + GOOD_SPEC_PORTS + "}"),
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds", RejectionReason.INVALID_VALUE, "86400");
    }

    @Test
    void badSourceRangeIsRejected() {
        assertServiceRejected(svc("spec: {type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0/8, 10.0.0.0/33], "
                        + GOOD_SPEC_PORTS + "}"),
                "spec.loadBalancerSourceRanges[1]", RejectionReason.INVALID_CIDR, "\"10.0.0.0/33\"");
    }

    @Test
    void serviceWithoutPortsIsRejectedUnlessHeadless() {
        assertServiceRejected(svc("spec: {clusterIP: 10.0.0.1}"), "spec.ports", RejectionReason.REQUIRED_VALUE,
                "Required value");
    }

    @Test
    void externalNameServiceWithoutExternalNameIsRejected() {
        assertServiceRejected(svc("spec: {type: ExternalName}"), "spec.externalName", RejectionReason.REQUIRED_VALUE,
                "Required value");
    }

    @Test
    void badProxyProtocolAnnotationIsRejected() {
        Service s = service("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop, annotations: {ferry.dev/proxy-protocol: v1}}
                spec: {ports: [{port: 80}]}
                """);
        assertServiceRejected(s, "metadata.annotations[ferry.dev/proxy-protocol]", RejectionReason.INVALID_VALUE, "\"v1\"");
    }

    @Test
    void serviceWithoutNameIsRejected() {
        assertServiceRejected(service("apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\nspec: {ports: [{port: 80}]}"),
                "metadata.name", RejectionReason.REQUIRED_VALUE, "Required value");
    }

    @Test
    void everyProblemOfAnObjectIsReported() {
        Conversion c = ServiceConverter.convert(svc("spec: {type: Magic, ports: [{port: 0, protocol: ICMP}]}"), List.of());
        assertEquals(3, c.rejections().size(), c.rejections().toString());
    }

    // ---- EndpointSlice ----

    @Test
    void slicePortZeroRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 0}]\nendpoints: [{addresses: [10.1.0.1]}]"),
                "ports[0].port", RejectionReason.INVALID_PORT, "Invalid value: 0");
    }

    @Test
    void slicePortAboveRangeRejectsTheSlice() {
        Rejection r = assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 70000}]\nendpoints: [{addresses: [10.1.0.1]}]"),
                "ports[0].port", RejectionReason.INVALID_PORT, "70000");
        assertEquals("EndpointSlice shop/web-abc: ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                r.toString());
    }

    @Test
    void sliceUnknownProtocolRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 80, protocol: QUIC}]\nendpoints: [{addresses: [10.1.0.1]}]"),
                "ports[0].protocol", RejectionReason.UNSUPPORTED_PROTOCOL, "\"QUIC\"");
    }

    @Test
    void sliceDuplicatePortNamesRejectTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 80}, {name: http, port: 81}]\n"
                        + "endpoints: [{addresses: [10.1.0.1]}]"),
                "ports[1].name", RejectionReason.DUPLICATE_PORT_NAME, "\"http\"");
    }

    @Test
    void endpointWithoutAddressesRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 80}]\n"
                        + "endpoints: [{addresses: [10.1.0.1]}, {addresses: []}]"),
                "endpoints[1].addresses", RejectionReason.MISSING_ADDRESSES, "Required value");
    }

    @Test
    void invalidEndpointAddressRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 80}]\n"
                        + "endpoints: [{addresses: [10.1.0.1]}, {addresses: [pod-2.local]}]"),
                "endpoints[1].addresses[0]", RejectionReason.INVALID_IP, "\"pod-2.local\"");
    }

    @Test
    void endpointAddressOfTheWrongFamilyRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv4\nports: [{name: http, port: 80}]\nendpoints: [{addresses: ['fd00::1']}]"),
                "endpoints[0].addresses[0]", RejectionReason.INVALID_IP, "must be an IPv4 address");
    }

    @Test
    void unknownAddressTypeRejectsTheSlice() {
        assertSliceRejected(sl("addressType: IPv5\nports: [{name: http, port: 80}]\nendpoints: [{addresses: [10.1.0.1]}]"),
                "addressType", RejectionReason.UNSUPPORTED_VALUE, "\"FQDN\", \"IPv4\", \"IPv6\"");
    }

    @Test
    void sliceWithoutServiceLabelIsRejected() {
        EndpointSlice unlabeled = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: orphan, namespace: shop}
                addressType: IPv4
                ports: [{name: http, port: 80}]
                endpoints: [{addresses: [10.1.0.1]}]
                """);
        Conversion c = ClusterConverter.convert(List.of(svc("spec: {" + GOOD_SPEC_PORTS + "}")), List.of(unlabeled));
        assertHas(c, "EndpointSlice", "metadata.labels[kubernetes.io/service-name]", RejectionReason.MISSING_SERVICE_LABEL,
                "Required value");
        assertEquals(1, c.ports().size());
        // Given straight to the service converter, the same slice is rejected the same way.
        assertSliceRejected(unlabeled, "metadata.labels[kubernetes.io/service-name]", RejectionReason.MISSING_SERVICE_LABEL,
                "Required value");
    }
}
