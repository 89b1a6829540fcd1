package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.Map;

/**
 * Which objects Ferry proxies, for every source (the API watch and {@code --source} files alike):
 * kube-proxy's label filters. kube-proxy lists Services and EndpointSlices with the selector
 * {@code !service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless}
 * (cmd/kube-proxy/app/server.go). Ferry applies it to Services as is: an object labelled
 * {@code service-proxy-name} (any value) belongs to another proxy and is treated as if it did not
 * exist. For EndpointSlices only {@code service-proxy-name} applies: the EndpointSlice controller
 * marks the slices of headless services with {@code service.kubernetes.io/headless}, and Ferry's DNS
 * answers with their addresses (kube-proxy has no DNS and has no use for them); such services get
 * no frontends either way. The watcher asks the API server to filter by the same labels and
 * checks again with these predicates, so a server that ignores the selector changes nothing; the
 * file source's {@link dev.ferry.convert.ClusterConverter} uses them as they are. Stateless and
 * thread-safe.
 */
public final class ServiceFilter {
    public static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    public static final String HEADLESS_LABEL = "service.kubernetes.io/headless";
    /** The selector kube-proxy lists and watches with; Ferry lists Services with it. */
    public static final String LABEL_SELECTOR = "!" + SERVICE_PROXY_NAME_LABEL + ",!" + HEADLESS_LABEL;

    private ServiceFilter() {}

    /** True when Ferry must ignore the Service (as if it did not exist). */
    public static boolean ignoredService(Service service) {
        return has(service, SERVICE_PROXY_NAME_LABEL) || has(service, HEADLESS_LABEL);
    }

    /** True when Ferry must ignore the EndpointSlice (as if it did not exist). */
    public static boolean ignoredSlice(EndpointSlice slice) {
        return has(slice, SERVICE_PROXY_NAME_LABEL);
    }

    private static boolean has(HasMetadata object, String label) {
        Map<String, String> labels = object.getMetadata() == null ? null : object.getMetadata().getLabels();
        return labels != null && labels.containsKey(label);
    }
}
