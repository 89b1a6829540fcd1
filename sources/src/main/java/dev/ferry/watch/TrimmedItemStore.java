package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.List;
import java.util.Map;

/**
 * An informer's item store that keeps each object without the parts Ferry never reads: its
 * {@code metadata.managedFields} (server-side apply's field ownership, often larger than the spec)
 * and the {@code kubectl.kubernetes.io/last-applied-configuration} annotation (a JSON copy of the
 * whole object as last applied). It also shares what fabric8 would keep once per object: the empty
 * {@code additionalProperties} map every model object carries (an immutable empty map instead; the
 * cached objects are only read), and the strings that repeat across objects (node names, zones,
 * namespaces, protocols, port names: interned). The object is trimmed in place as it is stored,
 * before the informer's handlers see it, so the handlers and the cache share one copy. Keys are namespace/name, as the
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

    /** Drops what {@link TrimmedItemStore} does not keep from {@code obj} and shares what repeats. */
    static void trim(HasMetadata obj) {
        if (obj instanceof EndpointSlice s) {
            s.setAdditionalProperties(lean(s.getAdditionalProperties()));
            s.setAddressType(intern(s.getAddressType()));
            for (Endpoint e : orEmpty(s.getEndpoints())) {
                trim(e);
            }
            for (EndpointPort p : orEmpty(s.getPorts())) {
                p.setAdditionalProperties(lean(p.getAdditionalProperties()));
                p.setName(intern(p.getName()));
                p.setProtocol(intern(p.getProtocol()));
                p.setAppProtocol(intern(p.getAppProtocol()));
            }
        } else if (obj instanceof Service svc) {
            svc.setAdditionalProperties(lean(svc.getAdditionalProperties()));
            trim(svc.getSpec());
            if (svc.getStatus() != null) {
                svc.getStatus().setAdditionalProperties(lean(svc.getStatus().getAdditionalProperties()));
            }
        }
        ObjectMeta m = obj.getMetadata();
        if (m == null) {
            return;
        }
        m.setAdditionalProperties(lean(m.getAdditionalProperties()));
        m.setNamespace(intern(m.getNamespace()));
        for (OwnerReference o : orEmpty(m.getOwnerReferences())) {
            o.setAdditionalProperties(lean(o.getAdditionalProperties()));
            o.setApiVersion(intern(o.getApiVersion()));
            o.setKind(intern(o.getKind()));
        }
        if (m.getManagedFields() != null && !m.getManagedFields().isEmpty()) {
            m.setManagedFields(null);
        }
        Map<String, String> a = m.getAnnotations();
        if (a != null && a.containsKey(LAST_APPLIED)) {
            // A copy, not a.remove: the map may be immutable (an object built with Map.of); only
            // objects applied with kubectl apply carry the annotation, so the copy is rare.
            Map<String, String> copy = new java.util.LinkedHashMap<>(a);
            copy.remove(LAST_APPLIED);
            m.setAnnotations(copy);
        }
    }

    private static void trim(Endpoint e) {
        e.setAdditionalProperties(lean(e.getAdditionalProperties()));
        if (e.getAddresses() != null) {
            e.setAddresses(List.copyOf(e.getAddresses())); // usually one address: no ArrayList's spare room
        }
        e.setNodeName(intern(e.getNodeName()));
        e.setZone(intern(e.getZone()));
        if (e.getConditions() != null) {
            e.getConditions().setAdditionalProperties(lean(e.getConditions().getAdditionalProperties()));
        }
        if (e.getHints() != null) {
            e.getHints().setAdditionalProperties(lean(e.getHints().getAdditionalProperties()));
        }
        if (e.getTargetRef() != null) {
            e.getTargetRef().setAdditionalProperties(lean(e.getTargetRef().getAdditionalProperties()));
            e.getTargetRef().setKind(intern(e.getTargetRef().getKind()));
            e.getTargetRef().setNamespace(intern(e.getTargetRef().getNamespace()));
        }
    }

    private static void trim(ServiceSpec spec) {
        if (spec == null) {
            return;
        }
        spec.setAdditionalProperties(lean(spec.getAdditionalProperties()));
        spec.setType(intern(spec.getType()));
        spec.setSessionAffinity(intern(spec.getSessionAffinity()));
        spec.setInternalTrafficPolicy(intern(spec.getInternalTrafficPolicy()));
        spec.setExternalTrafficPolicy(intern(spec.getExternalTrafficPolicy()));
        spec.setIpFamilyPolicy(intern(spec.getIpFamilyPolicy()));
        for (ServicePort p : orEmpty(spec.getPorts())) {
            p.setAdditionalProperties(lean(p.getAdditionalProperties()));
            p.setName(intern(p.getName()));
            p.setProtocol(intern(p.getProtocol()));
            p.setAppProtocol(intern(p.getAppProtocol()));
        }
    }

    private static Map<String, Object> lean(Map<String, Object> additional) {
        return additional == null || additional.isEmpty() ? Map.of() : additional;
    }

    private static String intern(String s) {
        return s == null ? null : s.intern();
    }

    private static <E> List<E> orEmpty(List<E> list) {
        return list == null ? List.of() : list;
    }
}
