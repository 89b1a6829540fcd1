package dev.ferry.conntrack;

/** Shared fixtures: small addresses for readable test data. */
final class Tables {
    private Tables() {}

    static int ip(int a, int b, int c, int d) {
        return (a << 24) | (b << 16) | (c << 8) | d;
    }

    static Endpoint backend(int lastOctet, int port) {
        return new Endpoint().ipv4(ip(10, 1, 0, lastOctet)).port(port);
    }

    static FlowKey udp(int clientLastOctet, int clientPort) {
        return new FlowKey().protocol(FlowKey.PROTO_UDP)
                .clientIpv4(ip(10, 0, 0, clientLastOctet)).clientPort(clientPort)
                .frontendIpv4(ip(10, 96, 0, 10)).frontendPort(53);
    }
}
