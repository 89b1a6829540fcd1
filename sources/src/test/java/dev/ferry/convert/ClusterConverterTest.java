package dev.ferry.convert;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;

import static dev.ferry.convert.Objects.service;
import static dev.ferry.convert.Objects.slice;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ClusterConverterTest {

    private static List<String> names(Conversion c) {
        return c.ports().stream().map(p -> p.name().toString()).collect(Collectors.toList());
    }

    private static ServicePort port(Conversion c, String name) {
        return c.ports().stream().filter(p -> p.name().toString().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in " + names(c)));
    }

    @Test
    void oneBadServiceNeverAffectsTheOthers() {
        Conversion c = ClusterConverter.convert(List.of(
                service("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: ns}\nspec: {ports: [{port: 80}]}"),
                service("apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: ns}\nspec: {ports: [{port: 80}, {name: x, port: 70000}]}"),
                service("apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: ns}\nspec: {ports: [{port: 81}]}")),
                List.of(slice("""
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {name: c-1, namespace: ns, labels: {kubernetes.io/service-name: c}}
                        addressType: IPv4
                        ports: [{name: "", port: 8081}]
                        endpoints: [{addresses: [10.1.0.3]}]
                        """)));
        assertEquals(List.of("ns/a", "ns/c"), names(c));
        assertEquals(List.of("10.1.0.3:8081"), port(c, "ns/c").endpoints().stream().map(Endpoint::hostPort).collect(Collectors.toList()));
        assertEquals(List.of("Service ns/bad: spec.ports[0].name: Required value: every port needs a name when there is more than one",
                        "Service ns/bad: spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive"),
                c.rejections().stream().map(Rejection::toString).collect(Collectors.toList()));
    }

    @Test
    void badSliceIsRejectedAndTheServiceKeepsItsOtherSlices() {
        Conversion c = ClusterConverter.convert(
                List.of(service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {ports: [{name: http, port: 80}]}")),
                List.of(slice("""
                                apiVersion: discovery.k8s.io/v1
                                kind: EndpointSlice
                                metadata: {name: web-good, namespace: ns, labels: {kubernetes.io/service-name: web}}
                                addressType: IPv4
                                ports: [{name: http, port: 8080}]
                                endpoints: [{addresses: [10.1.0.1]}]
                                """),
                        slice("""
                                apiVersion: discovery.k8s.io/v1
                                kind: EndpointSlice
                                metadata: {name: web-bad, namespace: ns, labels: {kubernetes.io/service-name: web}}
                                addressType: IPv4
                                ports: [{name: http, port: 8080}]
                                endpoints: [{addresses: [10.1.0.2]}, {addresses: [not-an-ip]}]
                                """)));
        assertEquals(List.of("10.1.0.1:8080"),
                port(c, "ns/web:http").endpoints().stream().map(Endpoint::hostPort).collect(Collectors.toList()),
                "the bad slice's good endpoint is not used either: the slice is rejected whole");
        assertEquals(1, c.rejections().size());
        assertEquals("EndpointSlice ns/web-bad: endpoints[1].addresses[0]: Invalid value: \"not-an-ip\": must be a valid IP address",
                c.rejections().get(0).toString());
    }

    @Test
    void slicesAreGroupedByNamespaceAndServiceLabel() {
        String sliceYaml = """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: %s, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: "", port: 80}]
                endpoints: [{addresses: [%s]}]
                """;
        Conversion c = ClusterConverter.convert(
                List.of(service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: blue}\nspec: {ports: [{port: 80}]}"),
                        service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: green}\nspec: {ports: [{port: 80}]}")),
                List.of(slice(String.format(sliceYaml, "blue", "10.0.0.1")), slice(String.format(sliceYaml, "green", "10.0.0.2")),
                        slice(String.format(sliceYaml, "nosuchservice", "10.0.0.3"))));
        assertEquals(List.of(), c.rejections());
        assertEquals("10.0.0.1:80", port(c, "blue/web").endpoints().get(0).hostPort());
        assertEquals("10.0.0.2:80", port(c, "green/web").endpoints().get(0).hostPort());
        assertEquals(1, port(c, "green/web").endpoints().size());
    }

    @Test
    void secondObjectWithTheSameNameIsRejectedAndTheFirstKept() {
        Conversion c = ClusterConverter.convert(
                List.of(service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {ports: [{port: 80}]}"),
                        service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {ports: [{port: 81}]}")),
                List.of());
        assertEquals(80, port(c, "ns/web").port());
        assertEquals(RejectionReason.DUPLICATE_OBJECT, c.rejections().get(0).reason());
        assertEquals("metadata.name", c.rejections().get(0).field());
    }
}
