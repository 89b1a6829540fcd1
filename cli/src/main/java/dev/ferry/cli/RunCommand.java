package dev.ferry.cli;

import dev.ferry.daemon.NodeAgent;

import dev.ferry.daemon.config.BindAddress;
import dev.ferry.daemon.config.ProxyConfig;
import dev.ferry.daemon.config.ProxyMode;
import dev.ferry.model.Cidr;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ferry run`: the daemon's command line (kube-proxy's flags and Ferry's own); the daemon itself is
 * {@link NodeAgent}. Exit 2 for a bad config file or flag.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the Ferry daemon: watch a source of Services and EndpointSlices into the service table.")
final class RunCommand implements Callable<Integer> {
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

    @Override
    public Integer call() throws Exception {
        NodeAgent.Options o = new NodeAgent.Options();
        if (source != null) {
            o.sourceFile = source.file;
            o.demo = source.demo;
            o.kubeconfig = source.kubeconfig;
        }
        o.sourceMaxBytes = sourceMaxBytes;
        o.configFile = configFile;
        o.nodeName = nodeName;
        o.mode = mode;
        o.iptablesBackend = iptablesBackend;
        o.proxyTransport = proxyTransport;
        o.udpMaxFlows = udpMaxFlows;
        o.udpMaxFlowsPerClient = udpMaxFlowsPerClient;
        o.proxyMaxConnections = proxyMaxConnections;
        o.proxyMaxListeners = proxyMaxListeners;
        o.healthzBindAddress = healthzBindAddress;
        o.metricsBindAddress = metricsBindAddress;
        o.dnsBind = dnsBind;
        o.dnsUpstreams = dnsUpstreams;
        o.dnsAllowCidrs = dnsAllowCidrs;
        o.clusterDomain = clusterDomain;
        o.stateDir = stateDir;
        o.tableSize = tableSize;
        o.serviceCidrs = serviceCidrs;
        o.exitAfterSeconds = exitAfterSeconds;
        o.earlyHealth = EarlyHealthPort.take();
        o.version = VersionCommand.version();
        o.err = spec.commandLine().getErr();
        try {
            return new NodeAgent(o).run();
        } catch (NodeAgent.BadFlagException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
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
