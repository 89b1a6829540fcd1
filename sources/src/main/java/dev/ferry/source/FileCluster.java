package dev.ferry.source;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.select.NodeInfo;
import dev.ferry.watch.ChangeTracker;
import dev.ferry.watch.ClusterCache;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The objects of a {@code --source} file as the {@link ChangeTracker} reads them: the file's
 * counterpart of the API watch's informer caches, so that the file and the API go through one
 * pipeline (conversion per Service, endpoint selection, the same table writes and change feed).
 * Each {@link #load} replaces what the cache holds, grouped as {@link ClusterConverter#group} does,
 * and marks on the tracker only the Services whose Service object or EndpointSlices differ from the
 * previous load (added and removed ones included); the file's Node objects give this node's zone.
 * Objects that cannot be placed (nameless, duplicate, a slice without its service label) are
 * reported as the file's rejections; rejections are logged with their {@code file:line:column}.
 *
 * <p>Threads: {@link #load} from the file source's thread (one at a time); the {@link ClusterCache}
 * methods from the tracker's thread. A load publishes the new objects in one volatile write before
 * it marks anything, so the tracker never reads a Service with another load's slices for long: the
 * marks that follow make it read them again.
 */
public final class FileCluster implements ClusterCache {
    /** What the cache holds: one load's objects. */
    private record Loaded(Map<String, Service> services, Map<String, List<EndpointSlice>> slices, Manifest manifest) {}

    private final ChangeTracker tracker;
    private final String nodeName;
    private volatile Loaded current;

    /** A cache feeding {@code tracker} (whose cache it must be), for the node {@code nodeName}. */
    public FileCluster(String nodeName, ChangeTrackerFactory tracker) {
        this.nodeName = nodeName;
        this.tracker = tracker.create(this);
        this.tracker.locateRejections(r -> {
            Loaded c = current;
            return c == null ? "" : c.manifest().locate(r);
        });
    }

    /** Builds the tracker that reads this cache (the tracker needs its cache at construction). */
    @FunctionalInterface
    public interface ChangeTrackerFactory {
        ChangeTracker create(ClusterCache cache);
    }

    /** The tracker this cache feeds. */
    public ChangeTracker tracker() {
        return tracker;
    }

    /**
     * Takes one load of the file: replaces the objects, tells the tracker which Services changed and
     * the node's zone, and reports the objects that could not be placed. Returns how many Services
     * were marked changed.
     */
    public int load(Manifest manifest) {
        ClusterConverter.Grouped g = ClusterConverter.group(manifest.services(), manifest.endpointSlices());
        Loaded before = current;
        Loaded now = new Loaded(Map.copyOf(g.services()), copyOf(g.slicesByService()), manifest);
        Set<String> changed = new HashSet<>();
        if (before == null) {
            changed.addAll(now.services().keySet());
        } else {
            diff(before.services(), now.services(), changed);
            diff(before.slices(), now.slices(), changed);
        }
        current = now;
        tracker.reject("file " + manifest.file(), g.rejections());
        tracker.nodeChanged(manifest.nodes().isEmpty() ? new NodeInfo(nodeName, "") : dev.ferry.convert.NodeInfos.of(nodeName, manifest.nodes()));
        for (String key : changed) {
            tracker.serviceChanged(key);
        }
        return changed.size();
    }

    private static Map<String, List<EndpointSlice>> copyOf(Map<String, List<EndpointSlice>> m) {
        Map<String, List<EndpointSlice>> out = new java.util.HashMap<>(m.size() * 2);
        m.forEach((k, v) -> out.put(k, List.copyOf(v)));
        return Map.copyOf(out);
    }

    private static <V> void diff(Map<String, V> before, Map<String, V> now, Set<String> changed) {
        for (Map.Entry<String, V> e : now.entrySet()) {
            if (!Objects.equals(before.get(e.getKey()), e.getValue())) {
                changed.add(e.getKey());
            }
        }
        for (String k : before.keySet()) {
            if (!now.containsKey(k)) {
                changed.add(k);
            }
        }
    }

    @Override
    public boolean hasSynced() {
        return current != null;
    }

    @Override
    public Service service(String key) {
        Loaded c = current;
        return c == null ? null : c.services().get(key);
    }

    @Override
    public List<EndpointSlice> slicesOf(String serviceKey) {
        Loaded c = current;
        return c == null ? List.of() : c.slices().getOrDefault(serviceKey, List.of());
    }

    @Override
    public Collection<String> serviceKeys() {
        Loaded c = current;
        return c == null ? List.of() : c.services().keySet();
    }
}
