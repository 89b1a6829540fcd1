package dev.ferry.daemon;

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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent that `ferry run` starts: reads its KubeProxyConfiguration (the config file,
 * overridden by flags), loads services from a source (the API or a file) through the change tracker
 * into the off-heap table and keeps the data plane (rules or the userspace proxy) following it,
 * serving /healthz, /livez and /metrics, until SIGTERM/SIGINT, which stops the sources and marks the
 * table closed (the file stays, so `ferry dump` can still show, as stale, what was last served).
 * The command line is the cli's business; this class gets its values as {@link Options}.
 */
public final class NodeAgent {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
    /** How long `nodePortAddresses: [primary]` waits for this node's Node object at start-up. */
    private static final java.time.Duration PRIMARY_IP_WAIT = java.time.Duration.ofSeconds(30);
    /** How long `run --source` waits for the first table write after reading the file before it goes on (logging why). */
    private static final java.time.Duration FIRST_FILE_SYNC_WAIT = java.time.Duration.ofSeconds(30);

    /** A flag's value the daemon cannot use (the command line reports it as a usage error, exit 2). */
    public static final class BadFlagException extends IllegalArgumentException {
        public BadFlagException(String message) {
            super(message);
        }
    }

    /**
     * What `ferry run` was asked for, field by field as its flags name them (null or empty: the flag
     * was not given; the config file or Ferry's default decides).
     */
    public static final class Options {
        /** --source FILE. */
        public Path sourceFile;
        /** --demo. */
        public boolean demo;
        /** --kubeconfig FILE. */
        public Path kubeconfig;
        public long sourceMaxBytes = 256L << 20;
        public Path configFile;
        public String nodeName;
        public ProxyMode mode;
        /** null: auto-detected. */
        public dev.ferry.rules.iptables.IptablesBackend iptablesBackend;
        public String proxyTransport = "auto";
        public Integer udpMaxFlows;
        public Integer udpMaxFlowsPerClient;
        public Integer proxyMaxConnections;
        public Integer proxyMaxListeners;
        public BindAddress healthzBindAddress;
        public BindAddress metricsBindAddress;
        public String dnsBind;
        public List<String> dnsUpstreams = new ArrayList<>();
        public List<String> dnsAllowCidrs = new ArrayList<>();
        public String clusterDomain = "cluster.local";
        public Path stateDir;
        public long tableSize = 1L << 30;
        public List<Cidr> serviceCidrs = new ArrayList<>();
        public Long exitAfterSeconds;
        /** The health server `main` bound before anything else (the daemon takes it over), or null. */
        public dev.ferry.daemon.http.HealthServer earlyHealth;
        /** Ferry's version, for the start-up line. */
        public String version = "";
        /** Where a bad config file is reported. */
        public java.io.PrintWriter err = new java.io.PrintWriter(System.err, true);
    }

    /** The source flags, as given: at most one of them is set. */
    private record Source(Path file, boolean demo, Path kubeconfig) {}

    private final Source source;
    private final long sourceMaxBytes;
    private final Path configFile;
    private final String nodeName;
    private final ProxyMode mode;
    private final dev.ferry.rules.iptables.IptablesBackend iptablesBackend;
    private final String proxyTransport;
    private final Integer udpMaxFlows;
    private final Integer udpMaxFlowsPerClient;
    private final Integer proxyMaxConnections;
    private final Integer proxyMaxListeners;
    private BindAddress healthzBindAddress;
    private final BindAddress metricsBindAddress;
    private final String dnsBind;
    private final List<String> dnsUpstreams;
    private final List<String> dnsAllowCidrs;
    private final String clusterDomain;
    private final Path stateDir;
    private final long tableSize;
    private final List<Cidr> serviceCidrs;
    private final Long exitAfterSeconds;
    private final dev.ferry.daemon.http.HealthServer earlyHealth;
    private final String version;
    private final java.io.PrintWriter err;

