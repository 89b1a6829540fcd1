package dev.ferry.proxy;

import dev.ferry.conntrack.AffinityKey;
import dev.ferry.conntrack.ConntrackReader;
import dev.ferry.conntrack.Endpoint;
import dev.ferry.lb.Algorithm;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServiceTableReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The userspace proxy's answer for a new flow, as {@code ferry explain} shows it: the {@link Router}
 * computes it with the very code that routes connections ({@link #of}), over the daemon's mapped
 * table, with the ClientIP pins copied read-only from its conntrack maps. Immutable.
 *
 * @param servicePort the matched service port ("ns/name:port"), or null
 * @param external    whether the frontend is external (NodePort, externalIP, LoadBalancer)
 * @param candidates  the endpoints the proxy chooses among, in its scheduler's order
 * @param first       position in candidates the proxy tries first, or -1 when it is not known here
 *                    (a per-connection scheduler's live turn or counts) or there is none
 * @param algorithm   the service port's scheduler, or null
 * @param pinExpiresAtMillis when {@link Basis#AFFINITY_PIN}: when the pin expires (epoch ms), else 0
 */
public record BackendChoice(Outcome outcome, String servicePort, boolean external, List<InetSocketAddress> candidates,
                            int first, Basis basis, Algorithm algorithm, long pinExpiresAtMillis) {
    public enum Outcome {
        /** No service port serves the destination. */
        NO_SERVICE,
        /** A LoadBalancer frontend whose loadBalancerSourceRanges exclude the client. */
        DENIED,
        /** Matched, but no endpoint is usable from this frontend. */
        NO_ENDPOINTS,
        FORWARD
    }

    /** Why {@link #first} is what it is. */
    public enum Basis {
        NONE,
        /** The client's live ClientIP affinity pin. */
        AFFINITY_PIN,
        /** ClientIP affinity without conntrack maps: a hash of the client. */
        AFFINITY_HASH,
        /** A stateless hash scheduler (sh, dh, mh): a function of the addresses and the candidates. */
        HASH,
        /** rr, wrr, lc, p2c, random: decided per connection from the daemon's live state. */
        PER_CONNECTION,
        /** The daemon's conntrack maps are still opening: pins cannot be read yet. */
        AWAITING_PINS
    }

    public BackendChoice {
        candidates = List.copyOf(candidates);
    }

    BackendChoice(Outcome outcome, String servicePort, boolean external, List<InetSocketAddress> candidates,
                  int first, Basis basis, Algorithm algorithm) {
        this(outcome, servicePort, external, candidates, first, basis, algorithm, 0);
    }

    /** The backend tried first, or null when {@link #first} is -1. */
    public InetSocketAddress firstBackend() {
        return first < 0 ? null : candidates.get(first);
    }

    /**
     * The proxy's choice for a flow from client to destination:port/protocol (an address frontend
     * first, then a NodePort on that port, as the proxy's listeners would see it).
     *
     * @param pins the daemon's ClientIP pins ({@link ConntrackReader#affinities()}), or null when it
     *             keeps none (affinity then hashes the client, as the proxy does)
     */
    public static BackendChoice of(ServiceTableReader reader, String defaultAlgorithm, List<InetAddress> nodeIps,
                                   List<ConntrackReader.AffinityEntry> pins, InetAddress client, Protocol protocol,
                                   InetAddress destination, int port) {
        ReadOnlyPins readOnly = pins == null ? null : new ReadOnlyPins(pins);
        Router router = new Router(reader, defaultAlgorithm, null, nodeIps, readOnly);
        BackendChoice c = router.explain(new FrontendKey(protocol, destination, port, false), client);
        if (c.outcome() == Outcome.NO_SERVICE) {
            c = router.explain(new FrontendKey(protocol, destination, port, true), client);
        }
        if (c.basis() == Basis.AFFINITY_PIN && readOnly.lastHit != null) {
            c = new BackendChoice(c.outcome, c.servicePort, c.external, c.candidates, c.first, c.basis, c.algorithm,
                    readOnly.lastHit.expiresAtMillis());
        }
        return c;
    }

    private record PinKey(InetAddress client, long servicePortId) {}

    /** Pins as the proxy's lookup sees them, without touching (or expiring) the daemon's entries. */
    private static final class ReadOnlyPins implements Router.AffinityPins {
        private final Map<PinKey, ConntrackReader.AffinityEntry> byKey = new HashMap<>();
        ConntrackReader.AffinityEntry lastHit;

        ReadOnlyPins(List<ConntrackReader.AffinityEntry> entries) {
            for (ConntrackReader.AffinityEntry e : entries) {
                byKey.put(new PinKey(e.client(), e.servicePortId()), e);
            }
        }

        @Override
        public boolean lookup(AffinityKey key, long nowMillis, Endpoint out) {
            ConntrackReader.AffinityEntry e = byKey.get(new PinKey(key.clientAddress(), key.servicePortId()));
            if (e == null || e.expiresAtMillis() <= nowMillis) {
                return false;
            }
            lastHit = e;
            out.ip(e.backend().getAddress()).port(e.backend().getPort());
            return true;
        }
    }
}
