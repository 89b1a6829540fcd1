package dev.ferry.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ferry.model.ServiceType;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kube-proxy's service health-check servers, for cloud load balancers in front of NodePorts: for
 * every LoadBalancer service with externalTrafficPolicy Local, HTTP on its healthCheckNodePort on the
 * node's addresses, answering 200 while this node has at least one local ready endpoint for it and
 * the daemon's own syncs are healthy, 503 otherwise, with kube-proxy's JSON body and headers.
 *
 * <p>{@link #sync()} is called by the table writer after every sync (and periodically, which also
 * retries ports that could not be bound); requests are answered on a small executor and read only a
 * concurrent map of counts, so a slow client never delays a sync. A port held by another process is
 * logged, counted and retried at the next sync; it never stops the others.
 */
public final class ServiceHealthServers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceHealthServers.class);

    private final ServiceTableReader table;
    private final String nodeName;
    private final List<InetAddress> bindAddresses;
    private final BooleanSupplier proxyHealthy;
    private final ExecutorService executor;
    private final Map<String, Instance> instances = new HashMap<>();
    private final Map<String, Integer> localEndpoints = new ConcurrentHashMap<>();
    private final AtomicLong bindFailures = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    /** Port by "ns/name" whose last bind failed and was reported; reported again only after it recovers or moves. */
    private final Map<String, Integer> failing = new HashMap<>();
    private volatile BiConsumer<String, String> bindFailureListener = (service, message) -> {};

    private record Instance(int port, List<HttpServer> servers) {}

    /**
     * @param bindAddresses the node addresses allowed by nodePortAddresses; empty means every address
     *     (0.0.0.0 and ::, as kube-proxy listens when nodePortAddresses matches all)
     * @param proxyHealthy the daemon's own health (kube-proxy's /healthz verdict)
     */
    public ServiceHealthServers(ServiceTableReader table, String nodeName, List<InetAddress> bindAddresses,
                                BooleanSupplier proxyHealthy) {
        this.table = Objects.requireNonNull(table);
        this.nodeName = nodeName == null ? "" : nodeName;
        this.bindAddresses = List.copyOf(bindAddresses);
        this.proxyHealthy = proxyHealthy;
        this.executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "ferry-service-health");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Called with ("ns/name", kube-proxy's message) when a service's health-check port cannot be opened,
     * once per service and port until it opens (each sync retries it), e.g. to post an Event.
     */
    public void onBindFailure(BiConsumer<String, String> listener) {
        this.bindFailureListener = Objects.requireNonNull(listener);
    }

    /** Opens, keeps or closes servers so that they match the table; updates every count. Writer thread only. */
    public synchronized void sync() {
        Map<String, Integer> wantedPorts = new HashMap<>();
        Map<String, Set<String>> localIps = new HashMap<>();
        ServicePortView v = new ServicePortView();
        table.forEach(v, view -> {
            if (view.type() != ServiceType.LOAD_BALANCER || view.externalTrafficPolicy() != TrafficPolicy.LOCAL
                    || view.healthCheckNodePort() == 0) {
                return;
            }
            String key = view.namespace() + "/" + view.name();
            wantedPorts.put(key, view.healthCheckNodePort());
            Set<String> ips = localIps.computeIfAbsent(key, k -> new HashSet<>());
            // kube-proxy counts distinct IPs of this node's ready endpoints over all the service's ports;
            // terminating endpoints do not count: the node should fail the check while it drains.
            for (int i = 0, n = view.endpointCount(); i < n; i++) {
                if (view.endpointReady(i) && nodeName.equals(view.endpointNodeName(i))) {
                    ips.add(view.endpointAddress(i).getHostAddress());
                }
            }
        });
        for (var it = instances.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            Integer port = wantedPorts.get(e.getKey());
            if (port == null || port != e.getValue().port()) {
                LOG.info("closing health check of {} on port {}", e.getKey(), e.getValue().port());
                e.getValue().servers().forEach(s -> s.stop(0));
                it.remove();
            }
        }
        localEndpoints.keySet().retainAll(wantedPorts.keySet());
        failing.entrySet().removeIf(e -> !e.getValue().equals(wantedPorts.get(e.getKey())));
        for (var e : wantedPorts.entrySet()) {
            localEndpoints.put(e.getKey(), localIps.getOrDefault(e.getKey(), Set.of()).size());
            if (!instances.containsKey(e.getKey())) {
                open(e.getKey(), e.getValue());
            }
        }
    }

    private void open(String service, int port) {
        List<InetAddress> addresses = bindAddresses.isEmpty() ? List.of(anyV4()) : bindAddresses;
        List<HttpServer> servers = new ArrayList<>();
        try {
            for (InetAddress a : addresses) {
                HttpServer s = HttpServer.create(new InetSocketAddress(a, port), 64);
                s.setExecutor(executor);
                s.createContext("/", ex -> answer(service, ex));
                s.start();
                servers.add(s);
            }
            instances.put(service, new Instance(port, List.copyOf(servers)));
            failing.remove(service);
            LOG.info("health check of {} listening on port {}", service, port);
        } catch (IOException e) {
            servers.forEach(s -> s.stop(0));
            bindFailures.incrementAndGet();
            LOG.warn("FailedToStartServiceHealthcheck: {} on port {}: {} (retrying at the next sync)", service, port,
                    e.getMessage());
            Integer reported = failing.put(service, port);
            if (reported == null || reported != port) {
                try {
                    bindFailureListener.accept(service, "node " + nodeName + " failed to start healthcheck \""
                            + service + "\" on port " + port + ": " + e.getMessage());
                } catch (RuntimeException listenerFailed) {
                    LOG.warn("health-check failure listener failed: {}", listenerFailed.toString());
                }
            }
        }
    }

    private static InetAddress anyV4() {
        return new InetSocketAddress(0).getAddress();
    }

    private void answer(String service, HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        try (ex) {
            Integer count = localEndpoints.get(service);
            int n = count == null ? 0 : count;
            boolean healthy = proxyHealthy.getAsBoolean();
            int slash = service.indexOf('/');
            String body = "{\n"
                    + "\t\"service\": {\n"
                    + "\t\t\"namespace\": \"" + service.substring(0, slash) + "\",\n"
                    + "\t\t\"name\": \"" + service.substring(slash + 1) + "\"\n"
                    + "\t},\n"
                    + "\t\"localEndpoints\": " + n + ",\n"
                    + "\t\"serviceProxyHealthy\": " + healthy + "\n"
                    + "}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            ex.getResponseHeaders().set("X-Load-Balancing-Endpoint-Weight", Integer.toString(n));
            ex.sendResponseHeaders(n != 0 && healthy ? 200 : 503, bytes.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(bytes);
            }
        }
    }

    /** Ports currently served, by "namespace/name". */
    public synchronized Map<String, Integer> servedPorts() {
        Map<String, Integer> out = new HashMap<>();
        instances.forEach((k, v) -> out.put(k, v.port()));
        return out;
    }

    /** Local ready endpoint count the servers report, by "namespace/name". */
    public Map<String, Integer> localEndpointCounts() {
        return Map.copyOf(localEndpoints);
    }

    public long bindFailures() {
        return bindFailures.get();
    }

    public long requests() {
        return requests.get();
    }

    @Override
    public synchronized void close() {
        instances.values().forEach(i -> i.servers().forEach(s -> s.stop(0)));
        instances.clear();
        executor.shutdownNow();
    }
}
