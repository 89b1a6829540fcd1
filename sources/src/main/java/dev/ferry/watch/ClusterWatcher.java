package dev.ferry.watch;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;
import dev.ferry.convert.ServiceConverter;
import dev.ferry.select.NodeInfo;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the Kubernetes API into the table: fabric8 informers on Services, EndpointSlices
 * (discovery.k8s.io/v1) and this node's Node, feeding a {@link ChangeTracker} that writes through a
 * {@link TableSink}. This is the one class a daemon needs:
 *
 * <pre>{@code
 * KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
 * ServiceTable table = ServiceTable.create(stateDir);
 * ClusterWatcher watcher = new ClusterWatcher(client, nodeName, SyncPeriods.DEFAULTS, new TableWriterSink(table));
 * watcher.start();                                   // returns at once; informers list in the background
 * watcher.awaitFirstSync(Duration.ofMinutes(1));      // optional: the first full table is written
 * SyncStats stats = watcher.stats();                  // for /healthz and /metrics, from any thread
 * ...
 * watcher.close();                                    // stop watching; table and rules stay as they are
 * client.close(); table.close();
 * }</pre>
 *
 * <p>The table is written only from the tracker's sync thread (through the sink), never from an
 * informer thread. While the API server is unreachable the informers keep their caches and retry;
 * nothing is removed from the table. On reconnect they relist; the tracker converts what the relist
 * touched and writes only differences, so surviving services are never removed and re-added.
 *
 * <p>Filters: Services labelled {@code service.kubernetes.io/service-proxy-name} or
 * {@code service.kubernetes.io/headless} are not watched (the API server filters them; the tracker
 * checks again). EndpointSlices are filtered only by {@code service-proxy-name}: the slices of real
 * headless services carry {@code service.kubernetes.io/headless} and Ferry's DNS needs their
 * addresses; such services reach the table without frontends (DNS only).
 *
 * <p>Memory: the informer caches hold every Service and EndpointSlice as fabric8 objects on the heap
 * (that is how fabric8 informers work), trimmed of what Ferry never reads ({@link TrimmedItemStore});
 * the tracker adds only a fingerprint per service port.
 *
 * <p>Thread-safety: {@link #start()} and {@link #close()} once each from one thread; the getters from any.
 */
public final class ClusterWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterWatcher.class);
    /** The annotation the EndpointSlice controller sets to when the change that caused it happened. */
    public static final String TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";
    /** The node label that gives its zone, for topology-aware routing. */
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
    private static final String BY_SERVICE = "ferry-service";

    private final KubernetesClient client;
    private final String nodeName;
    private final SharedIndexInformer<Service> services;
    private final SharedIndexInformer<EndpointSlice> slices;
    private final SharedIndexInformer<Node> nodes;
    private final ChangeTracker tracker;
    private boolean started;
    private volatile java.util.function.BiConsumer<Node, Boolean> nodeListener = (n, deleted) -> {};

    /**
     * Builds the informers and the tracker without contacting the API server.
     *
     * @param nodeName this node's name as the API knows it (for Local traffic policies and the zone)
     */
    public ClusterWatcher(KubernetesClient client, String nodeName, SyncPeriods periods, TableSink sink) {
        this.client = Objects.requireNonNull(client, "client");
        if (nodeName == null || nodeName.isBlank()) {
            throw new IllegalArgumentException("node name must not be empty");
        }
        this.nodeName = nodeName;
        this.tracker = new ChangeTracker(new InformerCache(), sink, periods, new NodeInfo(nodeName, ""));
        this.services = client.services().inAnyNamespace()
                .withoutLabel(ServiceFilter.SERVICE_PROXY_NAME_LABEL)
                .withoutLabel(ServiceFilter.HEADLESS_LABEL)
                .runnableInformer(0);
        this.slices = client.discovery().v1().endpointSlices().inAnyNamespace()
                .withoutLabel(ServiceFilter.SERVICE_PROXY_NAME_LABEL)
                .runnableInformer(0);
        this.nodes = client.nodes().withName(nodeName).runnableInformer(0);
        // the caches keep one trimmed copy of each object (no managedFields, no last-applied copy)
        services.itemStore(new TrimmedItemStore<>());
        slices.itemStore(new TrimmedItemStore<>());
        nodes.itemStore(new TrimmedItemStore<>());
        services.removeNamespaceIndex();
        slices.removeNamespaceIndex();
        slices.addIndexers(Map.of(BY_SERVICE, s -> {
            String key = serviceKeyOf(s);
            return key == null ? List.of() : List.of(key);
        }));
        for (SharedIndexInformer<?> i : List.of(services, slices, nodes)) {
            i.exceptionHandler((isStarted, t) -> {
                // Keep retrying through outages: the last table stays in place meanwhile.
                log.warn("{} watch failed ({}), retrying: {}", i.getApiTypeClass().getSimpleName(),
                        isStarted ? "running" : "starting", t.toString());
                return true;
            });
        }
        services.addEventHandler(handler(this::serviceEvent));
        slices.addEventHandler(new ResourceEventHandler<EndpointSlice>() {
            @Override
            public void onAdd(EndpointSlice s) {
                sliceEvent(null, s);
            }

            @Override
            public void onUpdate(EndpointSlice before, EndpointSlice after) {
                sliceEvent(before, after);
            }

            @Override
            public void onDelete(EndpointSlice s, boolean finalStateUnknown) {
                sliceEvent(s, null);
            }
        });
        nodes.addEventHandler(new ResourceEventHandler<Node>() {
            @Override
            public void onAdd(Node n) {
                nodeEvent(n, false);
            }

            @Override
            public void onUpdate(Node before, Node after) {
                nodeEvent(after, false);
            }

            @Override
            public void onDelete(Node n, boolean finalStateUnknown) {
                nodeEvent(n, true);
            }
        });
    }

    /**
     * Receives this node's Node object on every add/update ({@code deleted == false}) and on delete
     * ({@code true}), on an informer thread: for health checks that need more than the zone (e.g. the
     * node being deleted or tainted for deletion) without a second watch. Call before start.
     */
    public void onNode(java.util.function.BiConsumer<Node, Boolean> listener) {
        this.nodeListener = Objects.requireNonNull(listener, "listener");
    }

    /** Receives each distinct rejected object once (e.g. to post a Kubernetes Event). Call before start. */
    public void onRejection(Consumer<Rejection> listener) {
        tracker.onRejection(listener);
    }

    /** Starts the informers and the sync thread; returns at once. */
    public synchronized void start() {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        tracker.start();
        nodes.start();
        slices.start();
        services.start();
        log.info("watching Services, EndpointSlices and Node {} at {}", nodeName, client.getMasterUrl());
    }

    /** Waits until the first full table has been written; false on timeout. */
    public boolean awaitFirstSync(Duration timeout) throws InterruptedException {
        return tracker.awaitFirstSync(timeout);
    }

    /** True when every informer has a live watch (false during an API outage or before the first list). */
    public boolean watching() {
        return services.isWatching() && slices.isWatching() && nodes.isWatching();
    }

    /** True once every informer has listed at least once. */
    public boolean hasSynced() {
        return services.hasSynced() && slices.hasSynced() && nodes.hasSynced();
    }

    /**
     * The uid of a watched object of this kind ("Service", "EndpointSlice", "Node") from the
     * informers' caches, or "" when it is not cached (Events carry it so that {@code kubectl
     * describe} finds them).
     */
    public String uidOf(String kind, String namespace, String name) {
        String key = namespace == null || namespace.isEmpty() ? name : namespace + "/" + name;
        io.fabric8.kubernetes.api.model.HasMetadata o = switch (kind) {
            case "Service" -> services.getIndexer().getByKey(key);
            case "EndpointSlice" -> slices.getIndexer().getByKey(key);
            case "Node" -> nodes.getIndexer().getByKey(key);
            default -> null;
        };
        String uid = o == null || o.getMetadata() == null ? null : o.getMetadata().getUid();
        return uid == null ? "" : uid;
    }

    public SyncStats stats() {
        return tracker.stats();
    }

    /** This node as selection currently sees it (its zone is empty until the Node is seen). */
    public NodeInfo node() {
        return tracker.node();
    }

    /** Asks for a full sync at the next allowed moment. */
    public void requestFullSync() {
        tracker.requestFullSync();
    }

    /** Stops the informers, then the sync thread. The table keeps what it holds; the client stays open. */
    @Override
    public synchronized void close() {
        for (SharedIndexInformer<?> i : List.of(services, slices, nodes)) {
            try {
                i.stop();
            } catch (RuntimeException e) {
                log.warn("stopping the {} informer: {}", i.getApiTypeClass().getSimpleName(), e.toString());
            }
        }
        tracker.close();
    }

    // ---- events (informer threads) -------------------------------------------------------------

    private void serviceEvent(Service s) {
        tracker.serviceChanged(ServiceConverter.namespaceOf(s.getMetadata()) + "/" + s.getMetadata().getName());
    }

    private void sliceEvent(EndpointSlice before, EndpointSlice after) {
        String oldKey = before == null ? null : serviceKeyOf(before);
        String newKey = after == null ? null : serviceKeyOf(after);
        long trigger = after == null ? 0 : triggerTime(after);
        if (oldKey != null && !oldKey.equals(newKey)) {
            tracker.serviceChanged(oldKey, 0);
        }
        if (newKey != null) {
            tracker.serviceChanged(newKey, trigger);
        }
        EndpointSlice current = after != null ? after : before;
        String objectKey = "EndpointSlice " + keyOf(current);
        if (after != null && newKey == null) {
            tracker.reject(objectKey, List.of(new Rejection("EndpointSlice", after.getMetadata().getNamespace(),
                    after.getMetadata().getName(), "metadata.labels[" + ServiceConverter.SERVICE_NAME_LABEL + "]",
                    RejectionReason.MISSING_SERVICE_LABEL, "Required value: an EndpointSlice must name its Service")));
        } else {
            tracker.reject(objectKey, List.of());
        }
    }

    private void nodeEvent(Node n, boolean deleted) {
        if (n == null || n.getMetadata() == null || !nodeName.equals(n.getMetadata().getName())) {
            return;
        }
        if (!deleted) {
            // A deleted Node keeps its last zone: selection should not change while the node drains.
            Map<String, String> labels = n.getMetadata().getLabels();
            tracker.nodeChanged(new NodeInfo(nodeName, labels == null ? "" : labels.get(ZONE_LABEL)));
        }
        try {
            nodeListener.accept(n, deleted);
        } catch (RuntimeException e) {
            log.warn("node listener failed: {}", e.toString());
        }
    }

    private static <T> ResourceEventHandler<T> handler(Consumer<T> onChange) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                onChange.accept(obj);
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                onChange.accept(newObj);
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                onChange.accept(obj);
            }
        };
    }

    private static String keyOf(HasMetadata o) {
        return ServiceConverter.namespaceOf(o.getMetadata()) + "/" + o.getMetadata().getName();
    }

    /** "namespace/service" from the slice's kubernetes.io/service-name label, or null without one. */
    static String serviceKeyOf(EndpointSlice s) {
        Map<String, String> labels = s.getMetadata() == null ? null : s.getMetadata().getLabels();
        String name = labels == null ? null : labels.get(ServiceConverter.SERVICE_NAME_LABEL);
        if (name == null || name.isEmpty()) {
            return null;
        }
        return ServiceConverter.namespaceOf(s.getMetadata()) + "/" + name;
    }

    /** The slice's last-change-trigger-time in epoch millis, 0 when absent or malformed. */
    static long triggerTime(EndpointSlice s) {
        Map<String, String> a = s.getMetadata() == null ? null : s.getMetadata().getAnnotations();
        String v = a == null ? null : a.get(TRIGGER_TIME_ANNOTATION);
        if (v == null || v.isEmpty()) {
            return 0;
        }
        try {
            return OffsetDateTime.parse(v).toInstant().toEpochMilli();
        } catch (DateTimeParseException e) {
            log.debug("EndpointSlice {}: unparsable {}: {}", keyOf(s), TRIGGER_TIME_ANNOTATION, v);
            return 0;
        }
    }

    /** The informers' caches as the tracker reads them. */
    private final class InformerCache implements ClusterCache {
        @Override
        public boolean hasSynced() {
            return ClusterWatcher.this.hasSynced();
        }

        @Override
        public Service service(String key) {
            return services.getIndexer().getByKey(key);
        }

        @Override
        public List<EndpointSlice> slicesOf(String serviceKey) {
            return slices.getIndexer().byIndex(BY_SERVICE, serviceKey);
        }

        @Override
        public Collection<String> serviceKeys() {
            return services.getIndexer().listKeys();
        }
    }
}
