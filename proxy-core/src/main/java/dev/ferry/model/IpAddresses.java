package dev.ferry.model;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Parses and formats IP literals without ever touching DNS ({@link InetAddress#getByName} would
 * resolve a host name; a node agent must not do that for a malformed API field).
 */
public final class IpAddresses {
    private IpAddresses() {}

    /** Parses a dotted IPv4 or an IPv6 literal (no zone, no brackets); null when it is neither. */
    public static InetAddress parse(String s) {
        if (s == null || s.isEmpty() || s.length() > 45) {
            return null;
        }
        byte[] v4 = parseV4(s);
        if (v4 != null) {
            return fromBytes(v4);
        }
        if (s.indexOf(':') < 0) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
            if (!ok) {
                return null;
            }
        }
        try {
            // Only hex digits, colons and dots reach here, so this is a literal parse, never a lookup.
            InetAddress a = InetAddress.getByName(s);
            return a instanceof Inet6Address || a instanceof Inet4Address ? a : null;
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static byte[] parseV4(String s) {
        byte[] out = new byte[4];
        int part = 0;
        int value = -1;
        int digits = 0;
        for (int i = 0; i <= s.length(); i++) {
            char c = i < s.length() ? s.charAt(i) : '.';
            if (c == '.') {
                if (value < 0 || part > 3) {
                    return null;
                }
                out[part++] = (byte) value;
                value = -1;
                digits = 0;
            } else if (c >= '0' && c <= '9') {
                if (digits > 0 && value == 0) {
                    return null; // leading zeros are ambiguous (octal); the API rejects them too
                }
                value = (value < 0 ? 0 : value * 10) + (c - '0');
                if (++digits > 3 || value > 255) {
                    return null;
                }
            } else {
                return null;
            }
        }
        return part == 4 ? out : null;
    }

    public static InetAddress fromBytes(byte[] b) {
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address must be 4 or 16 bytes, got " + b.length);
        }
    }

    /** "ip:port", with brackets around an IPv6 address, as kube-proxy and the tools print endpoints. */
    public static String hostPort(InetAddress a, int port) {
        String ip = format(a);
        return (a instanceof Inet6Address ? "[" + ip + "]" : ip) + ":" + port;
    }

    /** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
    public static String format(InetAddress a) {
        if (a == null) {
            return "";
        }
        if (a instanceof Inet4Address) {
            return a.getHostAddress();
        }
        return formatV6(a.getAddress());
    }

    static String formatV6(byte[] b) {
        int[] w = new int[8];
        for (int i = 0; i < 8; i++) {
            w[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (w[i] == 0) {
                int j = i;
                while (j < 8 && w[j] == 0) j++;
                if (j - i > bestLen && j - i >= 2) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(w[i]));
        }
        return sb.toString();
    }
}
