package dev.ferry.proxy;

import io.netty.buffer.ByteBuf;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Writes the PROXY protocol version 2 header (haproxy.org/download/2.9/doc/proxy-protocol.txt,
 * section 2.2) that tells a backend the real client address: PROXY command, TCP over IPv4 or IPv6,
 * no TLVs. Small enough not to need netty-codec-haproxy. Stateless; thread-safe.
 */
public final class ProxyProtocolV2 {
    static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    /** Version 2, command PROXY. */
    static final int VERSION_COMMAND = 0x21;
    static final int TCP_OVER_IPV4 = 0x11;
    static final int TCP_OVER_IPV6 = 0x21;
    static final int UDP_OVER_IPV4 = 0x12;
    static final int UDP_OVER_IPV6 = 0x22;

    private ProxyProtocolV2() {}

    /** Header length for this address family (16 fixed + 12 or 36 address bytes). */
    public static int length(InetAddress source) {
        return 16 + (source instanceof Inet4Address ? 12 : 36);
    }

    /**
     * Appends the header for a TCP connection from {@code source} to {@code destination} (the service
     * frontend the client addressed). Mixed families are written as IPv6 with v4-mapped addresses.
     */
    public static void write(ByteBuf out, InetSocketAddress source, InetSocketAddress destination) {
        InetAddress src = source.getAddress();
        InetAddress dst = destination.getAddress();
        boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
        out.writeBytes(SIGNATURE);
        out.writeByte(VERSION_COMMAND);
        out.writeByte(v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        out.writeShort(v4 ? 12 : 36);
        if (v4) {
            out.writeBytes(src.getAddress());
            out.writeBytes(dst.getAddress());
        } else {
            out.writeBytes(asV6(src));
            out.writeBytes(asV6(dst));
        }
        out.writeShort(source.getPort());
        out.writeShort(destination.getPort());
    }

    private static byte[] asV6(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 16) {
            return b;
        }
        byte[] m = new byte[16];
        m[10] = (byte) 0xff;
        m[11] = (byte) 0xff;
        System.arraycopy(b, 0, m, 12, 4);
        return m;
    }
}
