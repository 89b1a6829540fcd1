package dev.ferry.rules.nft;

import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.ServicePortName;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/**
 * Chain and set names in kube-proxy's nftables style: a kind prefix, 8 base32 characters of a
 * SHA-256 (so a name stays unique when truncated) and the readable "ns/name/proto/port" base, e.g.
 * {@code service-ULMVA6XW-ns1/svc1/tcp/p80} and the affinity set
 * {@code affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80}. Stateless; thread-safe.
 */
final class ChainNames {
    /** nft's NFT_NAME_MAXLEN is 256 including the terminating NUL. */
    static final int MAX = 255;
    private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();

    private ChainNames() {}

    /** "ns/name/proto/portName": Kubernetes names are [a-z0-9-], so "/" separates unambiguously. */
    static String base(ServicePortName n) {
        return n.namespace() + "/" + n.name() + "/" + n.protocol().name().toLowerCase(Locale.ROOT) + "/" + n.portName();
    }

    /** A map entry's comment: the readable base, which nft allows in a quoted string as it is. */
    static String comment(ServicePortName n) {
        String c = sanitize(base(n));
        // nft's NFT_USERDATA_MAXLEN is 256 bytes for the whole element user data
        return c.length() > 200 ? c.substring(0, 200) : c;
    }

    static String service(String base) {
        return named("service-", base);
    }

    static String external(String base) {
        return named("external-", base);
    }

    static String local(String base) {
        return named("local-", base);
    }

    static String firewall(String base) {
        return named("firewall-", base);
    }

    static String affinity(String base, Endpoint ep) {
        return named("affinity-", endpointBase(base, ep));
    }

    private static String endpointBase(String base, Endpoint ep) {
        // ':' is not allowed in an nft identifier; kube-proxy writes IPv6 with '.' instead.
        return base + "__" + IpAddresses.format(ep.address()).replace(':', '.') + "/" + ep.port();
    }

    private static String named(String prefix, String base) {
        String name = prefix + hash(base) + "-" + sanitize(base);
        return name.length() > MAX ? name.substring(0, MAX) : name;
    }

    /** Anything outside nft's identifier alphabet becomes '.', so a bad API name cannot break the payload. */
    static String sanitize(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '/' || c == '-' || c == '_' || c == '.';
            if (!ok) {
                if (sb == null) {
                    sb = new StringBuilder(s);
                }
                sb.setCharAt(i, '.');
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** A per-service jhash seed (8 hex digits), so services do not all split connections alike. */
    static String seed(String base) {
        return hash(base + "#seed").chars().mapToObj(c -> Integer.toHexString(c & 0xf)).reduce("", String::concat);
    }

    static String hash(String s) {
        byte[] d;
        try {
            d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JDK", e);
        }
        // First 40 bits as 8 base32 characters, as base32.StdEncoding(sha256)[:8] in kube-proxy.
        long bits = 0;
        for (int i = 0; i < 5; i++) {
            bits = (bits << 8) | (d[i] & 0xff);
        }
        char[] out = new char[8];
        for (int i = 7; i >= 0; i--) {
            out[i] = BASE32[(int) (bits & 31)];
            bits >>>= 5;
        }
        return new String(out);
    }
}
