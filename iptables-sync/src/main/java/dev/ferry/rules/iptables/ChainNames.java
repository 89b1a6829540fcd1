package dev.ferry.rules.iptables;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * kube-proxy's chain names, so that runbooks and tools written for kube-proxy read Ferry's rules:
 * a prefix plus the first 16 characters of base32(sha256(servicePortName + protocol [+ endpoint])),
 * where servicePortName is "ns/name:port" (":port" only for named ports), protocol is lower case and
 * endpoint is "ip:port" ("[ip]:port" for IPv6). Thread-safe (one digest per thread).
 */
public final class ChainNames {
    public static final String SERVICES = "KUBE-SERVICES";
    public static final String EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES";
    public static final String NODEPORTS = "KUBE-NODEPORTS";
    public static final String POSTROUTING = "KUBE-POSTROUTING";
    public static final String MARK_MASQ = "KUBE-MARK-MASQ";
    public static final String FORWARD = "KUBE-FORWARD";
    public static final String PROXY_FIREWALL = "KUBE-PROXY-FIREWALL";
    /** kubelet's historical chain, now kube-proxy's: drops martian localnet packets (localhost NodePorts). */
    public static final String KUBELET_FIREWALL = "KUBE-FIREWALL";

    /** Prefixes of the per-service chains (XLB is kube-proxy's pre-1.24 name for EXT/SVL). */
    static final String[] SERVICE_CHAIN_PREFIXES = {"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-", "KUBE-XLB-"};

    private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    });

    private ChainNames() {}

    public static String service(String portName, String protocol) {
        return "KUBE-SVC-" + hash(portName + protocol);
    }

    public static String serviceLocal(String portName, String protocol) {
        return "KUBE-SVL-" + hash(portName + protocol);
    }

    public static String external(String portName, String protocol) {
        return "KUBE-EXT-" + hash(portName + protocol);
    }

    public static String firewall(String portName, String protocol) {
        return "KUBE-FW-" + hash(portName + protocol);
    }

    public static String endpoint(String portName, String protocol, String endpointHostPort) {
        return "KUBE-SEP-" + hash(portName + protocol + endpointHostPort);
    }

    /** True for the per-service chains Ferry (or kube-proxy) creates and may delete when stale. */
    public static boolean isServiceChain(String chain) {
        for (String p : SERVICE_CHAIN_PREFIXES) {
            if (chain.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** The first 16 base32 characters of sha256(s); 16 characters need exactly the first 10 bytes. */
    static String hash(String s) {
        byte[] h = SHA256.get().digest(s.getBytes(StandardCharsets.UTF_8));
        char[] out = new char[16];
        int o = 0;
        for (int i = 0; i < 10; i += 5) {
            long v = 0;
            for (int j = 0; j < 5; j++) {
                v = (v << 8) | (h[i + j] & 0xff);
            }
            for (int k = 7; k >= 0; k--) {
                out[o++] = BASE32[(int) ((v >>> (k * 5)) & 31)];
            }
        }
        return new String(out);
    }
}
