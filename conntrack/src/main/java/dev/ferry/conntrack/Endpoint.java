package dev.ferry.conntrack;

import java.net.InetAddress;

/**
 * A backend address (IP and port) as a reusable flyweight: the tables write the chosen backend
 * into one of these instead of returning a new object, so a lookup allocates nothing.
 * Not thread-safe: keep one per thread (per event loop).
 */
public final class Endpoint {
    static final int IP = 0;
    static final int PORT = 16;
    static final int SIZE = 18;

    final byte[] bytes = new byte[SIZE];

    public Endpoint ipv4(int address) {
        Bytes16.putIpv4(bytes, IP, address);
        return this;
    }

    /** {@code len} is 4 (IPv4) or 16 (IPv6). */
    public Endpoint ip(byte[] src, int off, int len) {
        Bytes16.putIp(bytes, IP, src, off, len);
        return this;
    }

    public Endpoint ip(InetAddress address) {
        byte[] raw = address.getAddress();
        return ip(raw, 0, raw.length);
    }

    public Endpoint port(int port) {
        Bytes16.putPort(bytes, PORT, port);
        return this;
    }

    public int port() {
        return Bytes16.getPort(bytes, PORT);
    }

    public boolean isIpv4() {
        return Bytes16.isIpv4Mapped(bytes, IP);
    }

    /** The low 32 bits of an IPv4 address; meaningless for IPv6. */
    public int ipv4() {
        return ((bytes[12] & 0xff) << 24) | ((bytes[13] & 0xff) << 16) | ((bytes[14] & 0xff) << 8) | (bytes[15] & 0xff);
    }

    /** Copies the 16-byte (IPv4-mapped for v4) address into {@code dst}. */
    public void copyIp16To(byte[] dst, int off) {
        System.arraycopy(bytes, IP, dst, off, 16);
    }

    /** Allocates; for logs and cold paths. */
    public InetAddress toInetAddress() {
        return Bytes16.toInetAddress(bytes, IP);
    }

    public Endpoint set(Endpoint other) {
        System.arraycopy(other.bytes, 0, bytes, 0, SIZE);
        return this;
    }

    void readFrom(byte[] src, int off) {
        System.arraycopy(src, off, bytes, 0, SIZE);
    }

    void writeTo(byte[] dst, int off) {
        System.arraycopy(bytes, 0, dst, off, SIZE);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Endpoint && java.util.Arrays.equals(bytes, ((Endpoint) o).bytes);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return Bytes16.hostPort(bytes, IP, PORT);
    }
}
