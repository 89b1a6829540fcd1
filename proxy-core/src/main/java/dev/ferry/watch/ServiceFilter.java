package dev.ferry.watch;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.Map;

/**
 * kube-proxy's label filters: objects labelled {@code service.kubernetes.io/service-proxy-name} (any
 * value: another proxy owns them) or {@code service.kubernetes.io/headless} (the EndpointSlice
 * controller's mark for headless services) are not proxied. The watcher asks the API server to filter
 * them ({@link #LABEL_SELECTOR}) and checks again here, so a server that ignores the selector changes
 * nothing. Stateless and thread-safe.
 */
public final class ServiceFilter {
    public static final String SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
    public static final String HEADLESS_LABEL = "service.kubernetes.io/headless";
    /** The selector kube-proxy lists and watches with. */
    public static final String LABEL_SELECTOR = "!" + SERVICE_PROXY_NAME_LABEL + ",!" + HEADLESS_LABEL;

    private ServiceFilter() {}

    /** True when Ferry must ignore the object (as if it did not exist). */
    public static boolean ignored(HasMetadata object) {
        Map<String, String> labels = object.getMetadata() == null ? null : object.getMetadata().getLabels();
        return labels != null && (labels.containsKey(SERVICE_PROXY_NAME_LABEL) || labels.containsKey(HEADLESS_LABEL));
    }
}
