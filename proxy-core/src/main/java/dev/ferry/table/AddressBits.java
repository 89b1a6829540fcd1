package dev.ferry.table;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * IP addresses as the table stores them, in primitives: IPv4 in the low 32 bits of {@code lo},
 * IPv6 as two big-endian 64-bit halves. Lets hot paths compare addresses without objects.
 */
public final class AddressBits {
    private AddressBits() {}

    public static int family(InetAddress a) {
        return a instanceof Inet4Address ? RecordLayout.FAMILY_V4 : RecordLayout.FAMILY_V6;
    }

    public static long hi(InetAddress a) {
        byte[] b = a.getAddress();
        return b.length == 4 ? 0L : bytesToLong(b, 0);
    }

    public static long lo(InetAddress a) {
        byte[] b = a.getAddress();
        return b.length == 4 ? (ipv4(b) & 0xFFFFFFFFL) : bytesToLong(b, 8);
    }

    /** Big-endian int of a 4-byte address. */
    public static int ipv4(byte[] b) {
        return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
    }

    static long bytesToLong(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xff);
        }
        return v;
    }

    /** Rebuilds an InetAddress (allocates: cold path only). */
    public static InetAddress toInetAddress(int family, long hi, long lo) {
        byte[] b;
        if (family == RecordLayout.FAMILY_V4) {
            b = new byte[] {(byte) (lo >>> 24), (byte) (lo >>> 16), (byte) (lo >>> 8), (byte) lo};
        } else if (family == RecordLayout.FAMILY_V6) {
            b = new byte[16];
            for (int i = 0; i < 8; i++) {
                b[i] = (byte) (hi >>> (56 - 8 * i));
                b[8 + i] = (byte) (lo >>> (56 - 8 * i));
            }
        } else {
            return null;
        }
        return dev.ferry.model.IpAddresses.fromBytes(b);
    }

    /** 64-bit mix (the murmur3 finaliser): spreads keys over open-addressing slots. */
    static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /** Hash of a frontend key; never 0 so that a zero hash slot is recognisably unused. */
    static long frontendHash(int protocol, int family, long hi, long lo, int port) {
        long h = mix(hi * 31 + lo);
        h = mix(h ^ (((long) protocol << 40) | ((long) family << 32) | (port & 0xFFFFFFFFL)));
        return h == 0 ? 1 : h;
    }
}
