package dev.ferry.watch;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.ServicePort;
import java.net.InetAddress;
import java.util.List;

/**
 * A 64-bit FNV-1a-style hash over every component of a service port and of each of its endpoints
 * (selection flags included): equal ports have equal prints, and a change is missed only on a 64-bit
 * collision (and then repaired by the next full sync, which rewrites everything). Lets the tracker
 * tell changed ports without keeping converted objects. Hashes fields directly (hashing toString()
 * cost more than the conversion itself); {@code FingerprintTest} fails when a component is added to
 * ServicePort or Endpoint so that this class is updated with it. Cold path; stateless, thread-safe.
 */
final class Fingerprint {
    /** Record components covered below; a test compares them with the model. */
    static final int SERVICE_PORT_COMPONENTS = 21;
    static final int ENDPOINT_COMPONENTS = 11;

    private static final long OFFSET = 0xcbf29ce484222325L;
    private static final long PRIME = 0x100000001b3L;

    private Fingerprint() {}

    static long of(ServicePort sp) {
        long h = OFFSET;
        h = str(h, sp.name().namespace());
        h = str(h, sp.name().name());
        h = str(h, sp.name().portName());
        h = mix(h, sp.name().protocol().ordinal());
        h = mix(h, sp.type().ordinal());
        h = mix(h, sp.headless() ? 1 : 0);
        h = str(h, sp.externalName());
        h = ips(h, sp.clusterIPs());
        h = mix(h, sp.port());
        h = str(h, sp.targetPort());
        h = mix(h, sp.nodePort());
        h = ips(h, sp.externalIPs());
        h = ips(h, sp.loadBalancerIPs());
        h = mix(h, sp.sessionAffinity().ordinal());
        h = mix(h, sp.affinityTimeoutSeconds());
        h = mix(h, sp.externalTrafficPolicy().ordinal());
        h = mix(h, sp.internalTrafficPolicy().ordinal());
        h = mix(h, sp.loadBalancerSourceRanges().size());
        for (Cidr c : sp.loadBalancerSourceRanges()) {
            h = ip(h, c.address());
            h = mix(h, c.prefixLength());
        }
        h = mix(h, sp.healthCheckNodePort());
        h = str(h, sp.trafficDistribution());
        h = mix(h, sp.publishNotReadyAddresses() ? 1 : 0);
        h = str(h, sp.lbAlgorithm());
        h = mix(h, sp.proxyProtocol() ? 1 : 0);
        h = mix(h, sp.endpoints().size());
        for (Endpoint e : sp.endpoints()) {
            h = ip(h, e.address());
            h = mix(h, e.port());
            h = mix(h, (e.ready() ? 1 : 0) | (e.serving() ? 2 : 0) | (e.terminating() ? 4 : 0)
                    | (e.clusterTraffic() ? 8 : 0) | (e.externalTraffic() ? 16 : 0));
            h = str(h, e.nodeName());
            h = str(h, e.zone());
            h = mix(h, e.forZones().size());
            for (String z : e.forZones()) {
                h = str(h, z);
            }
            h = str(h, e.hostname());
        }
        return h == 0 ? 1 : h;
    }

    private static long mix(long h, long v) {
        for (int i = 0; i < 8; i++) {
            h = (h ^ ((v >>> (i * 8)) & 0xff)) * PRIME;
        }
        return h;
    }

    private static long str(long h, String s) {
        h = mix(h, s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            h = (h ^ (c & 0xff)) * PRIME;
            h = (h ^ (c >>> 8)) * PRIME;
        }
        return h;
    }

    private static long ip(long h, InetAddress a) {
        byte[] b = a.getAddress();
        h = mix(h, b.length);
        for (byte x : b) {
            h = (h ^ (x & 0xff)) * PRIME;
        }
        return h;
    }

    private static long ips(long h, List<InetAddress> list) {
        h = mix(h, list.size());
        for (InetAddress a : list) {
            h = ip(h, a);
        }
        return h;
    }
}
