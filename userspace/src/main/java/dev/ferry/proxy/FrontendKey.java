package dev.ferry.proxy;

import dev.ferry.model.Protocol;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * One socket the proxy listens on: protocol, bind address and port, and whether it serves a
 * NodePort (looked up by port alone) or a frontend address (looked up by address and port). The
 * primitives are precomputed so the accept path looks up the table without allocating. Immutable.
 */
final class FrontendKey {
    final Protocol protocol;
    final InetAddress address;
    final int port;
    final boolean nodePort;
    final int family;
    final long hi;
    final long lo;
    final InetSocketAddress socketAddress;

    FrontendKey(Protocol protocol, InetAddress address, int port, boolean nodePort) {
        this.protocol = Objects.requireNonNull(protocol);
        this.address = Objects.requireNonNull(address);
        this.port = port;
        this.nodePort = nodePort;
        byte[] b = address.getAddress();
        this.family = address instanceof Inet4Address ? 4 : 6;
        long h = 0;
        long l = 0;
        if (b.length == 4) {
            l = ((b[0] & 0xffL) << 24) | ((b[1] & 0xffL) << 16) | ((b[2] & 0xffL) << 8) | (b[3] & 0xffL);
        } else {
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (b[i] & 0xff);
                l = (l << 8) | (b[i + 8] & 0xff);
            }
        }
        this.hi = h;
        this.lo = l;
        this.socketAddress = new InetSocketAddress(address, port);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FrontendKey k && k.protocol == protocol && k.port == port && k.nodePort == nodePort
                && k.address.equals(address);
    }

    @Override
    public int hashCode() {
        return Objects.hash(protocol, address, port, nodePort);
    }

    @Override
    public String toString() {
        return (nodePort ? "nodePort " : "") + protocol + " " + socketAddress.getAddress().getHostAddress() + ":" + port;
    }
}
