package dev.ferry.cli;

import dev.ferry.daemon.TableSync;

import dev.ferry.daemon.config.BindAddress;
import dev.ferry.daemon.config.ConfigException;
import dev.ferry.daemon.config.GoDuration;
import dev.ferry.daemon.config.KubeProxyConfigReader;
import dev.ferry.daemon.config.NodeName;
import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.config.ProxyMode;
import dev.ferry.daemon.cluster.ClusterSource;
import dev.ferry.daemon.plane.DataPlane;
import dev.ferry.daemon.plane.PrimaryNodeIps;
import dev.ferry.model.Cidr;
import dev.ferry.daemon.http.ProxierHealth;
import dev.ferry.daemon.http.ProxyMetrics;
import dev.ferry.daemon.http.StatusServers;
import dev.ferry.source.FileCluster;
import dev.ferry.table.TableChange;
import dev.ferry.table.TableMirror;
import dev.ferry.watch.ChangeTracker;
import dev.ferry.watch.SyncPeriods;
import dev.ferry.select.NodeInfo;
import dev.ferry.source.FileSource;
import dev.ferry.source.ManifestReader;
import dev.ferry.table.ServiceTable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ferry run`: the daemon. Reads its KubeProxyConfiguration (--config, overridden by flags), loads
 * services from a source into the off-heap table (endpoints selected for this node) and keeps them in
 * sync, serving /healthz and /livez (kube-proxy's meaning) and Prometheus /metrics, until
 * SIGTERM/SIGINT, which stops the sources and marks the table closed (the file stays, so `ferry dump`
 * can still show — as stale — what the daemon last served). Exit 2 for a bad config file or flag.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the Ferry daemon: watch a source of Services and EndpointSlices into the service table.")
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);
    /** How long `nodePortAddresses: [primary]` waits for this node's Node object at start-up. */
    private static final java.time.Duration PRIMARY_IP_WAIT = java.time.Duration.ofSeconds(30);
    /** How long `run --source` waits for the first table write after reading the file before it goes on (logging why). */
    private static final java.time.Duration FIRST_FILE_SYNC_WAIT = java.time.Duration.ofSeconds(30);

    static final class Source {
        @Option(names = "--source", paramLabel = "FILE",
                description = "A Kubernetes YAML file (multi-document or kind: List, as `kubectl get svc,endpointslices -A -o yaml` prints it), watched for changes.")
        Path file;

        @Option(names = "--demo",
                description = "Serve the embedded demo cluster (loopback addresses only) and start its backends: no Kubernetes and no root needed.")
        boolean demo;

        @Option(names = "--kubeconfig", paramLabel = "FILE",
                description = "Watch the Kubernetes API described by this kubeconfig (default: the config's clientConnection.kubeconfig; in a pod, the in-cluster config).")
        Path kubeconfig;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Source source;

    @Option(names = "--source-max-bytes", paramLabel = "SIZE", converter = ByteSize.class, defaultValue = "256M",
            description = "Refuse a --source file larger than this (bytes, or 64M, 1G; default ${DEFAULT-VALUE}): the last good table stays.")
    long sourceMaxBytes;

    @Option(names = "--config", paramLabel = "FILE",
            description = "A KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) YAML file, as kube-proxy's --config; flags override it.")
    Path configFile;

    @Option(names = "--node-name", paramLabel = "NAME",
            description = "This node's name (default: env NODE_NAME, else the config's hostnameOverride, else the host name).")
    String nodeName;

    @Option(names = "--mode", paramLabel = "MODE", converter = ModeFlag.class,
            description = "Data plane: userspace|iptables|nftables|ipvs|table-only; empty means iptables, as kube-proxy (--demo: userspace). Overrides the config's mode.")
    ProxyMode mode;

    @Option(names = "--iptables-backend", paramLabel = "BACKEND", defaultValue = "auto", converter = IptablesBackendFlag.class,
            description = "Which iptables binaries iptables mode runs: auto|legacy|nft|system. auto (default) uses the backend kubelet uses, found as kube-proxy's image finds it; system = the unsuffixed iptables-restore.")
    dev.ferry.rules.iptables.IptablesBackend iptablesBackend;

    @Option(names = "--proxy-transport", paramLabel = "TRANSPORT", defaultValue = "auto", converter = ProxyTransportFlag.class,
            description = "The userspace proxy's I/O: auto|io_uring|epoll|nio. auto (default) = io_uring where the kernel and"
                    + " seccomp allow it, else epoll (logged with the cause); epoll opts out of io_uring.")
    String proxyTransport;

    @Option(names = "--udp-max-flows", paramLabel = "N", converter = PositiveInt.class,
            description = "Userspace proxy: UDP flows (one backend socket each) at most; past it a new flow closes its"
                    + " frontend's least recently used one. Default: 12%% of the file descriptor limit, at most"
                    + " max(conntrack.maxPerCore x cores, conntrack.min).")
    Integer udpMaxFlows;

    @Option(names = "--udp-max-flows-per-client", paramLabel = "N", converter = PositiveInt.class,
            description = "Userspace proxy: UDP flows of one client address on one frontend; past it the client's least"
                    + " recently used flow is closed. Default: 1024 (or --udp-max-flows when lower).")
    Integer udpMaxFlowsPerClient;

    @Option(names = "--proxy-max-connections", paramLabel = "N", converter = PositiveInt.class,
            description = "Userspace proxy: TCP connections relayed at once; past it new ones are reset."
                    + " Default: 6%% of the file descriptor limit (two sockets each).")
    Integer proxyMaxConnections;

    @Option(names = "--proxy-max-listeners", paramLabel = "N", converter = PositiveInt.class,
            description = "Userspace proxy: listening sockets (a TCP frontend takes one per event loop); frontends past it"
                    + " are not served and are named in /healthz. Default: 25%% of the file descriptor limit.")
    Integer proxyMaxListeners;

    @Option(names = "--healthz-bind-address", paramLabel = "IP:PORT", converter = HealthzAddressFlag.class,
            description = "Serve /healthz and /livez here (default 0.0.0.0:10256; overrides healthzBindAddress).")
    BindAddress healthzBindAddress;

    @Option(names = "--metrics-bind-address", paramLabel = "IP:PORT", converter = MetricsAddressFlag.class,
            description = "Serve Prometheus /metrics here (default 127.0.0.1:10249; overrides metricsBindAddress).")
    BindAddress metricsBindAddress;

    @Option(names = "--dns-bind", paramLabel = "ADDR:PORT",
            description = "Serve the cluster's service DNS here (off by default; --demo serves it on 127.0.13.1:10053).")
    String dnsBind;

    @Option(names = "--dns-upstream", paramLabel = "ADDR:PORT", split = ",",
            description = "Resolvers for names outside the cluster domain (default: none, such queries are REFUSED).")
    List<String> dnsUpstreams = new ArrayList<>();

    @Option(names = "--dns-allow-cidr", paramLabel = "CIDR", split = ",",
            description = "Clients the DNS responder answers, besides loopback (default: clusterCIDR and this node's addresses); others get REFUSED.")
    List<String> dnsAllowCidrs = new ArrayList<>();

    @Option(names = "--cluster-domain", paramLabel = "DOMAIN", defaultValue = "cluster.local",
            description = "The zone the DNS responder is authoritative for (default: ${DEFAULT-VALUE}).")
    String clusterDomain;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the mapped tables live (default: /run/ferry, or a per-user temp dir without root; env FERRY_STATE_DIR).")
    Path stateDir;

    @Option(names = "--table-size", paramLabel = "SIZE", defaultValue = "1G", converter = ByteSize.class,
            description = "Address space of the mapped service table; sparse, only used pages cost memory (default: ${DEFAULT-VALUE}, under 2G).")
    long tableSize;

    @Option(names = "--service-cidr", paramLabel = "CIDR", split = ",", converter = CidrFlag.class,
            description = "Service (ClusterIP) ranges; nftables mode drops new connections to addresses in them that no"
                    + " service holds. With the API source the ranges of the cluster's ServiceCIDR objects are added to"
                    + " these (default: none besides those).")
    List<Cidr> serviceCidrs = new ArrayList<>();

    @Option(names = "--exit-after", paramLabel = "SECONDS", hidden = true,
            description = "Stop by itself after this many seconds (tests and demos with a bounded run time).")
    Long exitAfterSeconds;

    private final CountDownLatch stop = new CountDownLatch(1);
    /** SIGTERM exits within 10 s (kubelet's default grace is 30 s, but a hang must not last that long). */
    static final long SHUTDOWN_LIMIT_MILLIS = 9_000;
    private final ShutdownWatchdog watchdog = new ShutdownWatchdog(SHUTDOWN_LIMIT_MILLIS);

    @Override
    public Integer call() throws Exception {
        StartupProgress progress = StartupProgress.sinceJvmStart();
        progress.mark("main");
        ProxyConfig config = ProxyConfig.defaults();
        if (configFile != null) {
            try {
                KubeProxyConfigReader.Result r = KubeProxyConfigReader.read(configFile, mode);
                r.warnings().forEach(w -> LOG.warn("{}", w));
                config = r.config();
            } catch (ConfigException e) {
                spec.commandLine().getErr().println("ferry run: --config " + e.getMessage());
                return 2;
            }
        }
        boolean demoRun = source != null && source.demo;
        if (demoRun && healthzBindAddress == null) {
            healthzBindAddress = BindAddress.parse("127.0.0.1:" + ProxyConfig.HEALTHZ_PORT, ProxyConfig.HEALTHZ_PORT); // loopback only
        }
        config = config.with(new ProxyConfig.Overrides(mode, healthzBindAddress, metricsBindAddress, null,
                source != null && source.kubeconfig != null ? source.kubeconfig.toString() : null));
        boolean fromFile = source != null && (source.demo || source.file != null);
        io.fabric8.kubernetes.client.Config api = null;
        String apiOrigin = null;
        if (!fromFile) {
            api = ClusterSource.apiConfig(config.kubeconfig(), System::getenv);
            if (api == null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "a source is required: --kubeconfig FILE, --source FILE or --demo (in a pod, the in-cluster config is used)");
            }
            apiOrigin = config.kubeconfig().isEmpty() ? "in-cluster config" : "kubeconfig " + config.kubeconfig();
        }
        Path dir = StateDirs.prepare(stateDir); // created 0700; refused (exit 1) if others could write it
        // Opening the conntrack maps (Chronicle Map: ~1 s cold, nearly all class loading; 1-2 s more
        // after a crash or a flood, when Chronicle scans each map) runs on its own thread from here,
        // and nothing on the path to serving TCP waits for it: the userspace proxy binds and serves
        // as soon as the table is written, and holds only the UDP flows and ClientIP-affinity
        // connections until the maps are open (their recorded backends are in them).
        DataPlane.Kind kind = kindOf(config.mode(), demoRun);
        if (kind == DataPlane.Kind.USERSPACE) {
            conntrack = dev.ferry.conntrack.ConntrackState.openAsync(dir, dev.ferry.conntrack.ConntrackConfig.DEFAULTS, r -> {
                Thread t = new Thread(r, "ferry-conntrack-open");
                t.setDaemon(true);
                t.start();
            });
            conntrack.whenOpen(Runnable::run, () -> {
                progress.mark("conntrack open");
                if (progress.isServed()) { // after the start-up line: say when UDP and ClientIP affinity began
                    LOG.info("conntrack tables open (UDP flows and ClientIP affinity served from here), ms after the JVM"
                            + " started: {}", String.join(", ", progress.marks()));
                }
            });
            // As when the open was on the start-up path: a state dir whose maps cannot be opened
            // (e.g. no space) stops the daemon with the reason, exit 1.
            conntrack.opened().whenComplete((ct, failed) -> {
                if (failed != null) {
                    conntrackFailure = failed instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                            ? c.getCause() : failed;
                    stop.countDown();
                }
            });
        }
        // The health and metrics servers come next, before the rest of the start-up (conntrack maps, the
        // source, the proxy): in rule modes the previous run's kernel rules serve meanwhile, and
        // /healthz says so (200 while nothing is pending, as kube-proxy at start); the userspace
        // proxy serves nothing until its listeners are bound after the first table write, so there
        // /healthz (not /livez: the process is alive) says 503 "starting" until then.
        ProxyMetrics metrics = new ProxyMetrics();
        ProxierHealth health = new ProxierHealth(config.healthTimeout(), System::currentTimeMillis);
        if (kind == DataPlane.Kind.USERSPACE) {
            health.requireForServing("starting", progress::startingFailure);
        }
        dev.ferry.daemon.http.HealthServer earlyHealth = EarlyHealthPort.take();
        if (earlyHealth != null && earlyHealth.address().equals(config.healthzBindAddress())) {
            progress.markAt("health port", earlyHealth.boundAtMillis());
        }
        StatusServers servers = new StatusServers(config.healthzBindAddress(), health, config.metricsBindAddress(), metrics,
                earlyHealth);
        progress.mark("health server");
        try {
            return serve(config, api, apiOrigin, demoRun, fromFile, kind, dir, progress, metrics, health, servers);
        } catch (Exception | Error e) {
            releaseConntrack();
            servers.close();
            throw e;
        }
    }

    /** The userspace proxy's conntrack tables, opened on their own thread at start; null in other modes. */
    private dev.ferry.conntrack.ConntrackState conntrack;
    /** Why the conntrack tables could not be opened; the daemon stops with it. */
    private volatile Throwable conntrackFailure;
    /** Whether the data plane took the conntrack tables (it closes them then). */
    private final java.util.concurrent.atomic.AtomicBoolean conntrackTaken = new java.util.concurrent.atomic.AtomicBoolean();

    /** Closes the conntrack tables when start-up failed before the data plane took them (their clean-shutdown marker is written then). */
    private void releaseConntrack() {
        if (conntrack == null || conntrackTaken.getAndSet(true)) {
            return;
        }
        try {
            conntrack.close(); // waits for an open under way
        } catch (RuntimeException e) {
            LOG.warn("closing the conntrack tables: {}", e.toString());
        }
    }

    private Integer serve(ProxyConfig config, io.fabric8.kubernetes.client.Config api, String apiOrigin, boolean demoRun,
                          boolean fromFile, DataPlane.Kind kind, Path dir, StartupProgress progress, ProxyMetrics metrics,
                          ProxierHealth health, StatusServers servers) throws Exception {
        // The demo cluster's endpoints live on "demo-node", so the demo plays that node unless told otherwise.
        String node = demoRun && nodeName == null ? "demo-node" : NodeName.resolve(nodeName, System::getenv, config);
        NodeInfo nodeInfo = new NodeInfo(node, "");
        List<Cidr> primaryCidrs = List.of();
        // kube-proxy's node IPs: bindAddress, else the --source file's Node object (the API's Node when read for [primary])
        List<java.net.InetAddress> nodeIps = PrimaryNodeIps.of(config.bindAddress(), fromFile ? fileNode(source, node) : null);
        if (PrimaryNodeIps.apply(config.nodePortAddresses(), config.mode() == ProxyMode.NFTABLES) && !demoRun) {
            List<java.net.InetAddress> primary = fromFile ? PrimaryNodeIps.of(config.bindAddress(), fileNode(source, node))
                    : ClusterSource.primaryNodeIps(api, node, config.bindAddress(), PRIMARY_IP_WAIT);
            if (primary.isEmpty()) {
                LOG.warn("nodePortAddresses [primary]: this node's IP is unknown (no specific bindAddress{}): NodePorts on"
                        + " loopback only, as kube-proxy assumes loopback", fromFile ? "" : ", Node " + node
                        + " has no InternalIP or ExternalIP after " + PRIMARY_IP_WAIT.toSeconds() + " s");
            } else {
                LOG.info("nodePortAddresses [primary]: NodePorts on the node's primary IPs {}", primary.stream()
                        .map(dev.ferry.model.IpAddresses::format).toList());
            }
            primaryCidrs = PrimaryNodeIps.cidrs(primary);
            nodeIps = primary;
        }

        Path file = null;
        if (fromFile) {
            file = source.demo ? writeDemoFile(dir) : source.file;
            if (!Files.isReadable(file)) {
                throw new IOException("--source " + file + ": no such readable file");
            }
        }
        ServiceTable table = ServiceTable.create(dir, tableSize, ServiceTable.DEFAULT_GRACE_MILLIS, System::currentTimeMillis);
        progress.mark("table open");
        DemoBackends backends = new DemoBackends();
        TableSync sync = new TableSync(table, List.of(), metrics, health);
        metrics.changeFeed(table.changes());
        metrics.frontendClaims(table::displacedCount, table::displacedDropped);
        boolean demo = fromFile && source.demo;
        DataPlane.Settings settings = planeSettings(config, kind, dir, node, demo, primaryCidrs, nodeIps);
        if (demo && settings.dnsBind() != null) {
            backends.exclude(settings.dnsBind());
        }
        // ferry explain decides flows with the daemon's own settings
        writeNodeSettings(dir, settings, settings.serviceCidrs());
        DataPlane serviceHealth;
        try {
            serviceHealth = DataPlane.start(table, settings, health, metrics, () -> {
                conntrackTaken.set(true);
                return conntrack; // possibly still opening: the proxy holds what needs it until then
            });
        } catch (IOException | RuntimeException e) {
            sync.close();
            throw e;
        }
        progress.mark("data plane started");
        sync.followedBy(serviceHealth);
        sync.afterEveryWrite(serviceHealth::onTableChanged);
        if (fromFile && source.demo) {
            // the demo's backends follow the table's change feed: started for endpoints that appear,
            // after the data plane took the write in (a backend that answers means the proxy in front of it listens)
            TableMirror demoPorts = TableMirror.of(table);
            sync.afterEveryWrite(() -> {
                TableChange c = demoPorts.catchUp();
                if (!c.isEmpty()) {
                    backends.ensureServing(List.copyOf(demoPorts.ports().values()));
                }
            });
        }
        // After the data plane's hook: the first write it took in (the userspace proxy's listeners are bound then).
        java.util.concurrent.atomic.AtomicBoolean firstWrite = new java.util.concurrent.atomic.AtomicBoolean();
        sync.afterEveryWrite(() -> {
            if (firstWrite.compareAndSet(false, true)) {
                progress.mark("table written");
                serviceHealth.whenApplied(() -> progress.served(kind == DataPlane.Kind.USERSPACE ? "listeners bound"
                        : kind == DataPlane.Kind.NONE ? "table served" : "rules applied"));
            }
        });
        sync.everySecond(serviceHealth::tick);
        metrics.dns(serviceHealth.dns());
        if (serviceHealth.proxy() != null) {
            UserspaceReports.register(serviceHealth.proxy(), metrics, health);
        }
        serviceHealth.followKernel(sync::runOnWriter);
        AutoCloseable running;
        try {
            if (fromFile) {
                // The same pipeline as the API watch: the file's objects are the change tracker's cache, and
                // the tracker converts the Services that changed, selects endpoints for this node (the
                // file's Node object gives its zone) and writes the table, retrying a failed write itself.
                SyncPeriods periods = new SyncPeriods(config.minSyncPeriod(), config.syncPeriod());
                FileCluster objects = new FileCluster(node, cache -> new ChangeTracker(cache, sync.sink(), periods, nodeInfo));
                ChangeTracker tracker = objects.tracker();
                health.followPending(() -> tracker.stats().oldestPendingChangeMillis());
                metrics.clusterWatch(tracker.stats());
                sync.afterEveryWrite(() -> metrics.rejections(tracker.rejectionsNow()));
                // A damaged table is rebuilt empty; the tracker then writes everything again.
                sync.afterRebuild(tracker::requestFullSync);
                FileSource files = new FileSource(file, FileSource.DEFAULT_POLL,
                        ManifestReader.Limits.DEFAULTS.withMaxBytes(sourceMaxBytes), objects);
                metrics.fileSource(files::errorCount);
                metrics.fileSourceApplyFailures(files::deliveryFailures);
                tracker.start();
                try {
                    files.start();
                    progress.mark("source read");
                    if (!tracker.awaitFirstSync(FIRST_FILE_SYNC_WAIT)) {
                        LOG.warn("--source {}: the table is not written {} s after the file was read; still trying", file,
                                FIRST_FILE_SYNC_WAIT.toSeconds());
                    }
                } catch (Exception e) {
                    tracker.close();
                    throw e;
                }
                running = () -> {
                    try {
                        files.close();
                    } finally {
                        tracker.close();
                    }
                };
            } else {
                ClusterSource cluster = ClusterSource.create(api, apiOrigin, node, config, sync.sink(), health, metrics);
                if (serviceHealth.healthServers() != null) {
                    serviceHealth.healthServers().onBindFailure(cluster::healthCheckFailed);
                }
                serviceHealth.onServicePortSkipped(cluster::servicePortSkipped);
                // kube-proxy 1.32 learns the service ranges from ServiceCIDR objects behind its
                // MultiCIDRServiceAllocator gate (off by default: without it, system:node-proxier may not
                // list them); merged with --service-cidr
                if (config.multiCidrServiceAllocator()) {
                    cluster.onServiceCidrs(fromApi -> {
                        List<Cidr> merged = serviceHealth.apiServiceCidrs(fromApi);
                        try {
                            writeNodeSettings(dir, settings, merged);
                        } catch (IOException | RuntimeException e) {
                            LOG.warn("ferry explain's node settings keep the previous service ranges: {}", e.toString());
                        }
                    });
                }
                // A damaged table is rebuilt empty; the API source then writes everything again.
                sync.afterRebuild(() -> cluster.watcher().requestFullSync());
                cluster.start();
                running = cluster;
            }
        } catch (Exception e) {
            serviceHealth.close();
            sync.close();
            throw e;
        }
        // SIGTERM (the kubelet) and SIGINT (Ctrl-C) end the wait below, so that the daemon stops in
        // order and exits 0; the shutdown hook only covers other ways the JVM may go down.
        Thread hook = new Thread(() -> {
            watchdog.arm();
            shutdown(running, sync, backends, servers, serviceHealth);
        }, "ferry-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        for (String sig : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> {
                LOG.info("SIG{} received", sig);
                watchdog.arm(); // from here, the process is gone within SHUTDOWN_LIMIT_MILLIS whatever hangs
                stop.countDown();
            });
        }
        LOG.info("ferry {} running: node {}, source {}, service table {} (state dir {}), data plane {}, syncPeriod {}, minSyncPeriod {}",
                VersionCommand.version(), node, fromFile ? file : apiOrigin, table.file(), dir, settings.kind(),
                GoDuration.format(config.syncPeriod()), GoDuration.format(config.minSyncPeriod()));
        if (fromFile && source.demo) {
            String sd = stateDir == null ? "" : " --state-dir " + dir;
            LOG.info("demo: in another shell: `./ferry dump services{}`, `curl http://127.0.20.1:8080/` (balanced by Ferry),"
                    + " `./ferry explain{} --from 127.0.0.1 127.0.20.1:8080/TCP`, `dig @127.0.13.1 -p 10053 web.default.svc.cluster.local`",
                    sd, sd);
        }
        if (exitAfterSeconds != null) {
            stop.await(exitAfterSeconds, TimeUnit.SECONDS);
        } else {
            stop.await();
        }
        watchdog.arm(); // --exit-after ends here without a signal
        shutdown(running, sync, backends, servers, serviceHealth);
        Runtime.getRuntime().removeShutdownHook(hook);
        Throwable failed = conntrackFailure;
        if (failed != null) {
            throw failed instanceof Exception e ? e : new IllegalStateException(failed);
        }
        return 0;
    }

    private boolean stopped;

    /** Null when every frontend is listened on; else how many are not, naming the first few. */
    static String refusedListenersReason(List<String> refused) {
        if (refused.isEmpty()) {
            return null;
        }
        int shown = Math.min(5, refused.size());
        return refused.size() + " frontends not listened on (raise the file descriptor limit or --proxy-max-listeners): "
                + String.join(", ", refused.subList(0, shown)) + (refused.size() > shown ? ", ..." : "");
    }

    private synchronized void shutdown(AutoCloseable source, TableSync sync, DemoBackends backends, StatusServers servers,
                                       DataPlane serviceHealth) {
        if (stopped) {
            return;
        }
        stopped = true;
        LOG.info("ferry stopping: watching stops; table kept for post-mortem dumps, marked closed");
        // Each step runs whatever the one before it threw (an Error included: a damaged mapping
        // raises InternalError), so the HTTP servers and the table lock are always released.
        step("stopping the source", source::close);
        // The data plane stops before the table is unmapped: its readers must not outlive the mapping.
        // Kernel rules stay as they are (nothing is flushed), so established connections never notice.
        step("stopping the data plane", serviceHealth::close);
        step("closing the table", sync::close);
        step("stopping the demo backends", backends::close);
        step("stopping the HTTP servers", servers::close);
        watchdog.step("exiting");
        stop.countDown();
    }

    private void step(String what, AutoCloseable action) {
        watchdog.step(what);
        try {
            action.close();
        } catch (Exception | Error e) {
            LOG.warn("{}: {}", what, e.toString());
        }
    }

    /** The data plane from the config, the flags and whether this is the no-root demo. */
    /** The data plane of a mode; the no-root demo's default is the userspace proxy. */
    static DataPlane.Kind kindOf(ProxyMode mode, boolean demo) {
        return switch (mode) {
            case DEFAULT -> demo ? DataPlane.Kind.USERSPACE : DataPlane.Kind.IPTABLES; // kube-proxy's default on Linux
            case USERSPACE -> DataPlane.Kind.USERSPACE;
            case IPTABLES -> DataPlane.Kind.IPTABLES;
            case NFTABLES -> DataPlane.Kind.NFTABLES;
            case IPVS -> DataPlane.Kind.IPVS;
            case TABLE_ONLY -> DataPlane.Kind.NONE;
        };
    }

    private DataPlane.Settings planeSettings(ProxyConfig config, DataPlane.Kind kind, Path dir, String node, boolean demo,
                                             List<Cidr> primaryCidrs, List<java.net.InetAddress> nodeIps) {
        List<Cidr> nodePorts = new ArrayList<>();
        nodePorts.addAll(primaryCidrs); // empty unless nodePortAddresses is (or defaults to) primary
        for (String a : config.nodePortAddresses()) {
            if (!a.equals("primary")) {
                nodePorts.add(Cidr.parse(a));
            }
        }
        if (demo) {
            nodePorts = List.of(Cidr.parse("127.0.0.1/32")); // the demo touches loopback only
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        // The demo's service addresses are all on loopback; elsewhere ferry0 holds them (needs root).
        String serviceInterface = demo || !root ? null : "ferry0";
        if (!demo && !root && kind == DataPlane.Kind.USERSPACE) {
            LOG.warn("not root: no ferry0 interface; only service addresses already local (127.0.0.0/8) can be served");
        }
        java.net.InetSocketAddress dns = null;
        String bind = dnsBind != null ? dnsBind : demo ? "127.0.13.1:10053" : null;
        List<java.net.InetSocketAddress> upstreams = new ArrayList<>();
        List<Cidr> dnsAllow = new ArrayList<>();
        try {
            if (bind != null) {
                dns = dev.ferry.dns.DnsOptions.parseAddress("--dns-bind", bind);
            }
            for (String u : dnsUpstreams) {
                upstreams.add(dev.ferry.dns.DnsOptions.parseAddress("--dns-upstream", u));
            }
            for (String c : dnsAllowCidrs) {
                dnsAllow.add(parseFlagCidr("--dns-allow-cidr", c));
            }
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        String algorithm = config.scheduler() == null ? "rr" : config.scheduler().schedulerName();
        ProxyConfig.Conntrack ct = config.conntrack();
        dev.ferry.proxy.ProxyLimits limits = dev.ferry.proxy.ProxyLimits.forFdLimit(dev.ferry.proxy.ProxyLimits.fdLimit(),
                dev.ferry.proxy.ProxyLimits.conntrackMax(ct.maxPerCore(), ct.min()));
        if (udpMaxFlows != null) {
            limits = limits.withUdpFlows(udpMaxFlows);
        }
        if (udpMaxFlowsPerClient != null) {
            limits = limits.withUdpFlowsPerClient(udpMaxFlowsPerClient);
        }
        if (proxyMaxConnections != null) {
            limits = limits.withConnections(proxyMaxConnections);
        }
        if (proxyMaxListeners != null) {
            limits = limits.withListenerSockets(proxyMaxListeners);
        }
        return new DataPlane.Settings(kind, dir, node, config.clusterCIDRs(), config.masqueradeAll(), nodePorts,
                config.syncPeriod(), algorithm, serviceInterface, dns, upstreams, dnsAllow, clusterDomain, iptablesBackend,
                proxyTransport, serviceCidrs, config.localhostNodePorts() && !demo, nodeIps, limits);
    }

    private static Cidr parseFlagCidr(String flag, String value) {
        try {
            return Cidr.parse(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(flag + ": " + e.getMessage());
        }
    }

    /** The settings `ferry explain` decides flows with: the daemon's own, with the service ranges in use. */
    private static void writeNodeSettings(Path dir, DataPlane.Settings settings, List<Cidr> serviceCidrs)
            throws IOException {
        NodeSettingsFile.write(dir, settings.kind().name().toLowerCase(java.util.Locale.ROOT),
                new dev.ferry.select.NodeNetwork(settings.clusterCidrs(), NodeSettingsFile.localAddresses(),
                        settings.nodePortAddresses(), settings.localhostNodePorts(), settings.masqueradeAll(),
                        serviceCidrs));
    }

    /** Copies the embedded demo cluster into the state dir, where the user may edit it while it runs. */
    static Path writeDemoFile(Path dir) throws IOException {
        dev.ferry.state.PrivateFiles.createDirectories(dir);
        Path file = dir.resolve("demo-cluster.yaml");
        try (InputStream in = RunCommand.class.getResourceAsStream("demo-cluster.yaml")) {
            if (in == null) {
                throw new IOException("demo-cluster.yaml missing from the ferry jar; rebuild it");
            }
            Path tmp = dir.resolve("demo-cluster.yaml.tmp");
            Files.deleteIfExists(tmp); // the entry itself, never a link's target
            try (java.nio.channels.FileChannel out = dev.ferry.state.PrivateFiles.createNew(tmp)) {
                in.transferTo(java.nio.channels.Channels.newOutputStream(out));
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        return file;
    }

    /** --proxy-transport: one of the proxy's transports. */
    static final class ProxyTransportFlag implements CommandLine.ITypeConverter<String> {
        /**
         * Transport.CHOICES, spelled here (a test keeps them equal): reading that field would initialise
         * Transport and load Netty in every mode, since picocli converts the flag's default at start.
         */
        static final List<String> CHOICES = List.of("auto", "io_uring", "epoll", "nio");

        @Override
        public String convert(String value) {
            String v = value.strip().toLowerCase(java.util.Locale.ROOT);
            if (!CHOICES.contains(v)) {
                throw new CommandLine.TypeConversionException("\"" + value + "\": must be one of "
                        + String.join(", ", CHOICES));
            }
            return v;
        }
    }

    /** --iptables-backend: a backend name, or auto (null: detect at start). */
    static final class IptablesBackendFlag implements CommandLine.ITypeConverter<dev.ferry.rules.iptables.IptablesBackend> {
        @Override
        public dev.ferry.rules.iptables.IptablesBackend convert(String value) {
            if ("auto".equalsIgnoreCase(value.strip())) {
                return null;
            }
            try {
                return dev.ferry.rules.iptables.IptablesBackend.named(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /**
     * This node's Node object in the --source file (kubectl get nodes,svc,endpointslices -o yaml), read
     * once at start for its addresses; null when the file has none or cannot be read now (the file
     * source reports that itself).
     */
    private static io.fabric8.kubernetes.api.model.Node fileNode(Source source, String node) {
        java.nio.file.Path f = source == null ? null : source.file;
        if (f == null) return null;
        try {
            for (io.fabric8.kubernetes.api.model.Node n : dev.ferry.source.ManifestReader.read(f).nodes()) {
                if (n.getMetadata() != null && node.equals(n.getMetadata().getName())) return n;
            }
        } catch (dev.ferry.source.ManifestException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /** A CIDR flag value ("10.96.0.0/12"); a bare address or a bad prefix is refused. */
    static final class CidrFlag implements CommandLine.ITypeConverter<Cidr> {
        @Override
        public Cidr convert(String value) {
            try {
                if (value.indexOf('/') < 0) throw new IllegalArgumentException("missing /prefix");
                return Cidr.parse(value.trim());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("\"" + value + "\" is not a CIDR: " + e.getMessage());
            }
        }
    }

    /** --mode: a kube-proxy mode this build can run. */
    static final class ModeFlag implements CommandLine.ITypeConverter<ProxyMode> {
        @Override
        public ProxyMode convert(String value) {
            try {
                return ProxyMode.named(value).requireAvailable();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class HealthzAddressFlag implements CommandLine.ITypeConverter<BindAddress> {
        @Override
        public BindAddress convert(String value) {
            try {
                return BindAddress.parse(value, ProxyConfig.HEALTHZ_PORT);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class MetricsAddressFlag implements CommandLine.ITypeConverter<BindAddress> {
        @Override
        public BindAddress convert(String value) {
            try {
                return BindAddress.parse(value, ProxyConfig.METRICS_PORT);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** A count of at least 1. */
    static final class PositiveInt implements CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            int n;
            try {
                n = Integer.parseInt(value.strip());
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a whole number");
            }
            if (n < 1) {
                throw new CommandLine.TypeConversionException("'" + value + "' must be at least 1");
            }
            return n;
        }
    }

    /** Parses 512M, 1G, 65536 (bytes). */
    static final class ByteSize implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim().toUpperCase();
            long mult = 1;
            if (v.endsWith("K")) mult = 1L << 10;
            else if (v.endsWith("M")) mult = 1L << 20;
            else if (v.endsWith("G")) mult = 1L << 30;
            String digits = mult == 1 ? v : v.substring(0, v.length() - 1);
            long n;
            try {
                n = Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a size (e.g. 512M, 1G)");
            }
            long bytes = n * mult;
            if (bytes < 64 * 1024 || bytes > Integer.MAX_VALUE) {
                throw new CommandLine.TypeConversionException("'" + value + "' must be at least 64K and under 2G");
            }
            return bytes;
        }
    }
}
