package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.Collection;
import java.util.List;

/**
 * The current Services and EndpointSlices, as the {@link ChangeTracker} reads them when it converts a
 * dirty service: in production the informers' caches ({@link ClusterWatcher}), in tests anything.
 * Must be safe to read from the tracker's thread while events update it; returned objects must not
 * be modified by the reader.
 */
public interface ClusterCache {

    /** True once the initial list of every watched kind has been received. */
    boolean hasSynced();

    /** The Service "namespace/name", or null when it does not exist. */
    Service service(String key);

    /** Every EndpointSlice labelled for the Service "namespace/name" (possibly none). */
    List<EndpointSlice> slicesOf(String serviceKey);

    /** The keys ("namespace/name") of every Service in the cache. */
    Collection<String> serviceKeys();
}
