package dev.ferry.rules.iptables;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.util.HashMap;
import java.util.Map;

/**
 * What the renderer remembers per service port between partial renders, so that an unchanged
 * service costs a few appends instead of hashing chain names and rebuilding its rules: the service
 * port as last rendered, its lines in the shared top-level chains, and its own chains with their
 * content hashes. Rebuilt on every render (entries of removed services drop out); its size follows
 * the number of service ports (about 0.5 KiB each). Not thread-safe: owned by one syncer, one
 * family.
 */
public final class RenderCache {
    record Entry(ServicePort port, String natServices, String natNodePorts, String filterServices,
                 String filterExternal, String filterNodePorts, String filterFirewall, String[] chainKeys,
                 long[] chainHashes) {}

    Map<ServicePortName, Entry> entries = new HashMap<>();
    RenderOptions options;
    /** The chain hashes of the rendering that filled this cache (compared by identity with the next previous). */
    Map<String, Long> rendered;

    /** Number of service ports remembered. */
    public int size() {
        return entries.size();
    }
}
