package dev.ferry.proxy;

import dev.ferry.table.ServicePortView;

/**
 * The affinity-table id the userspace proxy gives a service port, for tools that read its pins from
 * another process. ({@code ferry explain} asks the proxy's {@link Router} itself, via
 * {@link BackendChoice}.) Stateless; thread-safe.
 */
public final class ProxyKeys {
    private ProxyKeys() {}

    /** The service port's id in conntrack's affinity table. */
    public static long affinityId(ServicePortView v) {
        return ServicePortBackends.affinityId(ServicePortBackends.nameOf(v));
    }
}
