package dev.ferry.convert;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;

import dev.ferry.model.ServicePort;
import dev.ferry.watch.ServiceFilter;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converts a whole set of Services and EndpointSlices (a file, or an informer's cache) into service
 * ports: slices are grouped by namespace and {@code kubernetes.io/service-name} label and each
 * service is converted with {@link ServiceConverter}, so that one bad object never affects another
 * service. Stateless and thread-safe.
 *
 * <p>Objects labelled for another proxy (and headless-marked Services) are left out first, by the
 * same {@link ServiceFilter} predicates the API watch uses, as if they were not in the input.
 *
 * <p>Also rejected here: a slice without the service label, and a second object with the same kind,
 * namespace and name (the first one wins). Slices whose service does not exist are ignored, as
 * kube-proxy ignores them. Ports come out sorted by {@link dev.ferry.model.ServicePortName}.
 */
public final class ClusterConverter {
    private static final Logger log = LoggerFactory.getLogger(ClusterConverter.class);

    private ClusterConverter() {}

    public static Conversion convert(Collection<Service> services, Collection<EndpointSlice> slices) {
        List<Rejection> rejections = new ArrayList<>();

        Map<String, EndpointSlice> uniqueSlices = unique("EndpointSlice", proxied(slices, ServiceFilter::ignoredSlice), rejections);
        Map<String, List<EndpointSlice>> slicesByService = new HashMap<>();
        for (EndpointSlice slice : uniqueSlices.values()) {
            String namespace = ServiceConverter.namespaceOf(slice.getMetadata());
            String service = CheckedSlice.serviceName(slice);
            if (service == null) {
                rejections.add(new Rejection("EndpointSlice", namespace, slice.getMetadata().getName(),
                        "metadata.labels[" + ServiceConverter.SERVICE_NAME_LABEL + "]",
                        RejectionReason.MISSING_SERVICE_LABEL, "Required value: an EndpointSlice must name its Service"));
                continue;
            }
            slicesByService.computeIfAbsent(namespace + "/" + service, k -> new ArrayList<>()).add(slice);
        }

        List<ServicePort> ports = new ArrayList<>();
        for (Map.Entry<String, Service> e : unique("Service", proxied(services, ServiceFilter::ignoredService), rejections).entrySet()) {
            List<EndpointSlice> mine = slicesByService.remove(e.getKey());
            Conversion c;
            try {
                c = ServiceConverter.convert(e.getValue(), mine == null ? List.of() : mine);
            } catch (RuntimeException bug) {
                // A converter bug must not take the other services down with it.
                log.error("Service {}: conversion failed", e.getKey(), bug);
                c = new Conversion(List.of(), List.of(new Rejection("Service", e.getValue().getMetadata().getNamespace(),
                        e.getValue().getMetadata().getName(), "", RejectionReason.INVALID_VALUE,
                        "Internal error: " + bug)));
            }
            ports.addAll(c.ports());
            rejections.addAll(c.rejections());
        }
        if (log.isDebugEnabled()) {
            slicesByService.keySet().forEach(k -> log.debug("EndpointSlices for {} ignored: no such Service", k));
        }
        ports.sort((a, b) -> a.name().compareTo(b.name()));
        return new Conversion(ports, rejections);
    }

    /** The objects Ferry proxies: those {@code ignored} says another proxy owns are dropped (debug log). */
    private static <T extends HasMetadata> List<T> proxied(Collection<T> objects, Predicate<T> ignored) {
        List<T> out = new ArrayList<>();
        if (objects == null) {
            return out;
        }
        for (T o : objects) {
            if (o != null && ignored.test(o)) {
                log.debug("{} {}/{} ignored: labelled for another proxy", o.getKind(), ServiceConverter.namespaceOf(o.getMetadata()),
                        o.getMetadata().getName());
            } else {
                out.add(o);
            }
        }
        return out;
    }

    /** Objects keyed by "ns/name", first one winning; nameless and repeated objects are rejected. */
    private static <T extends HasMetadata> Map<String, T> unique(String kind, Collection<T> objects, List<Rejection> rejections) {
        Map<String, T> out = new LinkedHashMap<>();
        if (objects == null) {
            return out;
        }
        for (T o : objects) {
            if (o == null) {
                continue;
            }
            String namespace = ServiceConverter.namespaceOf(o.getMetadata());
            String name = o.getMetadata() == null ? null : o.getMetadata().getName();
            if (name == null || name.isEmpty()) {
                rejections.add(new Rejection(kind, namespace, "", "metadata.name", RejectionReason.REQUIRED_VALUE, "Required value"));
                continue;
            }
            if (out.putIfAbsent(namespace + "/" + name, o) != null) {
                rejections.add(new Rejection(kind, namespace, name, "metadata.name", RejectionReason.DUPLICATE_OBJECT,
                        "Duplicate value: " + FieldErrors.render(name) + ": the first " + kind + " of this name is used"));
            }
        }
        return out;
    }
}
