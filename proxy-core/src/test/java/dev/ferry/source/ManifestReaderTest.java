package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.convert.Conversion;
import dev.ferry.convert.Rejection;
import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ManifestReaderTest {

    static Path resource(String name) {
        try {
            return Path.of(ManifestReaderTest.class.getResource("/yaml/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> names(List<? extends HasMetadata> objects) {
        return objects.stream().map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
                .collect(Collectors.toList());
    }

    private static ServicePort port(Conversion c, String name) {
        return c.ports().stream().filter(p -> p.name().toString().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in " + c.ports()));
    }

    @Test
    void kubectlGetOutputIsReadAndConverted() throws Exception {
        Manifest m = ManifestReader.read(resource("kubectl-get.yaml"));
        assertEquals(List.of("default/kubernetes", "shop/web", "kube-system/kube-dns"), names(m.services()));
        assertEquals(4, m.endpointSlices().size());

        Conversion c = ClusterConverter.convert(m.services(), m.endpointSlices());
        assertEquals(List.of(), c.rejections());
        assertEquals(List.of("default/kubernetes:https", "kube-system/kube-dns:dns", "kube-system/kube-dns:dns-tcp", "shop/web:http"),
                c.ports().stream().map(p -> p.name().toString()).collect(Collectors.toList()));
        ServicePort web = port(c, "shop/web:http");
        assertEquals(List.of("10.244.1.17:8080", "10.244.2.9:8080", "[fd00:10:244:1::11]:8080"),
                web.endpoints().stream().map(Endpoint::hostPort).collect(Collectors.toList()));
        assertTrue(web.endpoints().get(1).terminating());
        assertEquals(List.of("zone-a"), web.endpoints().get(0).forZones());
        assertEquals(31080, web.nodePort());
        assertEquals("mh", web.lbAlgorithm());
        assertEquals(2, web.clusterIPs().size());
        assertEquals(1, web.loadBalancerIPs().size());
        assertEquals("10.244.0.3:53", port(c, "kube-system/kube-dns:dns").endpoints().get(0).hostPort());
    }

    @Test
    void multipleDocumentsAreReadAndOtherKindsSkipped() throws Exception {
        Manifest m = ManifestReader.read(resource("multi-doc.yaml"));
        assertEquals(List.of("demo/api", "demo/from-list"), names(m.services()),
                "apps/v1 Deployment and knative Service skipped; ServiceList items take the list's kind");
        assertEquals(List.of("demo/api-1"), names(m.endpointSlices()));
        Conversion c = ClusterConverter.convert(m.services(), m.endpointSlices());
        assertEquals("127.0.0.1:8080", port(c, "demo/api").endpoints().get(0).hostPort());
    }

    @Test
    void kindListHoldsServicesAndSlices() throws Exception {
        Manifest m = ManifestReader.parse("list.yaml", """
                apiVersion: v1
                kind: List
                items:
                - {apiVersion: v1, kind: Service, metadata: {name: a}, spec: {ports: [{port: 80}]}}
                - apiVersion: discovery.k8s.io/v1
                  kind: EndpointSlice
                  metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}
                  addressType: IPv4
                  ports: [{name: "", port: 80}]
                  endpoints: [{addresses: [10.0.0.1]}]
                """);
        assertEquals(1, m.services().size());
        assertEquals(1, m.endpointSlices().size());
    }

    @Test
    void syntaxErrorNamesFileAndLine() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(resource("syntax-error.yaml")));
        assertTrue(e.getMessage().startsWith(resource("syntax-error.yaml") + ":9:"), e.getMessage());
        assertEquals(9, e.line(), e.getMessage());
    }

    @Test
    void wrongTypeFieldNamesFileLineColumnAndField() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(resource("wrong-type.yaml")));
        assertEquals(resource("wrong-type.yaml") + ":10:11: spec.ports[0].port: expected an integer, got \"http\"", e.getMessage());
        assertEquals("spec.ports[0].port", e.field());
    }

    @Test
    void wrongTypeInsideAListNamesTheItemPath() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("l.yaml", """
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Service
                  metadata: {name: a}
                  spec:
                    ports: "80"
                """));
        assertEquals("l.yaml:8:12: items[0].spec.ports: expected a list, got \"80\"", e.getMessage());
    }

    @Test
    void wrongTypeBooleanNamesTheField() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("b.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: a}
                spec:
                  publishNotReadyAddresses: sometimes
                  ports: [{port: 80}]
                """));
        assertEquals("b.yaml:5:29: spec.publishNotReadyAddresses: expected true or false, got \"sometimes\"", e.getMessage());
    }

    @Test
    void truncatedFileIsASyntaxErrorWithItsLine() {
        String full = """
                apiVersion: v1
                kind: Service
                metadata: {name: a, annotations: {note: "a long note"}}
                spec: {ports: [{port: 80}]}
                """;
        String truncated = full.substring(0, full.indexOf("long"));
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("t.yaml", truncated));
        assertTrue(e.line() >= 3, e.getMessage());
        assertTrue(e.getMessage().startsWith("t.yaml:"), e.getMessage());
    }

    @Test
    void duplicateKeyIsAnErrorAtTheSecondKey() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("d.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: a}
                spec:
                  ports: [{port: 80}]
                  ports: [{port: 81}]
                """));
        assertEquals("d.yaml:6:3: spec.ports: duplicate key \"ports\"", e.getMessage());
    }

    @Test
    void documentWithoutKindIsAnError() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("k.yaml", """
                apiVersion: v1
                metadata: {name: a}
                """));
        assertEquals("k.yaml:1:1: kind: Required value: every object needs a kind", e.getMessage());
    }

    @Test
    void missingFileIsAnErrorNamingIt() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(Path.of("/nonexistent/ferry.yaml")));
        assertEquals("/nonexistent/ferry.yaml: no such file", e.getMessage());
    }

    @Test
    void rejectionIsLocatedAtTheFieldItNames() throws Exception {
        Manifest m = ManifestReader.parse("r.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: demo}
                spec:
                  ports:
                  - {name: a, port: 80}
                  - name: b
                    port: 70000
                """);
        Rejection r = ClusterConverter.convert(m.services(), m.endpointSlices()).rejections().get(0);
        assertEquals("r.yaml:8:11", m.locate(r));
    }

    @Test
    void mergeKeysAreApplied() throws Exception {
        Manifest m = ManifestReader.parse("m.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  base: &base {port: 80, protocol: UDP}
                  ports:
                  - <<: *base
                    name: dns
                """);
        assertEquals("UDP", m.services().get(0).getSpec().getPorts().get(0).getProtocol());
        assertEquals(80, m.services().get(0).getSpec().getPorts().get(0).getPort());
    }
}
