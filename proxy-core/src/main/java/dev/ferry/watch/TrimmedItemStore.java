package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.Map;

/**
 * An informer's item store that keeps each object without the parts Ferry never reads: its
 * {@code metadata.managedFields} (server-side apply's field ownership, often larger than the spec)
 * and the {@code kubectl.kubernetes.io/last-applied-configuration} annotation (a JSON copy of the
 * whole object as last applied). Measured on the real API server: about a third of an EndpointSlice's
 * heap as fabric8 holds it. The object is trimmed in place as it is stored, before the informer's
 * handlers see it, so the handlers and the cache share one copy. Keys are namespace/name, as the
 * informer's default store. Thread-safety: as {@link BasicItemStore} (the informer's cache locks it).
 */
final class TrimmedItemStore<T extends HasMetadata> extends BasicItemStore<T> {
    static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

    TrimmedItemStore() {
        super(Cache::metaNamespaceKeyFunc);
    }

    @Override
    public T put(String key, T obj) {
        trim(obj);
        return super.put(key, obj);
    }

    /** Drops what {@link TrimmedItemStore} does not keep from {@code obj}'s metadata. */
    static void trim(HasMetadata obj) {
        ObjectMeta m = obj.getMetadata();
        if (m == null) {
            return;
        }
        if (m.getManagedFields() != null && !m.getManagedFields().isEmpty()) {
            m.setManagedFields(null);
        }
        Map<String, String> a = m.getAnnotations();
        if (a != null && a.containsKey(LAST_APPLIED)) {
            try {
                a.remove(LAST_APPLIED);
            } catch (UnsupportedOperationException immutable) {
                Map<String, String> copy = new java.util.LinkedHashMap<>(a);
                copy.remove(LAST_APPLIED);
                m.setAnnotations(copy);
            }
        }
    }
}
