package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.convert.Conversion;
import dev.ferry.model.Rejection;
import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
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

    /** A "billion laughs": each anchor a list of two aliases of the one before, {@code levels} deep. */
    static String aliasBomb(int levels) {
        StringBuilder sb = new StringBuilder("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: bomb
                  annotations:
                    a0: &a0 ["lol", "lol"]
                """);
        for (int i = 1; i < levels; i++) {
            sb.append("    a").append(i).append(": &a").append(i).append(" [*a").append(i - 1).append(", *a").append(i - 1).append("]\n");
        }
        return sb.append("spec: {ports: [{port: 80}]}\n").toString();
    }

    @Test
    void aliasBombIsRefusedAtTheAliasThatWouldExpandItTooFar() {
        // 20 levels stand for 2^21 nodes from a 700-byte file: more than the file writes out plus the allowance.
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("bomb.yaml", aliasBomb(20)));
        assertTrue(e.getMessage().startsWith("bomb.yaml:17:"), e.getMessage());
        assertTrue(e.problem().startsWith("alias *a10 stands for 4095 nodes"), e.getMessage());
        assertTrue(e.problem().endsWith("refusing it as an alias bomb"), e.getMessage());
        assertTrue(e.column() > 0, e.getMessage());
    }

    @Test
    void aliasesThatShareABlockAreExpanded() throws Exception {
        Manifest m = ManifestReader.parse("a.yaml", """
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Service
                  metadata: {name: a, labels: &labels {team: shop, tier: web}}
                  spec: {ports: &ports [{name: http, port: 80}, {name: https, port: 443}]}
                - apiVersion: v1
                  kind: Service
                  metadata: {name: b, labels: *labels}
                  spec: {ports: *ports}
                """);
        assertEquals(List.of("null/a", "null/b"), names(m.services()));
        assertEquals(Map.of("team", "shop", "tier", "web"), m.services().get(1).getMetadata().getLabels());
        assertEquals(443, m.services().get(1).getSpec().getPorts().get(1).getPort());
    }

    @Test
    void recursiveAliasIsAnErrorWithItsPosition() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("r.yaml", """
                apiVersion: v1
                kind: Service
                metadata: &m {name: a, self: *m}
                """));
        assertEquals("r.yaml:3:30: alias *m is used inside its own anchor (a recursive alias)", e.getMessage());
    }

    @Test
    void nulByteIsAnErrorWithLineAndColumn() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("nul.yaml",
                "apiVersion: v1\nkind: Service\nmetadata: {name: a\u0000b}\n"));
        assertEquals("nul.yaml:3:19: NUL byte: not text (a binary or corrupt file?)", e.getMessage());
    }

    @Test
    void invalidUtf8IsAnErrorWithLineAndColumn(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("latin1.yaml");
        byte[] head = "apiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: caf".getBytes(StandardCharsets.US_ASCII);
        byte[] bytes = Arrays.copyOf(head, head.length + 2);
        bytes[head.length] = (byte) 0xE9; // "é" in Latin-1: not UTF-8
        bytes[head.length + 1] = '\n';
        Files.write(f, bytes);
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.read(f));
        assertEquals(f + ":4:12: not UTF-8: byte 0x0A cannot continue a character", e.getMessage());
        assertEquals(4, e.line());
    }

    @Test
    void controlCharacterIsAnErrorWithLineAndColumn() {
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestReader.parse("c.yaml",
                "apiVersion: v1\nkind: Service\n\u0007metadata: {name: a}\n"));
        assertEquals("c.yaml:3:1: control character U+0007 is not allowed in YAML", e.getMessage());
    }

    @Test
    void fileLargerThanTheLimitIsRefused(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("big.yaml");
        Files.writeString(f, "apiVersion: v1\nkind: List\nitems: []\n" + "#".repeat(200) + "\n");
        ManifestException e = assertThrows(ManifestException.class,
                () -> ManifestReader.read(f, ManifestReader.Limits.DEFAULTS.withMaxBytes(100)));
        assertEquals(f + ": the file is 237 bytes, larger than the limit of 100 bytes (--source-max-bytes)", e.getMessage());
    }

    @Test
    void serviceListItemsWithoutKindTakeTheListsKindWhenItComesAfterThem() throws Exception {
        Manifest m = ManifestReader.parse("sl.yaml", """
                apiVersion: v1
                items:
                - metadata: {name: a, namespace: demo}
                  spec: {ports: [{port: 80}]}
                - metadata: {name: b, namespace: demo}
                  spec: {ports: [{port: 81}]}
                kind: ServiceList
                """);
        assertEquals(List.of("demo/a", "demo/b"), names(m.services()));
    }

    @Test
    void largeKubectlListIsReadItemByItemWithEveryObjectAndItsPositions() throws Exception {
        int n = 5_000;
        StringBuilder sb = new StringBuilder("apiVersion: v1\nitems:\n");
        for (int i = 0; i < n; i++) {
            sb.append("""
                    - apiVersion: v1
                      kind: Service
                      metadata: {name: svc-%d, namespace: ns-%d}
                      spec:
                        clusterIP: 10.96.%d.%d
                        ports:
                        - {name: http, port: %d, targetPort: 8080}
                    """.formatted(i, i % 7, i / 250, i % 250 + 1, i == 4321 ? 70000 : 80));
        }
        for (int i = 0; i < n; i++) {
            sb.append("""
                    - apiVersion: discovery.k8s.io/v1
                      kind: EndpointSlice
                      metadata:
                        name: svc-%d-x
                        namespace: ns-%d
                        labels: {kubernetes.io/service-name: svc-%d}
                      addressType: IPv4
                      ports: [{name: http, port: 8080}]
                      endpoints: [{addresses: [10.244.%d.%d]}]
                    """.formatted(i, i % 7, i, i / 250, i % 250 + 1));
        }
        sb.append("kind: List\nmetadata: {resourceVersion: \"\"}\n");
        Manifest m = ManifestReader.parse("big.yaml", sb.toString());
        assertEquals(n, m.services().size());
        assertEquals(n, m.endpointSlices().size());
        Conversion c = ClusterConverter.convert(m.services(), m.endpointSlices());
        assertEquals(n - 1, c.ports().size());
        ServicePort last = port(c, "ns-" + (n - 1) % 7 + "/svc-" + (n - 1) + ":http");
        assertEquals(List.of("10.244.19.250:8080"), last.endpoints().stream().map(Endpoint::hostPort).toList());
        assertEquals(1, c.rejections().size());
        // item 4321 starts on line 3 + 7 * 4321; its port is on the 7th line of the item, column 26
        assertEquals("big.yaml:" + (3 + 7 * 4321 + 6) + ":26", m.locate(c.rejections().get(0)));
    }
}
