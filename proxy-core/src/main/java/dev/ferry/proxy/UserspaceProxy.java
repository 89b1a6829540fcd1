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
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
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
    private final Set<FrontendKey> failedBinds = new HashSet<>();
    private final ProxyBounds bounds;
    private final AcceptErrors acceptErrors;
    /** The Service (namespace/name) of each frontend listened on, for the per-Service share of the budget. */
    private final Map<FrontendKey, String> listenerServices = new HashMap<>();
    /** Frontends not listened on because of the listener budget, with their Service. */
    private volatile Map<FrontendKey, String> budgetRefused = Map.of();
    /** Event loops of the worker group: the listening sockets one native TCP frontend takes. */
    private int loops = 1;
    private volatile int listening;
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    /** Where UDP frontends and their flows run: the worker group, or an epoll group when TCP runs on io_uring. */
    private Transport udpTransport;
    private EventLoopGroup udpGroup;
    private final LoopBalance udpBalance = new LoopBalance();
    private final LoopBalance balance = new LoopBalance();
    private ServiceInterface serviceInterface;
    private long seenGeneration = -1;
    private boolean started;

    public UserspaceProxy(ServiceTableReader reader, ProxyOptions options) {
        this.reader = reader;
        this.options = options;
        this.transport = Transport.pick(options.transport());
        this.router = new Router(reader, options.defaultAlgorithm(), options.conntrack());
        this.bounds = new ProxyBounds(options.limits());
        this.acceptErrors = new AcceptErrors(bounds);
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
        }
        if (!transport.isNative()) {
            bossGroup = transport.newGroup(1, "ferry-accept");
        }
        workerGroup = transport.newGroup(options.ioThreads(), "ferry-io", balance);
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
     * Brings listeners and routing state in line with the table. Cheap when the table's generation
     * did not change. Call after each sync, from the writer thread.
     */
    public void onTableChanged() {
        long gen = reader.generation();
        if (gen == seenGeneration && failedBinds.isEmpty()) {
            return;
        }
        seenGeneration = gen;
        router.refresh();
        Set<InetAddress> frontendAddresses = new HashSet<>();
        Map<FrontendKey, String> services = new HashMap<>();
        Set<FrontendKey> wanted = wantedFrontends(frontendAddresses, services);
        if (serviceInterface != null) {
            // Every service address is held, with or without endpoints, so that the kernel answers a
            // frontend without a listener with a RST (connection refused) instead of a routing error.
            Set<InetAddress> addresses = new HashSet<>();
            Set<InetAddress> nodeAddresses = new HashSet<>(options.nodePortAddresses());
            for (InetAddress a : frontendAddresses) {
                if (!nodeAddresses.contains(a) && (serviceInterface.holds(a) || !isLocal(a))) {
                    addresses.add(a);
                }
            }
            try {
                serviceInterface.sync(addresses);
            } catch (IOException e) {
                LOG.warn("cannot sync service addresses on {}: {}", serviceInterface.name(), e.getMessage());
            }
        }
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
        failedBinds.retainAll(wanted);
        List<List<ChannelFuture>> binding = new ArrayList<>();
        List<FrontendKey> keys = admitted(wanted, services);
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
                listenerServices.put(k, services.get(k));
                failedBinds.remove(k);
                opened++;
            } else {
                channels.forEach(Channel::close);
                if (failedBinds.add(k)) {
                    LOG.warn("cannot listen on {}: {}", k, cause.toString());
                }
            }
        }
        listening = listeners.size();
        int sockets = 0;
        for (List<Channel> cs : listeners.values()) {
            sockets += cs.size();
        }
        bounds.listenerSockets(sockets);
        if (opened > 0 || closed > 0) {
            LOG.info("table generation {}: {} listeners opened, {} closed, {} listening", gen, opened, closed,
                    listening);
        }
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

    private static boolean isLocal(InetAddress a) {
        try {
            return a.isLoopbackAddress() || NetworkInterface.getByInetAddress(a) != null;
        } catch (SocketException e) {
            return false;
        }
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
            for (int f = 0, n = v.frontendCount(); f < n; f++) {
                if (v.frontendKind(f) != FrontendKind.NODE_PORT) {
                    addresses.add(v.frontendAddress(f));
                }
                if (!anyUsable(v, f)) {
                    continue;
                }
                String service = v.namespace() + "/" + v.name();
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
                    .handler(new UdpFrontendHandler(router, k, options, udpTransport,
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
    @Override
    public void close() {
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
