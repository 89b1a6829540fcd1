package dev.ferry.proxy;

import dev.ferry.lb.FlowHash;
import dev.ferry.table.AddressBits;
import dev.ferry.table.ServicePortView;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The keys the userspace proxy derives per connection, for tools that must predict its choices
 * from another process ({@code ferry explain}): the affinity-table id of a service port, the
 * scheduler hashes of a client and a destination, and the backend names its schedulers hash.
 * Stateless; thread-safe.
 */
public final class ProxyKeys {
    private ProxyKeys() {}

    /** The service port's id in conntrack's affinity table. */
    public static long affinityId(ServicePortView v) {
        return ServicePortBackends.affinityId(ServicePortBackends.nameOf(v));
    }

    /** The source key the schedulers (sh, mh) see for a client. */
    public static long addressHash(InetAddress a) {
        return AddressBits.family(a) == 4 ? FlowHash.ipv4((int) AddressBits.lo(a)) : FlowHash.ipv6(AddressBits.hi(a), AddressBits.lo(a));
    }

    /** The name a backend has in the proxy's scheduler (what Maglev hashes). */
    public static String backendName(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