    public NodeAgent(Options o) {
        this.source = o.demo || o.sourceFile != null || o.kubeconfig != null ? new Source(o.sourceFile, o.demo, o.kubeconfig) : null;
        this.sourceMaxBytes = o.sourceMaxBytes;
        this.configFile = o.configFile;
        this.nodeName = o.nodeName;
        this.mode = o.mode;
        this.iptablesBackend = o.iptablesBackend;
        this.proxyTransport = o.proxyTransport;
        this.udpMaxFlows = o.udpMaxFlows;
        this.udpMaxFlowsPerClient = o.udpMaxFlowsPerClient;
        this.proxyMaxConnections = o.proxyMaxConnections;
        this.proxyMaxListeners = o.proxyMaxListeners;
        this.healthzBindAddress = o.healthzBindAddress;
        this.metricsBindAddress = o.metricsBindAddress;
        this.dnsBind = o.dnsBind;
        this.dnsUpstreams = List.copyOf(o.dnsUpstreams);
        this.dnsAllowCidrs = List.copyOf(o.dnsAllowCidrs);
        this.clusterDomain = o.clusterDomain;
        this.stateDir = o.stateDir;
        this.tableSize = o.tableSize;
        this.serviceCidrs = List.copyOf(o.serviceCidrs);
        this.exitAfterSeconds = o.exitAfterSeconds;
        this.earlyHealth = o.earlyHealth;
        this.version = o.version;
        this.err = o.err;
    }

    private final CountDownLatch stop = new CountDownLatch(1);
    /** SIGTERM exits within 10 s (kubelet's default grace is 30 s, but a hang must not last that long). */
    public static final long SHUTDOWN_LIMIT_MILLIS = 9_000;
    private final ShutdownWatchdog watchdog = new ShutdownWatchdog(SHUTDOWN_LIMIT_MILLIS);

    /**
     * Runs the daemon until SIGTERM/SIGINT (or --exit-after): 0 after an orderly stop, 2 for a bad
     * config file (reported on the error stream). A bad flag value raises {@link BadFlagException}.
     */
    public int run() throws Exception {
        StartupProgress progress = StartupProgress.sinceJvmStart();
        progress.mark("main");
        ProxyConfig config = ProxyConfig.defaults();
        if (configFile != null) {
            try {
                KubeProxyConfigReader.Result r = KubeProxyConfigReader.read(configFile, mode);
                r.warnings().forEach(w -> LOG.warn("{}", w));
                config = r.config();
            } catch (ConfigException e) {
                err.println("ferry run: --config " + e.getMessage());
                return 2;
            }
        }
        boolean demoRun = source != null && source.demo();
        if (demoRun && healthzBindAddress == null) {
            healthzBindAddress = BindAddress.parse("127.0.0.1:" + ProxyConfig.HEALTHZ_PORT, ProxyConfig.HEALTHZ_PORT); // loopback only
        }
        config = config.with(new ProxyConfig.Overrides(mode, healthzBindAddress, metricsBindAddress, null,
                source != null && source.kubeconfig() != null ? source.kubeconfig().toString() : null));
        boolean fromFile = source != null && (source.demo() || source.file() != null);
        io.fabric8.kubernetes.client.Config api = null;
        String apiOrigin = null;
        if (!fromFile) {
            api = ClusterSource.apiConfig(config.kubeconfig(), System::getenv);
            if (api == null) {
                throw new BadFlagException(
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
            file = source.demo() ? writeDemoFile(dir) : source.file();
            if (!Files.isReadable(file)) {
                throw new IOException("--source " + file + ": no such readable file");
            }
        }
        ServiceTable table = ServiceTable.create(dir, tableSize, ServiceTable.DEFAULT_GRACE_MILLIS, System::currentTimeMillis);
        progress.mark("table open");
        DemoBackends backends = new DemoBackends();
        TableSync sync = new TableSync(table, metrics, health);
        metrics.changeFeed(table.changes());
        metrics.frontendClaims(table::displacedCount, table::displacedDropped);
        boolean demo = fromFile && source.demo();
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
        if (fromFile && source.demo()) {
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
                version, node, fromFile ? file : apiOrigin, table.file(), dir, settings.kind(),
                GoDuration.format(config.syncPeriod()), GoDuration.format(config.minSyncPeriod()));
        if (fromFile && source.demo()) {
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
    public static String refusedListenersReason(List<String> refused) {
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
    public static DataPlane.Kind kindOf(ProxyMode mode, boolean demo) {
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
            throw new BadFlagException( e.getMessage());
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
    public static Path writeDemoFile(Path dir) throws IOException {
        dev.ferry.state.PrivateFiles.createDirectories(dir);
        Path file = dir.resolve("demo-cluster.yaml");
        try (InputStream in = NodeAgent.class.getResourceAsStream("demo-cluster.yaml")) {
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

    /**
     * This node's Node object in the --source file (kubectl get nodes,svc,endpointslices -o yaml), read
     * once at start for its addresses; null when the file has none or cannot be read now (the file
     * source reports that itself).
     */
    private static io.fabric8.kubernetes.api.model.Node fileNode(Source source, String node) {
        java.nio.file.Path f = source == null ? null : source.file();
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
}
