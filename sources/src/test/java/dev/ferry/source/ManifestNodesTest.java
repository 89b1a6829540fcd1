package dev.ferry.source;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.select.NodeInfo;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The file source reads Node objects too (kubectl get nodes,svc,endpointslices -o yaml): this node's zone and addresses. */
@Tag("unit")
class ManifestNodesTest {
    static final String YAML = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Node
              metadata:
                name: node-a
                labels: {topology.kubernetes.io/zone: zone-a}
              status:
                addresses: [{type: InternalIP, address: 192.168.0.2}, {type: Hostname, address: node-a}]
            - apiVersion: v1
              kind: Service
              metadata: {namespace: ns1, name: svc1}
              spec: {clusterIP: 172.30.0.41, ports: [{name: p80, port: 80}]}
            ---
            apiVersion: v1
            kind: NodeList
            items:
            - metadata: {name: node-b, labels: {topology.kubernetes.io/zone: zone-b}}
            """;

    @Test
    void nodesAndNodeListsAreReadBesideServices() throws Exception {
        Manifest m = ManifestReader.parse("nodes.yaml", YAML);
        assertEquals(1, m.services().size());
        assertEquals(List.of("node-a", "node-b"), m.nodes().stream().map(n -> n.getMetadata().getName()).toList());
        assertEquals("192.168.0.2", m.nodes().get(0).getStatus().getAddresses().get(0).getAddress());
    }

    @Test
    void thisNodesZoneComesFromItsNodeObject() throws Exception {
        Manifest m = ManifestReader.parse("nodes.yaml", YAML);
        assertEquals(new NodeInfo("node-b", "zone-b"), dev.ferry.convert.NodeInfos.of("node-b", m.nodes()));
        assertEquals(new NodeInfo("node-c", ""), dev.ferry.convert.NodeInfos.of("node-c", m.nodes()), "a node the file does not describe has no zone");
    }
}
