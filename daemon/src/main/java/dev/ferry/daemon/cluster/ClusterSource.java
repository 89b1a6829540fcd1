package dev.ferry.daemon.cluster;

import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.model.Cidr;
import dev.ferry.watch.ClusterWatcher;
import dev.ferry.watch.ServiceCidrWatch;
import dev.ferry.watch.SyncPeriods;
import dev.ferry.watch.TableSink;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import dev.ferry.daemon.plane.PrimaryNodeIps;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kubernetes API as `ferry run`'s source: a fabric8 client from a kubeconfig file or, in a pod,
 * the in-cluster config, and a {@link ClusterWatcher} writing through the daemon's table sink with
 * the config's minSyncPeriod/syncPeriod. Reports the tracker's pending changes to the proxier health
 * and its counters to the metrics. Start once, close once, from one thread.
 */
public final class ClusterSource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterSource.class);

    private final KubernetesClient client;
    private final ClusterWatcher watcher;
    private final String origin;
    private final String nodeName;
    private final ProxierHealth health;
    private final EventRecorder events;
    private final String mode;
    private final ProxyMetrics metrics;
    private java.util.function.Consumer<List<Cidr>> serviceCidrListener;
    private ServiceCidrWatch serviceCidrs;

    private ClusterSource(KubernetesClient client, ClusterWatcher watcher, String origin, String nodeName,
                          ProxierHealth health, EventRecorder events, String mode, ProxyMetrics metrics) {
        this.client = client;
        this.watcher = watcher;
        this.origin = origin;
        this.nodeName = nodeName;
        this.health = health;
        this.events = events;
        this.mode = mode;
        this.metrics = metrics;
    }

    /**
     * Where the API is: {@code kubeconfig} when given (the flag, else the config's
     * clientConnection.kubeconfig), else the in-cluster config when {@code KUBERNETES_SERVICE_HOST}
     * is set; null when neither (the caller reports the missing source).
     */
    public static Config apiConfig(String kubeconfig, Function<String, String> env) throws IOException {
        if (kubeconfig != null && !kubeconfig.isBlank()) {
            Path file = Path.of(kubeconfig);
            if (!Files.isReadable(file)) {
                throw new IOException("kubeconfig " + file + ": no such readable file");
            }
            try {
                return Config.fromKubeconfig(file.toFile());
            } catch (KubernetesClientException | IllegalArgumentException e) {
                throw new IOException("kubeconfig " + file + ": " + e.getMessage(), e);
            }
        }
        String host = env.apply("KUBERNETES_SERVICE_HOST");
        if (host == null || host.isBlank()) {
            return null;
        }
        // In-cluster only: never fall back to a ~/.kube/config that happens to be on the node.
        System.setProperty(Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY, "false");
        return Config.autoConfigure(null);
    }

    /**
     * kube-proxy's primary node IPs ({@link PrimaryNodeIps}) for {@code nodePortAddresses: [primary]}:
     * reads this node's Node object, waiting at most {@code wait} for it to exist (a node's proxy may
     * start before its Node is registered); empty when neither it nor bindAddress names an IP.
     */
    public static List<InetAddress> primaryNodeIps(Config api, String nodeName, InetAddress bindAddress, Duration wait)
            throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        try (KubernetesClient client = new KubernetesClientBuilder().withConfig(api).build()) {
            while (true) {
                try {
                    Node node = client.nodes().withName(nodeName).get();
                    List<InetAddress> ips = PrimaryNodeIps.of(bindAddress, node);
                    if (node != null && ips.size() > (bindAddress == null || bindAddress.isAnyLocalAddress() ? 0 : 1)) {
                        return ips;
                    }
                } catch (KubernetesClientException e) {
                    LOG.warn("reading Node {} for its primary IPs: {}", nodeName, e.getMessage());
                }
                if (System.nanoTime() >= deadline) {
                    return PrimaryNodeIps.of(bindAddress, null);
                }
                Thread.sleep(1000);
            }
        }
    }

    /** Builds the client and the watcher (nothing is contacted yet). */
    public static ClusterSource create(Config api, String origin, String nodeName, ProxyConfig config, TableSink sink,
                                       ProxierHealth health, ProxyMetrics metrics) {
        KubernetesClient client = new KubernetesClientBuilder().withConfig(api).build();
        try {
            ClusterWatcher watcher = new ClusterWatcher(client, nodeName,
                    new SyncPeriods(config.minSyncPeriod(), config.syncPeriod()), sink);
            EventRecorder events = new EventRecorder(client, nodeName);
            // The tracker has logged and counted the rejection; the Event puts it where the object's owner looks.
            watcher.onRejection(r -> events.record(
                    EventRecorder.object(r.kind(), r.namespace(), r.name(), watcher.uidOf(r.kind(), r.namespace(), r.name())),
                    EventRecorder.WARNING, r.reason().code(), "Skip", r.toString()));
            health.followPending(() -> watcher.stats().oldestPendingChangeMillis());
            metrics.clusterWatch(watcher.stats());
            String mode = config.mode() == null ? "" : config.mode().configName();
            return new ClusterSource(client, watcher, origin, nodeName, health, events, mode, metrics);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    public void start() {
        // /healthz's node eligibility (being deleted, or tainted for deletion by the autoscaler) reads
        // the whole Node from the watcher's own Node watch: one watch feeds the zone and the health.
        watcher.onNode((n, deleted) -> {
            if (deleted) {
                health.nodeDeleted();
            } else {
                health.syncNode(n);
            }
        });
        events.start();
        events.record(EventRecorder.node(nodeName), EventRecorder.NORMAL, "Starting", "StartFerry",
                mode.isEmpty() ? "Starting ferry." : "Starting ferry (" + mode + " mode).");
        watcher.start();
        if (serviceCidrListener != null) {
            ServiceCidrWatch w = new ServiceCidrWatch(client, serviceCidrListener);
            serviceCidrs = w;
            metrics.serviceCidrs(() -> w.cidrs().size(), w::droppedCidrs, w::invalidCidrs);
            w.start();
        }
        LOG.info("watching the API server at {} ({})", client.getMasterUrl(), origin);
    }

    /**
     * Follows the cluster's ServiceCIDR objects (as kube-proxy 1.32) from {@link #start()} on: the
     * listener gets the union of their ranges after the first list and after every change, on the
     * informer's thread; never called when the server does not serve them or RBAC forbids it
     * ({@link ServiceCidrWatch}). Call before start.
     */
    public void onServiceCidrs(java.util.function.Consumer<List<Cidr>> listener) {
        this.serviceCidrListener = listener;
    }

    /** The ServiceCIDR watch, null unless {@link #onServiceCidrs} was set and the source started. */
    public ServiceCidrWatch serviceCidrWatch() {
        return serviceCidrs;
    }

    public ClusterWatcher watcher() {
        return watcher;
    }

    /**
     * Posts kube-proxy's FailedToStartServiceHealthcheck Warning on the Service ({@code ns/name}) whose
     * health-check port could not be opened.
     */
    public void healthCheckFailed(String service, String message) {
        int slash = service.indexOf('/');
        String namespace = service.substring(0, slash);
        String name = service.substring(slash + 1);
        events.record(EventRecorder.object("Service", namespace, name, watcher.uidOf("Service", namespace, name)),
                EventRecorder.WARNING, "FailedToStartServiceHealthcheck", "Listen", message);
    }

    /**
     * Posts a Warning on the Service of {@code servicePort} ("ns/name:port/PROTOCOL") that the data
     * plane skips because its backends cannot be built; the other services are served.
     */
    public void servicePortSkipped(String servicePort, String why) {
        int slash = servicePort.indexOf('/');
        int colon = servicePort.indexOf(':', slash);
        String namespace = servicePort.substring(0, slash);
        String name = servicePort.substring(slash + 1, colon < 0 ? servicePort.length() : colon);
        events.record(EventRecorder.object("Service", namespace, name, watcher.uidOf("Service", namespace, name)),
                EventRecorder.WARNING, "FailedToProxyServicePort", "Skip", servicePort + ": " + why);
    }

    /** Stops watching; the table and any kernel rules stay as they are. */
    @Override
    public void close() {
        try {
            if (serviceCidrs != null) {
                serviceCidrs.close();
            }
            watcher.close();
        } finally {
            try {
                events.close();
            } finally {
                client.close();
            }
        }
    }
}
