#!/usr/bin/env python3
"""Writes a kubectl-style `kind: List` of N Services, each with one EndpointSlice of two endpoints,
for measuring the file source's memory (`ferry sync --dry-run --source` or `ferry run --source`).
77 000 services make a file of about 50 MB.

usage: gen-services.py N OUT.yaml
"""
import sys


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "w") as f:
        f.write("apiVersion: v1\nitems:\n")
        for i in range(n):
            ns = "ns-%d" % (i // 1000)
            name = "svc-%d" % i
            cip = "10.%d.%d.%d" % (96 + i // 65536, (i // 256) % 256, i % 256)
            f.write(
                "- apiVersion: v1\n"
                "  kind: Service\n"
                "  metadata:\n"
                "    name: %s\n"
                "    namespace: %s\n"
                "    labels: {app: %s, tier: backend}\n"
                "  spec:\n"
                "    type: ClusterIP\n"
                "    clusterIP: %s\n"
                "    clusterIPs: [%s]\n"
                "    selector: {app: %s}\n"
                "    ports:\n"
                "    - name: http\n"
                "      port: 80\n"
                "      protocol: TCP\n"
                "      targetPort: 8080\n" % (name, ns, name, cip, cip, name))
            f.write(
                "- apiVersion: discovery.k8s.io/v1\n"
                "  kind: EndpointSlice\n"
                "  metadata:\n"
                "    name: %s-abcde\n"
                "    namespace: %s\n"
                "    labels: {kubernetes.io/service-name: %s}\n"
                "  addressType: IPv4\n"
                "  ports: [{name: http, port: 8080, protocol: TCP}]\n"
                "  endpoints:\n"
                "  - addresses: [10.244.%d.%d]\n"
                "    conditions: {ready: true}\n"
                "  - addresses: [10.245.%d.%d]\n"
                "    conditions: {ready: true}\n"
                % (name, ns, name, (i // 256) % 256, i % 256, (i // 256) % 256, i % 256))
        f.write("kind: List\nmetadata: {resourceVersion: \"\"}\n")


if __name__ == "__main__":
    main()
