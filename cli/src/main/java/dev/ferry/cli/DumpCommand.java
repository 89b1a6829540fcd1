package dev.ferry.cli;

import dev.ferry.daemon.StateDirs;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import dev.ferry.table.TableStatus;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * `ferry dump`: reads a running daemon's table from its mapped file (no RPC) and prints it. A file
 * left by a daemon that is gone is still shown, with a warning on stderr that it is stale.
 */
@Command(name = "dump", mixinStandardHelpOptions = true,
        description = "Print the live service table of the Ferry daemon that owns the state directory.")
final class DumpCommand implements java.util.concurrent.Callable<Integer> {
    enum Kind { services, endpoints, conntrack, rules }

    enum Format { table, json, yaml }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "WHAT", description = "What to print: ${COMPLETION-CANDIDATES}.")
    Kind kind;

    @Parameters(index = "1", arity = "0..1", paramLabel = "NAMESPACE/NAME",
            description = "Only this service (all its ports); NAMESPACE/ alone selects a namespace.")
    String filter;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Where the daemon keeps its mapped tables (default: /run/ferry, or a per-user temp dir without root).")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        String ns = null;
        String name = null;
        if (filter != null) {
            int slash = filter.indexOf('/');
            if (slash <= 0 || filter.indexOf('/', slash + 1) >= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "NAMESPACE/NAME must look like default/kubernetes or default/, got \"" + filter + "\"");
            }
            ns = filter.substring(0, slash);
            name = slash + 1 < filter.length() ? filter.substring(slash + 1) : null;
        }
        Path dir = StateDirs.resolve(stateDir);
        PrintWriter out = spec.commandLine().getOut();
        if (kind == Kind.rules) {
            dev.ferry.rules.KernelTool tool = netns == null ? new dev.ferry.rules.KernelTool()
                    : dev.ferry.rules.KernelTool.inNamespace(netns, java.time.Duration.ofSeconds(30));
            return new RulesDump(tool, out, spec.commandLine().getErr()).print(ns, name);
        }
        if (!watch) {
            out.print(render(dir, ns, name, true));
            out.flush();
            return 0;
        }
        final String fns = ns;
        final String fname = name;
        new DumpWatch(out, intervalMillis(), watchFrames == null ? Long.MAX_VALUE : watchFrames)
                .run("ferry dump " + kind + (filter == null ? "" : " " + filter), first -> render(dir, fns, fname, first),
                        betweenFrames);
        return 0;
    }

    @Option(names = {"-w", "--watch"}, description = "Refresh like watch(1), highlighting the lines that changed; Ctrl-C stops.")
    boolean watch;

    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "1",
            description = "Refresh period with --watch (default: ${DEFAULT-VALUE}).")
    double intervalSeconds;

    @Option(names = "--watch-frames", hidden = true, description = "Stop after this many frames (tests).")
    Long watchFrames;

    @Option(names = "--netns", hidden = true, paramLabel = "NAME", description = "Read rules inside this network namespace (tests).")
    String netns;

    /** Test hook: runs between two frames of --watch. */
    Runnable betweenFrames = () -> { };

    private long intervalMillis() {
        if (!(intervalSeconds >= 0.1 && intervalSeconds <= 3600)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--interval must be between 0.1 and 3600 seconds");
        }
        return (long) (intervalSeconds * 1000);
    }

    /** The whole output for one look at the table; the stale warning goes to stderr on the first frame only. */
    String render(Path dir, String ns, String name, boolean warn) throws java.io.IOException {
        java.io.StringWriter buf = new java.io.StringWriter();
        PrintWriter out = new PrintWriter(buf);
        if (kind == Kind.conntrack) {
            new ConntrackDump(out, warn ? spec.commandLine().getErr() : new PrintWriter(java.io.Writer.nullWriter()))
                    .print(dir, ns, name, format.name());
            out.flush();
            return buf.toString();
        }
        List<ServicePort> ports = new ArrayList<>();
        TableStatus status;
        try (ServiceTableReader reader = ServiceTableReader.open(dir)) {
            status = reader.status();
            ServicePortView view = new ServicePortView();
            final String fns = ns;
            final String fname = name;
            reader.forEach(view, v -> {
                if (fns != null && !fns.equals(v.namespace())) return;
                if (fname != null && !fname.equals(v.name())) return;
                ServicePort sp = v.toServicePort();
                if (v.isValid()) ports.add(sp);
            });
        }
        if (!status.live() && warn) {
            spec.commandLine().getErr().println("ferry dump: " + status.describe(System.currentTimeMillis()));
        }
        ports.sort(Comparator.comparing(ServicePort::name));
        switch (format) {
            case table -> {
                TextTable t = kind == Kind.services ? servicesTable(ports) : endpointsTable(ports);
                t.print(out);
            }
            case json -> out.println(JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build()
                    .writeValueAsString(structured(ports)));
            case yaml -> out.print(new YAMLMapper().writeValueAsString(structured(ports)));
        }
        out.flush();
        return buf.toString();
    }

    private List<Map<String, Object>> structured(List<ServicePort> ports) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ServicePort sp : ports) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("namespace", sp.name().namespace());
            m.put("name", sp.name().name());
            m.put("portName", sp.name().portName());
            m.put("protocol", sp.name().protocol().name());
            if (kind == Kind.services) {
                m.put("type", sp.headless() ? "Headless" : sp.type().apiName());
                m.put("clusterIPs", ips(sp.clusterIPs()));
                m.put("port", sp.port());
                m.put("targetPort", sp.targetPort());
                m.put("nodePort", sp.nodePort());
                m.put("externalIPs", ips(sp.externalIPs()));
                m.put("loadBalancerIPs", ips(sp.loadBalancerIPs()));
                m.put("externalName", sp.externalName());
                m.put("sessionAffinity", sp.sessionAffinity().apiName());
                m.put("affinityTimeoutSeconds", sp.affinityTimeoutSeconds());
                m.put("externalTrafficPolicy", sp.externalTrafficPolicy().apiName());
                m.put("internalTrafficPolicy", sp.internalTrafficPolicy().apiName());
                m.put("loadBalancerSourceRanges", sp.loadBalancerSourceRanges().stream().map(Cidr::toString).toList());
                m.put("healthCheckNodePort", sp.healthCheckNodePort());
                m.put("trafficDistribution", sp.trafficDistribution());
                m.put("publishNotReadyAddresses", sp.publishNotReadyAddresses());
                m.put("lbAlgorithm", sp.lbAlgorithm());
                m.put("proxyProtocol", sp.proxyProtocol());
                m.put("endpoints", sp.endpoints().size());
                m.put("readyEndpoints", sp.endpoints().stream().filter(Endpoint::ready).count());
            } else {
                List<Map<String, Object>> eps = new ArrayList<>();
                for (Endpoint e : sp.endpoints()) {
                    Map<String, Object> em = new LinkedHashMap<>();
                    em.put("address", IpAddresses.format(e.address()));
                    em.put("port", e.port());
                    em.put("ready", e.ready());
                    em.put("serving", e.serving());
                    em.put("terminating", e.terminating());
                    em.put("nodeName", e.nodeName());
                    em.put("zone", e.zone());
                    em.put("forZones", e.forZones());
                    em.put("hostname", e.hostname());
                    eps.add(em);
                }
                m.put("endpoints", eps);
            }
            out.add(m);
        }
        return out;
    }

    private static List<String> ips(List<InetAddress> a) {
        return a.stream().map(IpAddresses::format).toList();
    }

    private static String orNone(String s) {
        return s == null || s.isEmpty() ? "<none>" : s;
    }

    static TextTable servicesTable(List<ServicePort> ports) {
        TextTable t = new TextTable("NAMESPACE", "NAME", "PORT-NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                "AFFINITY", "POLICY(EXT/INT)", "ENDPOINTS");
        for (ServicePort sp : ports) {
            String type = sp.headless() ? "Headless" : sp.type().apiName();
            String cluster = sp.headless() ? "None" : orNone(joinIps(sp.clusterIPs()));
            List<InetAddress> ext = new ArrayList<>(sp.loadBalancerIPs());
            ext.addAll(sp.externalIPs());
            String external = sp.type() == ServiceType.EXTERNAL_NAME ? sp.externalName() : orNone(joinIps(ext));
            String ports_ = sp.port() == 0 ? "<none>"
                    : sp.port() + (sp.nodePort() != 0 ? ":" + sp.nodePort() : "") + "/" + sp.name().protocol();
            String affinity = sp.sessionAffinity() == SessionAffinity.CLIENT_IP
                    ? "ClientIP/" + sp.affinityTimeoutSeconds() + "s" : "None";
            long ready = sp.endpoints().stream().filter(Endpoint::ready).count();
            t.add(sp.name().namespace(), sp.name().name(), sp.name().portName().isEmpty() ? "-" : sp.name().portName(),
                    type, cluster, external, ports_, affinity,
                    sp.externalTrafficPolicy().apiName() + "/" + sp.internalTrafficPolicy().apiName(),
                    ready + "/" + sp.endpoints().size() + " ready");
        }
        return t;
    }

    static TextTable endpointsTable(List<ServicePort> ports) {
        TextTable t = new TextTable("SERVICE-PORT", "PROTO", "ENDPOINT", "STATE", "NODE", "ZONE", "HINTS", "HOSTNAME");
        for (ServicePort sp : ports) {
            if (sp.endpoints().isEmpty()) {
                t.add(sp.name().toString(), sp.name().protocol().name(), "<none>", "-", "-", "-", "-", "-");
            }
            for (Endpoint e : sp.endpoints()) {
                String state = e.ready() ? "Ready" : e.serving() && e.terminating() ? "Terminating(serving)"
                        : e.terminating() ? "Terminating" : "NotReady";
                t.add(sp.name().toString(), sp.name().protocol().name(), e.hostPort(), state, orNone(e.nodeName()),
                        orNone(e.zone()), e.forZones().isEmpty() ? "<none>" : String.join(",", e.forZones()),
                        orNone(e.hostname()));
            }
        }
        return t;
    }

    private static String joinIps(List<InetAddress> a) {
        return a.stream().map(IpAddresses::format).collect(Collectors.joining(","));
    }
}
