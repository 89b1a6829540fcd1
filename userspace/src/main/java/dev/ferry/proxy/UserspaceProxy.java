package dev.ferry.proxy;

import dev.ferry.model.FrontendKind;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ferry's userspace L4 proxy ({@code ferry run --mode userspace}): serves every frontend of every
 * service port in the table — ClusterIPs, externalIPs and LoadBalancer IPs on their address, NodePorts
 * on the configured node addresses — over TCP and UDP with Netty (io_uring or epoll on Linux, NIO elsewhere).
 *
 * <p>Usage:
 * <pre>{@code
 * UserspaceProxy proxy = new UserspaceProxy(table.reader(), ProxyOptions.defaults().withConntrack(state));
 * proxy.start();                 // opens listeners for what the table holds now
 * ... after each table sync, on the writer thread: proxy.onTableChanged();
 * proxy.metrics();               // per service port counters
 * proxy.close();
 * }</pre>
 *
 * <p>A frontend listens while at least one endpoint is usable from it; with none, its listener is
 * closed and the kernel refuses new connections at once (an accepted one that races the change is
 * reset). Listeners open and close as the table changes; connections already relayed are never
 * touched by a change. Only endpoint addresses from the table are ever connected to.
 *
 * <p>What clients and Services can make it hold is bounded ({@link ProxyLimits}, counted in
 * {@link #bounds()}): UDP flows, TCP connections, and listening sockets. Frontends the listener
 * budget cannot hold are not listened on (smaller Services first; no Service beyond half of the
 * budget, so one Service with thousands of ports cannot starve the others) and are named by
 * {@link #refusedListeners()}; listeners already open are never closed for the budget.
 *
 * <p>Threads: {@link #start()}, {@link #onTableChanged()} and {@link #close()} are called from one
 * thread (the table writer); {@link #metrics()} and the getters from any thread.
 */
public final class UserspaceProxy implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UserspaceProxy.class);

    private final ServiceTableReader reader;
    private final ProxyOptions options;
    private final Transport transport;
    private final Router router;
    /** The listening sockets of each frontend: one per event loop with SO_REUSEPORT on a native transport, else one. */
    private final Map<FrontendKey, List<Channel>> listeners = new HashMap<>();
    /** Frontends whose listener could not be opened, with why; retried by {@link #reconcile()}. */
    private final Map<FrontendKey, String> failedBinds = new HashMap<>();
    /** The service addresses of the last table walk, for {@link #reconcile()}; writer thread only. */
    private Set<InetAddress> serviceAddresses = Set.of();
    /**
     * Addresses a previous run left on the service interface: kept while the table is still the
     * fresh, empty one of this start (the source has not written yet), so a restart never takes a
     * ClusterIP away only to put it back a moment later. Writer thread only.
     */
    private Set<InetAddress> adopted = Set.of();
    private long startGeneration;
    /** Health: why listeners or addresses are not what the table asks for, null when they are. */
    private volatile String listenFailure;
    private volatile String addressFailure;
    private final java.util.concurrent.atomic.AtomicLong addressesRestored = new java.util.concurrent.atomic.AtomicLong();
    private final ProxyBounds bounds;
    private final AcceptErrors acceptErrors;
    /** The Service (namespace/name) of each frontend listened on, for the per-Service share of the budget. */
    private final Map<FrontendKey, String> listenerServices = new HashMap<>();
    /** The Service of each frontend the last table walk wanted; writer thread only. */
    private Map<FrontendKey, String> frontendServices = Map.of();
    /** Frontends not listened on because of the listener budget, with their Service. */
    private volatile Map<FrontendKey, String> budgetRefused = Map.of();
    /** Event loops of the worker group: the listening sockets one native TCP frontend takes. */
    private int loops = 1;
    private volatile int listening;
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    private final LoopBalance balance = new LoopBalance();
    /** Where UDP frontends and their flows run: the worker group, or an epoll group when TCP runs on io_uring. */
    private Transport udpTransport;
    private EventLoopGroup udpGroup;
    private final LoopBalance udpBalance = new LoopBalance();
    private ServiceInterface serviceInterface;
    private long seenGeneration = -1;
    private boolean started;
    private ProxyWarmup warmup;

    public UserspaceProxy(ServiceTableReader reader, ProxyOptions options) {
        this.reader = reader;
        this.options = options;
        this.transport = Transport.pick(options.transport());
        this.router = new Router(reader, options.defaultAlgorithm(), options.conntrack(), options.nodePortAddresses());
        this.router.onSkipped(UserspaceProxy::logSkip);
        this.bounds = new ProxyBounds(options.limits());
        this.acceptErrors = new AcceptErrors(bounds);
    }

    private static void logSkip(String servicePort, String why) {
        LOG.warn("{} skipped, its backends cannot be built (the other services are served): {}", servicePort, why);
    }

    /**
     * Starts the event loops, creates the service interface when configured (failing when it
     * cannot be created) and opens the listeners for the current table.
     */
    public void start() throws IOException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        LOG.info("userspace proxy on {} transport ({})", transport.name(), transport.why());
        if (options.serviceInterface() != null) {
            serviceInterface = ServiceInterface.create(options.serviceInterface());
            adopted = serviceInterface.held();
            startGeneration = reader.generation();
        }
        if (!transport.isNative()) {
            bossGroup = transport.newGroup(1, "ferry-accept");
        }
        workerGroup = transport.newGroup(eventLoops(options), "ferry-io", balance);
        loops = 0;
        workerGroup.forEach(e -> loops++);
        udpTransport = transport.forUdp();
        if (udpTransport == transport) {
            udpGroup = workerGroup;
        } else {
            udpGroup = udpTransport.newGroup(Math.max(1, loops / 2), "ferry-udp", udpBalance);
            LOG.info("UDP on {} ({})", udpTransport.name(), udpTransport.why());
        }
        ProxyLimits l = options.limits();
        LOG.info("userspace proxy limits: {} UDP flows ({} per client and frontend), {} TCP connections, {} listening"
                + " sockets (file descriptor limit {})", l.udpFlows(), l.udpFlowsPerClient(), l.connections(),
                l.listenerSockets(), ProxyLimits.fdLimit());
        onTableChanged();
    }

    /**
     * Event loops for {@code options}: its ioThreads, or when 0 {@code -Dio.netty.eventLoopThreads}, else
     * one per core. Not Netty's default of
     * two per core: on a 2-core node four loops compete with each other and with the JIT compiler,
     * and a cold daemon served 141-214 short connections/s in its first 3 s against 722-1891/s with
     * two loops, 250-400 µs CPU per connection warm against 310-400 (A/B, benchmarks/RESULTS.md, issue 18).
     */
    static int eventLoops(ProxyOptions options) {
        if (options.ioThreads() > 0) {
            return options.ioThreads();
        }
        // Netty's own property still overrides it, for measurements and operators who set it.
        int n = Integer.getInteger("io.netty.eventLoopThreads", 0);
        return n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }

    /** Event loops relaying TCP (and UDP, unless UDP runs on a transport of its own). */
    int eventLoopCount() {
        return loops;
    }

    /** The transport in use ("io_uring", "epoll" or "nio"). */
    public String transport() {
        return transport.name();
    }

    /** The service interface ("dummy"/"bridge"/"existing" kind), or null when none is used. */
    public ServiceInterface serviceInterface() {
        return serviceInterface;
    }

    /** How many sockets are listening (TCP and UDP). */
    public int listenerCount() {
        return listening;
    }

    /**
     * Brings listeners, service addresses and routing state in line with the table. Cheap when the
     * table's generation did not change. Call after each sync, from the writer thread.
     *
     * @return whether a new generation was taken in (false: nothing changed since the last call)
     */
    public boolean onTableChanged() {
        long gen = reader.generation();
        if (gen == seenGeneration) {
            return false;
        }
        seenGeneration = gen;
        router.refresh();
        Set<InetAddress> frontendAddresses = new HashSet<>();
        Map<FrontendKey, String> services = new HashMap<>();
        Set<FrontendKey> wanted = wantedFrontends(frontendAddresses, services);
        frontendServices = services;
        // Every service address is held, with or without endpoints, so that the kernel answers a
        // frontend without a listener with a RST (connection refused) instead of a routing error.
        frontendAddresses.removeAll(options.nodePortAddresses());
        serviceAddresses = frontendAddresses;
        syncAddresses();
        List<ChannelFuture> closing = new ArrayList<>();
        int closed = 0;
        for (var it = listeners.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!wanted.contains(e.getKey())) {
                for (Channel c : e.getValue()) {
                    closing.add(c.close()); // the listening sockets only: accepted connections live on
                }
                it.remove();
                listenerServices.remove(e.getKey());
                closed++;
            }
        }
        for (ChannelFuture f : closing) {
            // Wait, so that once this returns a removed frontend is refused by the kernel, not accepted and reset.
            f.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        failedBinds.keySet().retainAll(wanted);
        int opened = bindAll(admitted(wanted, services));
        listening = listeners.size();
        if (opened > 0 || closed > 0) {
            LOG.info("table generation {}: {} listeners opened, {} closed, {} listening", gen, opened, closed,
                    listening);
        }
        return true;
    }

    /**
     * Brings what the table asked for back in line with the kernel, for what can change without
     * the table changing: puts back service addresses that went from the service interface (an
     * {@code ip addr flush}, a deleted link) and retries listeners that could not be opened (e.g.
     * while their address was missing). When all is in place it costs two {@code ip -o} calls and
     * changes nothing. Call periodically and on netlink events of the interface, from the writer thread.
     */
    public void reconcile() {
        if (!started || workerGroup == null || workerGroup.isShuttingDown()) {
            return;
        }
        syncAddresses();
        if (!failedBinds.isEmpty()) {
            int opened = bindAll(new ArrayList<>(failedBinds.keySet()));
            listening = listeners.size();
            if (opened > 0) {
                LOG.info("{} listeners opened on retry, {} listening, {} still failing", opened, listening,
                        failedBinds.size());
            }
        }
    }

    private void syncAddresses() {
        if (serviceInterface == null) {
            return;
        }
        Set<InetAddress> wanted = serviceAddresses;
        if (!adopted.isEmpty()) {
            if (reader.generation() == startGeneration && reader.servicePortCount() == 0) {
                wanted = new HashSet<>(serviceAddresses);
                wanted.addAll(adopted);
            } else {
                adopted = Set.of();
            }
        }
        String failure;
        try {
            ServiceInterface.Synced r = serviceInterface.sync(wanted);
            if (!r.restored().isEmpty() || r.relinked()) {
                addressesRestored.addAndGet(r.restored().size());
                LOG.warn("{} service addresses had gone from {}{}; put back: {}", r.restored().size(),
                        serviceInterface.name(), r.relinked() ? " (the link was deleted)" : "", sample(r.restored()));
            }
            failure = r.missing().isEmpty() ? null : r.missing().size() + " service addresses missing from "
                    + serviceInterface.name() + " (" + sample(r.missing()) + "): " + r.error();
        } catch (IOException | RuntimeException e) {
            failure = "cannot check or set the service addresses on " + serviceInterface.name() + ": " + e.getMessage();
        }
        // Logged when it changes, not at every check (once a second while it lasts).
        if (failure != null && !failure.equals(addressFailure)) {
            LOG.warn("{}", failure);
        } else if (failure == null && addressFailure != null) {
            LOG.info("every service address is on {} again", serviceInterface.name());
        }
        addressFailure = failure;
    }

    private static String sample(Collection<?> items) {
        StringBuilder b = new StringBuilder();
        int n = 0;
        for (Object o : items) {
            if (n == 3) {
                return b.append(" and ").append(items.size() - n).append(" more").toString();
            }
            b.append(n++ == 0 ? "" : ", ").append(o instanceof InetAddress a ? a.getHostAddress() : o);
        }
        return b.toString();
    }

    /** Opens the listeners of {@code keys}; records each failure with its cause. Returns how many opened. */
    private int bindAll(List<FrontendKey> keys) {
        List<List<ChannelFuture>> binding = new ArrayList<>();
        for (FrontendKey k : keys) {
            binding.add(bind(k));
        }
        int opened = 0;
        for (int i = 0; i < binding.size(); i++) {
            FrontendKey k = keys.get(i);
            List<Channel> channels = new ArrayList<>();
            Throwable cause = null;
            for (ChannelFuture f : binding.get(i)) {
                if (f.awaitUninterruptibly(5, TimeUnit.SECONDS) && f.isSuccess()) {
                    channels.add(f.channel());
                } else {
                    cause = f.cause() == null ? new java.util.concurrent.TimeoutException("bind timed out") : f.cause();
                    f.channel().close();
                }
            }
            if (cause == null) {
                listeners.put(k, channels);
                listenerServices.put(k, frontendServices.get(k));
                if (failedBinds.remove(k) != null) {
                    LOG.info("listening on {} now", k);
                }
                opened++;
            } else {
                channels.forEach(Channel::close);
                String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
                if (failedBinds.put(k, why) == null) {
                    LOG.warn("cannot listen on {}: {} (retried every second)", k, why);
                }
            }
        }
        listenFailure = failedBinds.isEmpty() ? null : describeFailedBinds();
        int sockets = 0;
        for (List<Channel> cs : listeners.values()) {
            sockets += cs.size();
        }
        bounds.listenerSockets(sockets);
        return opened;
    }

    /** Listening sockets one frontend takes: one per event loop for TCP on a native transport, else one. */
    private int socketsFor(FrontendKey k) {
        return k.protocol == Protocol.TCP && transport.isNative() ? loops : 1;
    }

    private static final java.util.Comparator<FrontendKey> FRONTEND_ORDER = java.util.Comparator
            .<FrontendKey>comparingInt(k -> k.family).thenComparingLong(k -> k.hi).thenComparingLong(k -> k.lo)
            .thenComparingInt(k -> k.port).thenComparing(k -> k.protocol).thenComparing(k -> k.nodePort);

    /**
     * The wanted frontends not listened on yet that the listener budget can hold, in the order to
     * bind them; records the others in {@link #budgetRefused} and counts the newly refused ones.
     * Services with fewer frontends go first (then by name, address and port), and no Service gets
     * more than half of the budget unless it is its first frontend: a Service with 65 535 ports gets
     * its lowest ports served and leaves room for every other Service.
     */
    private List<FrontendKey> admitted(Set<FrontendKey> wanted, Map<FrontendKey, String> services) {
        int budget = options.limits().listenerSockets();
        int perService = budget - budget / 2;
        int inUse = 0;
        Map<String, Integer> byService = new HashMap<>();
        for (var e : listeners.entrySet()) {
            inUse += e.getValue().size();
            byService.merge(listenerServices.getOrDefault(e.getKey(), ""), e.getValue().size(), Integer::sum);
        }
        Map<String, Integer> wantedPerService = new HashMap<>();
        List<FrontendKey> fresh = new ArrayList<>();
        for (FrontendKey k : wanted) {
            wantedPerService.merge(services.getOrDefault(k, ""), 1, Integer::sum);
            if (!listeners.containsKey(k)) {
                fresh.add(k);
            }
        }
        fresh.sort(java.util.Comparator.<FrontendKey>comparingInt(k -> wantedPerService.get(services.getOrDefault(k, "")))
                .thenComparing(k -> services.getOrDefault(k, "")).thenComparing(FRONTEND_ORDER));
        List<FrontendKey> out = new ArrayList<>();
        Map<FrontendKey, String> refused = new java.util.LinkedHashMap<>();
        Map<FrontendKey, String> before = budgetRefused;
        int newlyRefused = 0;
        for (FrontendKey k : fresh) {
            String svc = services.getOrDefault(k, "");
            int need = socketsFor(k);
            int held = byService.getOrDefault(svc, 0);
            if (inUse + need > budget || (held > 0 && held + need > perService)) {
                refused.put(k, svc);
                if (!before.containsKey(k)) {
                    newlyRefused++;
                }
                continue;
            }
            inUse += need;
            byService.put(svc, held + need);
            out.add(k);
        }
        budgetRefused = java.util.Collections.unmodifiableMap(refused);
        if (newlyRefused > 0) {
            var first = refused.entrySet().iterator().next();
            bounds.refused(ProxyBounds.Refusal.LISTENERS, newlyRefused,
                    "listener budget of {} sockets ({} in use, at most {} per Service): {} frontends not listened on,"
                    + " e.g. {} of {}; raise the descriptor limit or --proxy-max-listeners", budget, inUse, perService,
                    refused.size(), first.getKey(), first.getValue());
        }
        return out;
    }

    /**
     * Frontends not listened on because the listener budget is spent, as "SERVICE: FRONTEND"
     * (e.g. {@code default/big: TCP 10.96.0.5:8080}), in the order they were considered.
     */
    public List<String> refusedListeners() {
        List<String> out = new ArrayList<>();
        budgetRefused.forEach((k, svc) -> out.add(svc + ": " + k));
        return out;
    }

    /** Every listening socket (tests fire events into their pipelines). */
    List<Channel> listenerChannels() {
        List<Channel> out = new ArrayList<>();
        listeners.values().forEach(out::addAll);
        return out;
    }

    /** The proxy's bounds: limits, what is in use, refusals and evictions. */
    public ProxyBounds bounds() {
        return bounds;
    }

    private String describeFailedBinds() {
        var first = failedBinds.entrySet().iterator().next();
        return "cannot listen on " + failedBinds.size() + " frontends, e.g. " + first.getKey() + ": " + first.getValue();
    }

    /** Why some frontend has no listener although the table asks for one, or null when every one listens. */
    public String listenFailure() {
        return listenFailure;
    }

    /** Why some service address is missing from the service interface, or null when all are there. */
    public String addressFailure() {
        return addressFailure;
    }

    /** Service addresses put back on the service interface after they had gone from the kernel. */
    public long addressesRestored() {
        return addressesRestored.get();
    }

    /** Whether a listener or a service address is failing now (what {@link #reconcile()} retries). */
    public boolean failing() {
        return listenFailure != null || addressFailure != null;
    }

    /** Frontends without a listener now because opening it failed. */
    public int failedListeners() {
        return failedBinds.size();
    }

    /** Service ports skipped because their routing state could not be built, with the reason ("ns/name:port/PROTO" → why). */
    public Map<String, String> skippedServicePorts() {
        return router.skipped();
    }

    /** Times a service port's routing state could not be built (each bad record counts once). */
    public long skipCount() {
        return router.skipCount();
    }

    /**
     * Called on the writer thread with ("ns/name:port/PROTO", reason) when a service port is
     * skipped because its routing state cannot be built, once per version of its record.
     */
    public void onSkipped(java.util.function.BiConsumer<String, String> listener) {
        router.onSkipped((servicePort, why) -> {
            logSkip(servicePort, why);
            listener.accept(servicePort, why);
        });
    }

    /**
     * Every socket the table asks for: frontends with at least one endpoint usable from them. Adds
     * every frontend address (with or without endpoints) to {@code addresses}.
     */
    private Set<FrontendKey> wantedFrontends(Set<InetAddress> addresses, Map<FrontendKey, String> services) {
        Set<FrontendKey> wanted = new HashSet<>();
        reader.forEach(new ServicePortView(), v -> {
            Protocol p = v.protocol();
            if (p != Protocol.TCP && p != Protocol.UDP) {
                return; // SCTP is not proxied in userspace
            }
            // A service port whose routing state could not be built keeps its address (refused, not
            // unreachable) but gets no listener; the others are not held up by it.
            boolean skipped = router.isSkipped(v.stamp());
            String service = v.namespace() + "/" + v.name();
            for (int f = 0, n = v.frontendCount(); f < n; f++) {
                if (v.frontendKind(f) != FrontendKind.NODE_PORT) {
                    addresses.add(v.frontendAddress(f));
                }
                if (skipped || !anyUsable(v, f)) {
                    continue;
                }
                if (v.frontendKind(f) == FrontendKind.NODE_PORT) {
                    for (InetAddress a : options.nodePortAddresses()) {
                        FrontendKey k = new FrontendKey(p, a, v.frontendPort(f), true);
                        wanted.add(k);
                        services.put(k, service);
                    }
                } else {
                    FrontendKey k = new FrontendKey(p, v.frontendAddress(f), v.frontendPort(f), false);
                    wanted.add(k);
                    services.put(k, service);
                }
            }
        });
        return wanted;
    }

    private static boolean anyUsable(ServicePortView v, int frontend) {
        for (int i = 0, n = v.endpointCount(); i < n; i++) {
            if (v.endpointUsableFrom(i, frontend)) {
                return true;
            }
        }
        return false;
    }

    private List<ChannelFuture> bind(FrontendKey k) {
        if (k.protocol == Protocol.UDP) {
            return List.of(new Bootstrap()
                    .group(udpGroup)
                    .channel(udpTransport.datagramChannel())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .handler(new UdpFrontendHandler(router, k, options,
                            new ReflectiveChannelFactory<>(udpTransport.datagramChannel()),
                            udpGroup == workerGroup ? balance : udpBalance, bounds))
                    .bind(k.socketAddress));
        }
        if (!transport.isNative()) {
            return List.of(serverBootstrap(k, bossGroup, workerGroup).bind(k.socketAddress));
        }
        // One listener per event loop on the same address (SO_REUSEPORT): the kernel spreads new
        // connections and each loop accepts and relays its own, handing one off only when it is
        // clearly busier than another (LoopBalance).
        List<ChannelFuture> out = new ArrayList<>();
        for (io.netty.util.concurrent.EventExecutor e : workerGroup) {
            io.netty.channel.EventLoop loop = (io.netty.channel.EventLoop) e;
            out.add(serverBootstrap(k, loop, workerGroup).option(io.netty.channel.unix.UnixChannelOption.SO_REUSEPORT, true)
                    .bind(k.socketAddress));
        }
        return out;
    }

    private ServerBootstrap serverBootstrap(FrontendKey k, EventLoopGroup parent, EventLoopGroup child) {
        return tcpServer(k, parent, child, router, bounds);
    }

    /** A TCP listener of frontend {@code k} relaying to {@code router}'s backends (the warm-up uses its own router). */
    ServerBootstrap tcpServer(FrontendKey k, EventLoopGroup parent, Router router, ProxyBounds bounds) {
        return tcpServer(k, parent, workerGroup, router, bounds);
    }

    private ServerBootstrap tcpServer(FrontendKey k, EventLoopGroup parent, EventLoopGroup child, Router router,
                                      ProxyBounds bounds) {
        // TCP_NODELAY is not set here: Netty's socket channels turn it on when created, and setting
        // it again would cost a setsockopt per connection. The idle timeout is kept by the frontend
        // handler (one timer per connection, no listener per write as IdleStateHandler adds).
        return new ServerBootstrap()
                .group(parent, child)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(acceptErrors)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, RelayBuffers.reads())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new TcpFrontendHandler(router, k, options, transport, balance, bounds));
                    }
                });
    }

    /** Counters per service port seen since start (cold path: allocates). */
    public List<ServicePortStats> metrics() {
        List<ServicePortStats> out = new ArrayList<>();
        for (ServicePortMetrics m : router.metrics().values()) {
            out.add(m.snapshot());
        }
        out.sort((a, b) -> a.servicePort().compareTo(b.servicePort()));
        return out;
    }

    /** The counters of one service port ("namespace/name:port/PROTOCOL", the port name when it has one), or null. */
    public ServicePortStats metrics(String servicePort) {
        ServicePortMetrics m = router.metrics().get(servicePort);
        return m == null ? null : m.snapshot();
    }

    /** A copy of the backend connect latency distribution of all service ports, in microseconds. */
    public org.HdrHistogram.Histogram connectLatency() {
        return router.connectLatency().copy();
    }

    /** The addresses being listened on, for logs and tests. */
    public Collection<String> listenerNames() {
        List<String> out = new ArrayList<>();
        listeners.keySet().forEach(k -> out.add(k.toString()));
        return out;
    }

    /**
     * Closes listeners and every relayed connection, and stops the event loops. The service
     * interface stays (a restarted daemon reuses it); {@link ServiceInterface#cleanup} removes it.
     */
    /**
     * Warms the TCP relay path up (see {@link ProxyWarmup}): up to {@code connections} short
     * connections through the proxy's own handlers on loopback, within {@code budget}, on a thread of
     * its own. Returns at once: the listeners opened by {@link #start()} serve meanwhile. At most one
     * warm-up per proxy; {@link #close()} stops it.
     */
    public void warmUp(int connections, java.time.Duration budget) {
        if (!started || warmup != null || connections <= 0) {
            return;
        }
        warmup = ProxyWarmup.start(this, workerGroup, connections, budget.toMillis());
    }

    /** The warm-up started by {@link #warmUp}, or null. */
    ProxyWarmup warmup() {
        return warmup;
    }

    ProxyOptions options() {
        return options;
    }

    @Override
    public void close() {
        if (warmup != null) {
            warmup.close();
        }
        // Wait for the listeners to be closed before the loops stop: io_uring closes a listening
        // socket only once its pending accept is cancelled on the loop, and a loop that terminated
        // first leaves the socket open, still taking SO_REUSEPORT connections nobody accepts.
        List<ChannelFuture> closing = new ArrayList<>();
        for (List<Channel> cs : listeners.values()) {
            for (Channel c : cs) {
                closing.add(c.close());
            }
        }
        for (ChannelFuture f : closing) {
            f.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        listeners.clear();
        listenerServices.clear();
        listening = 0;
        if (bossGroup != null) {
            bossGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        if (udpGroup != null && udpGroup != workerGroup) {
            udpGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }
}
