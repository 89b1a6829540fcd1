package dev.ferry.model;

import java.net.InetAddress;
import java.util.Arrays;

/** An IPv4 or IPv6 prefix, as in loadBalancerSourceRanges. Immutable; the host bits are zeroed. */
public record Cidr(InetAddress address, int prefixLength) {

    public Cidr {
        int max = address.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > max) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " out of range 0-" + max);
        }
    }

    /** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a host prefix); throws IllegalArgumentException with the reason. */
    public static Cidr parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty CIDR");
        }
        String s = text.trim();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        InetAddress ip = IpAddresses.parse(addr);
        if (ip == null) {
            throw new IllegalArgumentException("invalid CIDR " + quote(text) + ": not an IP address");
        }
        int max = ip.getAddress().length * 8;
        int prefix;
        if (slash < 0) {
            prefix = max;
        } else {
            try {
                prefix = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid CIDR " + quote(text) + ": bad prefix length");
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("invalid CIDR " + quote(text) + ": prefix length out of range 0-" + max);
            }
        }
        byte[] b = ip.getAddress();
        mask(b, prefix);
        return new Cidr(IpAddresses.fromBytes(b), prefix);
    }

    public boolean isIpv6() {
        return address.getAddress().length == 16;
    }

    /** True when addr (same family) lies in this prefix. */
    public boolean contains(InetAddress addr) {
        byte[] a = addr.getAddress();
        byte[] n = address.getAddress();
        if (a.length != n.length) {
            return false;
        }
        mask(a, prefixLength);
        return Arrays.equals(a, n);
    }

    static void mask(byte[] b, int prefix) {
        for (int i = 0; i < b.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            b[i] &= (byte) (0xff << (8 - bits));
        }
    }

    private static String quote(String s) {
        return "\"" + s + "\"";
    }

    @Override
    public String toString() {
        return IpAddresses.format(address) + "/" + prefixLength;
    }
}
