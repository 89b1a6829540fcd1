package dev.ferry.model;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Who gets a frontend (protocol, address, port) that two service ports claim: the one whose
 * {@link ServicePortName} sorts first (namespace, then name, then port name, then protocol). The loser
 * is left out whole, with the winner named in the reason. The rule depends only on the names, never
 * on the order in which the ports arrived, so the daemon's table, its rule syncers and
 * {@code ferry sync --dry-run} pick the same winner on every node and after every restart, and an
 * operator can tell the winner from {@code kubectl get services -A}.
 *
 * <p>Why names: the API server refuses duplicate ClusterIPs and NodePorts but not duplicate
 * externalIPs or LoadBalancer ingress IPs. kube-proxy leaves that case undefined (iptables mode
 * writes the services' jumps in Go map order, so which one answers varies per node and per sync,
 * kubernetes/kubernetes#69599); a rule that the same input always resolves the same way is the
 * closest safe reading. "Oldest wins" would need the creation time, which the model does not carry.
 *
 * <p>An instance is the claim book of one batch: feed it ports in name order ({@link #claim}); the
 * {@link dev.ferry.table.ServiceTable}, whose ports arrive in any order, asks {@link #outranks} and
 * evicts a later-named owner instead. Not thread-safe.
 */
public final class FrontendClaims {
    /** One frontend as the kernel and the table match it: the kind (cluster IP, external IP, ...) plays no part. */
    private record Key(InetAddress address, int port, Protocol protocol) {}

    /** A frontend sp wanted and the service port that holds it. */
    public record Conflict(Frontend frontend, ServicePortName owner) {
        /** The reason given for the loser, e.g. "frontend 10.0.0.1:80/TCP already used by default/a/TCP". */
        public String reason(Protocol protocol) {
            return "frontend " + frontend + "/" + protocol + " already used by " + owner + "/" + owner.protocol();
        }
    }

    private final Map<Key, ServicePortName> owners;
    private ServicePortName last;

    public FrontendClaims(int expectedPorts) {
        owners = new HashMap<>(expectedPorts * 2 + 16);
    }

    /** True when claimant wins a frontend that owner holds. */
    public static boolean outranks(ServicePortName claimant, ServicePortName owner) {
        return claimant.compareTo(owner) < 0;
    }

    /**
     * Takes every frontend of sp, or none: null when sp got them, else the first one already held.
     * Ports must come in name order (so an earlier holder always outranks sp).
     */
    public Conflict claim(ServicePort sp) {
        ServicePortName n = sp.name();
        if (last != null && n.compareTo(last) < 0) {
            throw new IllegalArgumentException("claims out of name order: " + n + " after " + last);
        }
        last = n;
        List<Frontend> frontends = sp.frontends();
        Key[] keys = new Key[frontends.size()];
        for (int i = 0; i < keys.length; i++) {
            Frontend f = frontends.get(i);
            keys[i] = new Key(f.address(), f.port(), n.protocol());
            ServicePortName owner = owners.get(keys[i]);
            if (owner != null) {
                return new Conflict(f, owner);
            }
        }
        for (Key k : keys) {
            owners.put(k, n);
        }
        return null;
    }
}
