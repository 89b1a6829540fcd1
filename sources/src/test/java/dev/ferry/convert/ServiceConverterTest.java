package dev.ferry.convert;

import static dev.ferry.convert.Objects.service;
import static dev.ferry.convert.Objects.slice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ServiceConverterTest {

    private static final Service WEB = service("""
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop}
            spec:
              type: ClusterIP
              clusterIP: 10.96.0.10
              clusterIPs: [10.96.0.10, "fd00:10:96::a"]
              ipFamilies: [IPv4, IPv6]
              ports:
              - {name: http, port: 80, targetPort: http, protocol: TCP}
              - {name: dns, port: 53, targetPort: 5353, protocol: UDP}
            """);

    private static ServicePort port(Conversion c, String name) {
        return c.ports().stream().filter(p -> p.name().portName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no port " + name + " in " + c));
    }

    private static List<String> hostPorts(ServicePort p) {
        return p.endpoints().stream().map(Endpoint::hostPort).collect(Collectors.toList());
    }

    private static Conversion convertOk(Service svc, EndpointSlice... slices) {
        Conversion c = ServiceConverter.convert(svc, List.of(slices));
        assertEquals(List.of(), c.rejections(), "unexpected rejections");
        return c;
    }

    @Test
    void dualStackServiceHasOneClusterIpPerFamilyAndOnePortEach() {
        Conversion c = convertOk(WEB);
        assertEquals(2, c.ports().size());
        ServicePort http = port(c, "http");
        assertEquals("shop/web:http", http.name().toString());
        assertEquals(Protocol.TCP, http.name().protocol());
        assertEquals(List.of(IpAddresses.parse("10.96.0.10"), IpAddresses.parse("fd00:10:96::a")), http.clusterIPs());
        assertEquals(ServiceType.CLUSTER_IP, http.type());
        assertEquals("http", http.targetPort());
        assertEquals(80, http.port());
        assertEquals(Protocol.UDP, port(c, "dns").name().protocol());
        assertEquals("5353", port(c, "dns").targetPort());
        assertEquals(List.of("10.96.0.10:80", "[fd00:10:96::a]:80"),
                http.frontends().stream().map(Object::toString).collect(Collectors.toList()));
    }

    @Test
    void singleClusterIpFieldIsUsedWhenClusterIpsIsAbsent() {
        Conversion c = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: one, namespace: default}
                spec: {clusterIP: 10.0.0.1, ports: [{port: 443}]}
                """));
        assertEquals(List.of(IpAddresses.parse("10.0.0.1")), c.ports().get(0).clusterIPs());
        assertEquals("", c.ports().get(0).name().portName());
        assertEquals("443", c.ports().get(0).targetPort(), "absent targetPort defaults to the port");
    }

    @Test
    void namedTargetPortResolvesPerSlice() {
        EndpointSlice a = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-a, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints: [{addresses: [10.1.0.1], conditions: {ready: true}}]
                """);
        EndpointSlice b = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-b, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 9090, protocol: TCP}]
                endpoints: [{addresses: [10.1.0.2], conditions: {ready: true}}]
                """);
        Conversion c = convertOk(WEB, a, b);
        assertEquals(List.of("10.1.0.1:8080", "10.1.0.2:9090"), hostPorts(port(c, "http")));
        assertEquals(List.of(), port(c, "dns").endpoints(), "no slice has a port named dns");
    }

    @Test
    void ipv4AndIpv6SlicesAreMergedAndFqdnSlicesIgnored() {
        EndpointSlice v4 = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-v4, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: dns, port: 5353, protocol: UDP}]
                endpoints: [{addresses: [10.1.0.1]}]
                """);
        EndpointSlice v6 = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-v6, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv6
                ports: [{name: dns, port: 5353, protocol: UDP}]
                endpoints: [{addresses: ["fd00::1"]}]
                """);
        EndpointSlice fqdn = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-fqdn, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: FQDN
                ports: [{name: dns, port: 5353, protocol: UDP}]
                endpoints: [{addresses: [db.example.com]}]
                """);
        Conversion c = convertOk(WEB, v4, v6, fqdn);
        assertEquals(List.of("10.1.0.1:5353", "[fd00::1]:5353"), hostPorts(port(c, "dns")));
    }

    @Test
    void slicePortOfAnotherProtocolDoesNotMatch() {
        EndpointSlice tcpDns = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-x, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: dns, port: 5353, protocol: TCP}]
                endpoints: [{addresses: [10.1.0.1]}]
                """);
        assertEquals(List.of(), port(convertOk(WEB, tcpDns), "dns").endpoints());
    }

    @Test
    void endpointInTwoSlicesIsKeptOnceAndTheRunningCopyWins() {
        // Slice names order the reading: web-a first. kube-proxy keeps the non-terminating copy.
        EndpointSlice a = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-a, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - {addresses: [10.1.0.1], conditions: {ready: true}, nodeName: n1}
                - {addresses: [10.1.0.9], conditions: {ready: true, serving: true, terminating: false}, nodeName: new-node}
                """);
        EndpointSlice b = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-b, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - {addresses: [10.1.0.2], conditions: {ready: true}}
                - {addresses: [10.1.0.9], conditions: {ready: false, serving: true, terminating: true}, nodeName: old-node}
                """);
        for (EndpointSlice[] order : List.of(new EndpointSlice[] {a, b}, new EndpointSlice[] {b, a})) {
            ServicePort http = port(convertOk(WEB, order), "http");
            assertEquals(List.of("10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.9:8080"), hostPorts(http));
            Endpoint dup = http.endpoints().get(2);
            assertEquals("new-node", dup.nodeName(), "the non-terminating copy wins, whatever the input order");
            assertFalse(dup.terminating());
        }
    }

    @Test
    void terminatingEndpointKeepsItsConditionsAndPlacement() {
        EndpointSlice s = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-a, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [10.1.0.7]
                  conditions: {ready: false, serving: true, terminating: true}
                  nodeName: node-a
                  zone: zone-a
                  hostname: web-7
                  hints: {forZones: [{name: zone-a}, {name: zone-b}]}
                """);
        Endpoint e = port(convertOk(WEB, s), "http").endpoints().get(0);
        assertEquals(new Endpoint(IpAddresses.parse("10.1.0.7"), 8080, false, true, true, "node-a", "zone-a",
                List.of("zone-a", "zone-b"), "web-7"), e);
    }

    @Test
    void absentConditionsFollowTheApiDefaults() {
        EndpointSlice s = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-a, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                - {addresses: [10.1.0.1]}
                - {addresses: [10.1.0.2], conditions: {ready: false}}
                """);
        List<Endpoint> eps = port(convertOk(WEB, s), "http").endpoints();
        Endpoint nil = eps.get(0);
        assertTrue(nil.ready() && nil.serving() && !nil.terminating(), "nil ready = ready, nil serving = ready: " + nil);
        Endpoint notReady = eps.get(1);
        assertFalse(notReady.serving(), "nil serving defers to ready=false: " + notReady);
    }

    @Test
    void onlyTheFirstAddressOfAnEndpointIsUsed() {
        EndpointSlice s = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-a, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints: [{addresses: [10.1.0.1, 10.1.0.2]}]
                """);
        assertEquals(List.of("10.1.0.1:8080"), hostPorts(port(convertOk(WEB, s), "http")));
    }

    @Test
    void externalNameServiceHasItsNameAndNoFrontends() {
        Conversion c = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: db, namespace: shop}
                spec: {type: ExternalName, externalName: db.example.com, ports: [{port: 5432}]}
                """));
        ServicePort p = c.ports().get(0);
        assertEquals(ServiceType.EXTERNAL_NAME, p.type());
        assertEquals("db.example.com", p.externalName());
        assertEquals(List.of(), p.frontends());
    }

    @Test
    void portlessExternalNameServiceIsKeptAsOnePortZeroEntryForDns() {
        Conversion c = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: docs, namespace: default}
                spec: {type: ExternalName, externalName: docs.example.com}
                """));
        assertEquals(1, c.ports().size());
        ServicePort p = c.ports().get(0);
        assertEquals(0, p.port());
        assertEquals("", p.name().portName());
        assertEquals("docs.example.com", p.externalName());
        assertEquals(List.of(), p.frontends());
    }

    @Test
    void portlessHeadlessServiceKeepsEveryAddressAtPortZero() {
        Service svc = service("""
                apiVersion: v1
                kind: Service
                metadata: {name: peers, namespace: shop}
                spec: {clusterIP: None}
                """);
        EndpointSlice s = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: peers-a, namespace: shop, labels: {kubernetes.io/service-name: peers}}
                addressType: IPv4
                endpoints: [{addresses: [10.1.0.6], hostname: p-1}, {addresses: [10.1.0.5], hostname: p-0}]
                """);
        ServicePort p = convertOk(svc, s).ports().get(0);
        assertTrue(p.headless());
        assertEquals(List.of("10.1.0.5:0", "10.1.0.6:0"), p.endpoints().stream().map(e -> e.hostPort()).toList());
        assertEquals(List.of(), p.frontends());
    }

    @Test
    void headlessServiceKeepsEndpointsButHasNoFrontends() {
        Service svc = service("""
                apiVersion: v1
                kind: Service
                metadata: {name: db, namespace: shop}
                spec: {clusterIP: None, clusterIPs: [None], ports: [{name: pg, port: 5432}]}
                """);
        EndpointSlice s = slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: db-a, namespace: shop, labels: {kubernetes.io/service-name: db}}
                addressType: IPv4
                ports: [{name: pg, port: 5432}]
                endpoints: [{addresses: [10.1.0.5], hostname: db-0}]
                """);
        ServicePort p = convertOk(svc, s).ports().get(0);
        assertTrue(p.headless());
        assertEquals(List.of(), p.clusterIPs());
        assertEquals(List.of(), p.frontends());
        assertEquals("db-0", p.endpoints().get(0).hostname());
    }

    @Test
    void loadBalancerServiceHasNodePortIngressIpsSourceRangesAndHealthCheck() {
        Conversion c = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: edge
                  namespace: shop
                  annotations: {ferry.dev/lb-algorithm: mh, ferry.dev/proxy-protocol: "v2"}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.1.1
                  externalIPs: [192.0.2.10]
                  externalTrafficPolicy: Local
                  internalTrafficPolicy: Local
                  healthCheckNodePort: 32000
                  loadBalancerSourceRanges: [" 203.0.113.0/24", "2001:db8::/32"]
                  trafficDistribution: PreferClose
                  publishNotReadyAddresses: true
                  ports: [{port: 443, nodePort: 30443}]
                status:
                  loadBalancer:
                    ingress:
                    - ip: 198.51.100.7
                    - ip: 198.51.100.8
                      ipMode: Proxy
                    - hostname: lb.example.com
                """));
        ServicePort p = c.ports().get(0);
        assertEquals(ServiceType.LOAD_BALANCER, p.type());
        assertEquals(30443, p.nodePort());
        assertEquals(List.of(IpAddresses.parse("192.0.2.10")), p.externalIPs());
        assertEquals(List.of(IpAddresses.parse("198.51.100.7")), p.loadBalancerIPs(), "ipMode Proxy and hostnames are skipped");
        assertEquals(List.of(Cidr.parse("203.0.113.0/24"), Cidr.parse("2001:db8::/32")), p.loadBalancerSourceRanges());
        assertEquals(TrafficPolicy.LOCAL, p.externalTrafficPolicy());
        assertEquals(TrafficPolicy.LOCAL, p.internalTrafficPolicy());
        assertEquals(32000, p.healthCheckNodePort());
        assertEquals("PreferClose", p.trafficDistribution());
        assertTrue(p.publishNotReadyAddresses());
        assertEquals("mh", p.lbAlgorithm());
        assertTrue(p.proxyProtocol());
        assertEquals(List.of(FrontendKind.CLUSTER_IP, FrontendKind.NODE_PORT, FrontendKind.EXTERNAL_IP, FrontendKind.LOAD_BALANCER),
                p.frontends().stream().map(f -> f.kind()).collect(Collectors.toList()));
    }

    @Test
    void zeroSourceRangeAllowsAnySourceOfItsFamily() {
        ServicePort p = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: edge, namespace: shop}
                spec:
                  type: LoadBalancer
                  loadBalancerSourceRanges: [10.0.0.0/8, 0.0.0.0/0, "2001:db8::/32"]
                  ports: [{port: 443}]
                """)).ports().get(0);
        assertEquals(List.of(Cidr.parse("2001:db8::/32")), p.loadBalancerSourceRanges());
    }

    @Test
    void externalTrafficPolicyLocalMeansNothingForAClusterIpServiceWithoutExternalIps() {
        ServicePort p = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec: {externalTrafficPolicy: Local, healthCheckNodePort: 32000, ports: [{port: 80}]}
                """)).ports().get(0);
        assertEquals(TrafficPolicy.CLUSTER, p.externalTrafficPolicy());
        assertEquals(0, p.healthCheckNodePort());
    }

    @Test
    void clientIpAffinityTimeoutDefaultsToThreeHours() {
        ServicePort p = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec: {sessionAffinity: ClientIP, ports: [{port: 80}]}
                """)).ports().get(0);
        assertEquals(SessionAffinity.CLIENT_IP, p.sessionAffinity());
        assertEquals(10800, p.affinityTimeoutSeconds());
    }

    @Test
    void clientIpAffinityTimeoutIsTakenFromTheConfig() {
        ServicePort p = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  sessionAffinity: ClientIP
                  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
                  ports: [{port: 80}]
                """)).ports().get(0);
        assertEquals(60, p.affinityTimeoutSeconds());
    }

    @Test
    void missingNamespaceMeansDefault() {
        ServicePort p = convertOk(service("""
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec: {ports: [{port: 80}]}
                """)).ports().get(0);
        assertEquals("default/web", p.name().serviceKey());
    }
}
