package dev.ferry.proxy;

import dev.ferry.lb.FlowHash;
import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * A client address as primitives (family, high and low 64 bits) for the table's source-range check
 * and the schedulers' hashes. Mutable flyweight owned by one connection or one event loop; not
 * thread-safe. IPv4 is read without allocating ({@code Inet4Address.hashCode()} is the address).
 */
final class ClientAddress {
    int family;
    long hi;
    long lo;

    ClientAddress set(InetAddress a) {
        if (a instanceof Inet4Address) {
            family = 4;
            hi = 0;
            lo = a.hashCode() & 0xFFFFFFFFL;
        } else {
            byte[] b = a.getAddress();
            family = 6;
            long h = 0;
            long l = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (b[i] & 0xff);
                l = (l << 8) | (b[i + 8] & 0xff);
            }
            hi = h;
            lo = l;
        }
        return this;
    }

    long hash() {
        return family == 4 ? FlowHash.ipv4((int) lo) : FlowHash.ipv6(hi, lo);
    }
}
