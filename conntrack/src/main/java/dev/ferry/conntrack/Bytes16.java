package dev.ferry.conntrack;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * Field access on the fixed-size byte[] records that Chronicle Map stores. Big-endian, so a dump
 * of the raw file reads like the wire. Addresses are always 16 bytes: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d) so that one key layout serves both families.
 */
final class Bytes16 {
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private Bytes16() {}

    static long getLong(byte[] b, int off) {
        return (long) LONG.get(b, off);
    }

    static void putLong(byte[] b, int off, long v) {
        LONG.set(b, off, v);
    }

    static int getPort(byte[] b, int off) {
        return ((b[off] & 0xff) << 8) | (b[off + 1] & 0xff);
    }

    static void putPort(byte[] b, int off, int port) {
        if (port < 0 || port > 0xffff) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        b[off] = (byte) (port >>> 8);
        b[off + 1] = (byte) port;
    }

    static void putIpv4(byte[] b, int off, int ipv4) {
        for (int i = 0; i < 10; i++) {
            b[off + i] = 0;
        }
        b[off + 10] = (byte) 0xff;
        b[off + 11] = (byte) 0xff;
        INT.set(b, off + 12, ipv4);
    }

    /** Copies a 4- or 16-byte address; anything else is a caller bug. */
    static void putIp(byte[] b, int off, byte[] src, int srcOff, int len) {
        if (len == 4) {
            putIpv4(b, off, (int) INT.get(src, srcOff));
        } else if (len == 16) {
            System.arraycopy(src, srcOff, b, off, 16);
        } else {
            throw new IllegalArgumentException("an IP address is 4 or 16 bytes, got " + len);
        }
    }

    static boolean isIpv4Mapped(byte[] b, int off) {
        for (int i = 0; i < 10; i++) {
            if (b[off + i] != 0) {
                return false;
            }
        }
        return b[off + 10] == (byte) 0xff && b[off + 11] == (byte) 0xff;
    }

    static InetAddress toInetAddress(byte[] b, int off) {
        byte[] raw = isIpv4Mapped(b, off)
                ? new byte[] {b[off + 12], b[off + 13], b[off + 14], b[off + 15]}
                : java.util.Arrays.copyOfRange(b, off, off + 16);
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new AssertionError("4 or 16 bytes are always an address", e);
        }
    }

    static String ipString(byte[] b, int off) {
        return toInetAddress(b, off).getHostAddress();
    }

    /** "a.b.c.d:p" or "[v6]:p", as kube-proxy and conntrack print them. */
    static String hostPort(byte[] b, int ipOff, int portOff) {
        String ip = ipString(b, ipOff);
        int port = getPort(b, portOff);
        return ip.indexOf(':') >= 0 ? "[" + ip + "]:" + port : ip + ":" + port;
    }
}
