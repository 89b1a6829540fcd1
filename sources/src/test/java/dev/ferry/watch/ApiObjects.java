package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

/** Test objects written as the YAML a controller would produce, parsed by fabric8. */
final class ApiObjects {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private ApiObjects() {}

    static Service service(String yaml) {
        return SERIALIZATION.unmarshal(yaml, Service.class);
    }

    static EndpointSlice slice(String yaml) {
        return SERIALIZATION.unmarshal(yaml, EndpointSlice.class);
    }

    /** A ClusterIP service with one TCP port named "http" (80 → 8080). */
    static Service clusterIp(String ns, String name, String ip) {
        return service("""
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: %s}
                spec:
                  type: ClusterIP
                  clusterIP: %s
                  clusterIPs: [%s]
                  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
                """.formatted(name, ns, ip, ip));
    }

    /** A slice for the service's "http" port with ready endpoints on node-a. */
    static EndpointSlice slice(String ns, String service, String sliceName, String... ips) {
        StringBuilder eps = new StringBuilder();
        for (String ip : ips) {
            eps.append("  - addresses: [").append(ip).append("]\n")
               .append("    conditions: {ready: true, serving: true, terminating: false}\n")
               .append("    nodeName: node-a\n");
        }
        return slice("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: %s
                  namespace: %s
                  labels: {kubernetes.io/service-name: %s}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                %s""".formatted(sliceName, ns, service, eps.length() == 0 ? "  []\n" : eps.toString()));
    }
}
