package dev.ferry.conntrack;

import java.net.InetAddress;

/**
 * The identity of a proxied flow: client IP:port, frontend (service) IP:port and IP protocol, as
 * a fixed 37-byte record. A mutable flyweight so that the per-packet lookup builds no object.
 * Not thread-safe: keep one per thread (per event loop).
 */
public final class FlowKey {
    public static final int PROTO_TCP = 6;
    public static final int PROTO_UDP = 17;

    static final int CLIENT_IP = 0;
    static final int FRONTEND_IP = 16;
    static final int CLIENT_PORT = 32;
    static final int FRONTEND_PORT = 34;
    static final int PROTOCOL = 36;
    static final int SIZE = 37;

    final byte[] bytes = new byte[SIZE];

    public FlowKey() {
        bytes[PROTOCOL] = PROTO_UDP;
    }

    public FlowKey clientIpv4(int address) {
        Bytes16.putIpv4(bytes, CLIENT_IP, address);
        return this;
    }

    /** {@code len} is 4 (IPv4) or 16 (IPv6). */
    public FlowKey clientIp(byte[] src, int off, int len) {
        Bytes16.putIp(bytes, CLIENT_IP, src, off, len);
        return this;
    }

    public FlowKey clientIp(InetAddress address) {
        byte[] raw = address.getAddress();
        return clientIp(raw, 0, raw.length);
    }

    public FlowKey clientPort(int port) {
        Bytes16.putPort(bytes, CLIENT_PORT, port);
        return this;
    }

    public FlowKey frontendIpv4(int address) {
        Bytes16.putIpv4(bytes, FRONTEND_IP, address);
        return this;
    }

    public FlowKey frontendIp(byte[] src, int off, int len) {
        Bytes16.putIp(bytes, FRONTEND_IP, src, off, len);
        return this;
    }

    public FlowKey frontendIp(InetAddress address) {
        byte[] raw = address.getAddress();
        return frontendIp(raw, 0, raw.length);
    }

    public FlowKey frontendPort(int port) {
        Bytes16.putPort(bytes, FRONTEND_PORT, port);
        return this;
    }

    /** IANA protocol number: {@link #PROTO_UDP} (the default) or {@link #PROTO_TCP}. */
    public FlowKey protocol(int protocol) {
        if (protocol < 0 || protocol > 255) {
            throw new IllegalArgumentException("protocol out of range: " + protocol);
        }
        bytes[PROTOCOL] = (byte) protocol;
        return this;
    }

    public int clientPort() {
        return Bytes16.getPort(bytes, CLIENT_PORT);
    }

    public int frontendPort() {
        return Bytes16.getPort(bytes, FRONTEND_PORT);
    }

    public int protocol() {
        return bytes[PROTOCOL] & 0xff;
    }

    public FlowKey set(FlowKey other) {
        System.arraycopy(other.bytes, 0, bytes, 0, SIZE);
        return this;
    }

    @Override
    public String toString() {
        return (protocol() == PROTO_UDP ? "udp" : protocol() == PROTO_TCP ? "tcp" : "proto" + protocol())
                + " " + Bytes16.hostPort(bytes, CLIENT_IP, CLIENT_PORT)
                + " -> " + Bytes16.hostPort(bytes, FRONTEND_IP, FRONTEND_PORT);
    }
}
