package dev.ferry.proxy;

import dev.ferry.lb.Algorithm;
import dev.ferry.lb.Backends;
import dev.ferry.lb.ConnectionCounts;
import dev.ferry.lb.Scheduler;
import dev.ferry.lb.UnknownAlgorithmException;
import dev.ferry.table.ServicePortView;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's per-record routing state for one service port, built once per table record (per
 * stamp) on the cold path: endpoint socket addresses, the endpoints usable from cluster and from
 * external frontends, a scheduler for each set, and the service port's metrics. Immutable after
 * construction apart from the lock-free connection counts; shared by all event loops.
 */
final class ServicePortBackends {
    private static final Logger LOG = LoggerFactory.getLogger(ServicePortBackends.class);

    final long stamp;
    final String name;
    final long affinityId;
    final boolean proxyProtocol;
    final boolean clientIpAffinity;
    final long affinityTimeoutMillis;
    final ServicePortMetrics metrics;
    /** Every endpoint of the record, by table index. */
    final InetSocketAddress[] addresses;
    /** IPv4 address as int per endpoint (for affinity matching), 0 for IPv6. */
    final int[] ipv4;
    final boolean[] isIpv4;
    private final Choice cluster;
    private final Choice external;

    /** The endpoints one kind of frontend may use, and the scheduler over them. */
    static final class Choice {
        /** Table indices of the usable endpoints; the scheduler's backend i is {@code endpoints[i]}. */
        final int[] endpoints;
        final Scheduler scheduler;
        final ConnectionCounts counts;

        Choice(int[] endpoints, Scheduler scheduler, ConnectionCounts counts) {
            this.endpoints = endpoints;
            this.scheduler = scheduler;
            this.counts = counts;
        }
    }

    private ServicePortBackends(long stamp, String name, long affinityId, boolean proxyProtocol,
                                boolean clientIpAffinity, long affinityTimeoutMillis, ServicePortMetrics metrics,
                                InetSocketAddress[] addresses, int[] ipv4, boolean[] isIpv4, Choice cluster,
                                Choice external) {
        this.stamp = stamp;
        this.name = name;
        this.affinityId = affinityId;
        this.proxyProtocol = proxyProtocol;
        this.clientIpAffinity = clientIpAffinity;
        this.affinityTimeoutMillis = affinityTimeoutMillis;
        this.metrics = metrics;
        this.addresses = addresses;
        this.ipv4 = ipv4;
        this.isIpv4 = isIpv4;
        this.cluster = cluster;
        this.external = external;
    }

    Choice choice(boolean externalFrontend) {
        return externalFrontend ? external : cluster;
    }

    /** The service port's name as the metrics use it. */
    static String nameOf(ServicePortView v) {
        return v.namespace() + "/" + v.name() + ":" + (v.portName().isEmpty() ? String.valueOf(v.port()) : v.portName())
                + "/" + v.protocol();
    }

    /**
     * Builds the state of the record the view points at. The caller checks {@code view.isValid()}
     * afterwards. {@code previous} (the same service port's former state, or null) carries the
     * connection counts over so that least-connection algorithms do not see survivors as idle.
     */
    static ServicePortBackends build(ServicePortView v, String defaultAlgorithm, ServicePortMetrics metrics,
                                     ServicePortBackends previous) {
        String name = nameOf(v);
        int n = v.endpointCount();
        InetSocketAddress[] addresses = new InetSocketAddress[n];
        int[] ipv4 = new int[n];
        boolean[] isIpv4 = new boolean[n];
        List<Integer> forCluster = new ArrayList<>();
        List<Integer> forExternal = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            InetAddress a = v.endpointAddress(i);
            addresses[i] = new InetSocketAddress(a, v.endpointPort(i));
            isIpv4[i] = v.endpointFamily(i) == 4;
            ipv4[i] = isIpv4[i] ? v.endpointIpv4(i) : 0;
            if (v.endpointForClusterTraffic(i)) {
                forCluster.add(i);
            }
            if (v.endpointForExternalTraffic(i)) {
                forExternal.add(i);
            }
        }
        Algorithm algorithm = algorithmOf(name, v.lbAlgorithm(), defaultAlgorithm);
        Choice cluster = choice(algorithm, addresses, forCluster, previous == null ? null : previous.cluster);
        Choice external = choice(algorithm, addresses, forExternal, previous == null ? null : previous.external);
        int timeout = v.affinityTimeoutSeconds();
        return new ServicePortBackends(v.stamp(), name, affinityId(name), v.proxyProtocol(), v.clientIpAffinity(),
                (timeout > 0 ? timeout : dev.ferry.model.SessionAffinity.DEFAULT_TIMEOUT_SECONDS) * 1000L, metrics,
                addresses, ipv4, isIpv4, cluster, external);
    }

    private static Algorithm algorithmOf(String servicePort, String annotated, String defaultAlgorithm) {
        if (annotated.isEmpty()) {
            return Algorithm.named(defaultAlgorithm);
        }
        try {
            return Algorithm.named(annotated);
        } catch (UnknownAlgorithmException e) {
            LOG.warn("{}: lb algorithm {}; using {}", servicePort, e.getMessage(), defaultAlgorithm);
            return Algorithm.named(defaultAlgorithm);
        }
    }

    private static Choice choice(Algorithm algorithm, InetSocketAddress[] addresses, List<Integer> usable,
                                 Choice previous) {
        int[] idx = usable.stream().mapToInt(Integer::intValue).toArray();
        String[] names = new String[idx.length];
        for (int i = 0; i < idx.length; i++) {
            InetSocketAddress a = addresses[idx[i]];
            names[i] = a.getAddress().getHostAddress() + ":" + a.getPort();
        }
        Backends backends = names.length == 0 ? Backends.EMPTY : Backends.of(names);
        ConnectionCounts counts = previous != null
                ? ConnectionCounts.carriedOver(previous.counts, previous.scheduler.backends(), backends)
                : ConnectionCounts.forBackends(backends);
        return new Choice(idx, algorithm.newScheduler(backends, counts), counts);
    }

    /** A stable 64-bit id of the service port for the affinity table (FNV-1a of its name). */
    static long affinityId(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }
}
