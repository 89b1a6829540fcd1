package dev.ferry.bench.watch;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The API objects of the watch benchmarks: service i is {@code ns-(i%50)/svc-i}, ClusterIP
 * 10.96.0.0+1+i, port "http" 80 → 8080, with one EndpointSlice {@code svc-i-1} of E ready endpoints
 * (pod IPs from 10.128.0.1, spread over 5 nodes and 3 zones, zone hints set).
 */
public final class ApiFixture {
    private ApiFixture() {}

    public static String namespace(int i) {
        return "ns-" + (i % 50);
    }

    public static Service service(int i) {
        int ip = 0x0A600000 + 1 + i;
        String clusterIp = ipv4(ip);
        return new ServiceBuilder()
                .withNewMetadata().withName("svc-" + i).withNamespace(namespace(i)).endMetadata()
                .withNewSpec().withType("ClusterIP").withClusterIP(clusterIp).withClusterIPs(clusterIp)
                .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString(8080)).withProtocol("TCP").endPort()
                .endSpec().build();
    }

    public static EndpointSlice slice(int i, int endpoints, String markerIp) {
        List<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint> eps = new ArrayList<>(endpoints);
        for (int j = 0; j < endpoints; j++) {
            String ip = j == 0 && markerIp != null ? markerIp : ipv4(0x0A800000 + 1 + i * endpoints + j);
            String zone = "zone-" + (j % 3);
            eps.add(new io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder()
                    .withAddresses(ip)
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                    .withNodeName("node-" + (j % 5)).withZone(zone)
                    .withNewHints().addNewForZone().withName(zone).endForZone().endHints()
                    .build());
        }
        return new EndpointSliceBuilder()
                .withNewMetadata().withName("svc-" + i + "-1").withNamespace(namespace(i))
                .withLabels(Map.of("kubernetes.io/service-name", "svc-" + i))
                .withAnnotations(Map.of("endpoints.kubernetes.io/last-change-trigger-time", Instant.now().toString()))
                .endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort()
                .withEndpoints(eps)
                .build();
    }

    public static String ipv4(int v) {
        return ((v >>> 24) & 0xff) + "." + ((v >>> 16) & 0xff) + "." + ((v >>> 8) & 0xff) + "." + (v & 0xff);
    }
}
