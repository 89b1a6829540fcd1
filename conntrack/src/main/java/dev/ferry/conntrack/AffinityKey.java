package dev.ferry.conntrack;

import java.net.InetAddress;

/**
 * ClientIP session affinity key: client IP plus a 64-bit identity of the service port (Kubernetes
 * keeps affinity per service port, shared by its ClusterIP, NodePort and LoadBalancer frontends,
 * so the caller's service-port id is the natural key; {@link #frontendId} builds one from a frontend
 * tuple when no id is at hand). A fixed 24-byte record; mutable flyweight, not thread-safe.
 */
public final class AffinityKey {
    static final int CLIENT_IP = 0;
    static final int SERVICE_PORT_ID = 16;
    static final int SIZE = 24;

    final byte[] bytes = new byte[SIZE];

    public AffinityKey clientIpv4(int address) {
        Bytes16.putIpv4(bytes, CLIENT_IP, address);
        return this;
    }

    public AffinityKey clientIp(byte[] src, int off, int len) {
        Bytes16.putIp(bytes, CLIENT_IP, src, off, len);
        return this;
    }

    public AffinityKey clientIp(InetAddress address) {
        byte[] raw = address.getAddress();
        return clientIp(raw, 0, raw.length);
    }

    public AffinityKey servicePortId(long id) {
        Bytes16.putLong(bytes, SERVICE_PORT_ID, id);
        return this;
    }

    public long servicePortId() {
        return Bytes16.getLong(bytes, SERVICE_PORT_ID);
    }

    /** The client address (allocates; for tools, not the packet path). */
    public InetAddress clientAddress() {
        return Bytes16.toInetAddress(bytes, CLIENT_IP);
    }

    /**
     * A service-port id from a frontend tuple. IPv4 packs exactly (ip, port, protocol in 56 bits,
     * top bit clear); IPv6 is a 64-bit hash with the top bit set, so the two never collide with each
     * other, and two IPv6 frontends collide with probability ~2^-63.
     */
    public static long frontendId(InetAddress frontendIp, int port, int protocol) {
        byte[] a = frontendIp.getAddress();
        if (a.length == 4) {
            long ip = ((a[0] & 0xffL) << 24) | ((a[1] & 0xffL) << 16) | ((a[2] & 0xffL) << 8) | (a[3] & 0xffL);
            return (ip << 24) | ((port & 0xffffL) << 8) | (protocol & 0xffL);
        }
        long h = 0xcbf29ce484222325L;
        for (byte b : a) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        h = (h ^ port) * 0x100000001b3L;
        h = (h ^ protocol) * 0x100000001b3L;
        return h | Long.MIN_VALUE;
    }

    @Override
    public String toString() {
        return Bytes16.ipString(bytes, CLIENT_IP) + " servicePort=" + Long.toHexString(servicePortId());
    }
}
