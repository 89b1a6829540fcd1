package dev.ferry.cli;

import dev.ferry.daemon.StateDirs;
import dev.ferry.daemon.NodeSettingsFile;

import dev.ferry.conntrack.ConntrackReader;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.proxy.BackendChoice;
import dev.ferry.select.FlowDecision;
import dev.ferry.select.NodeNetwork;
import dev.ferry.table.AddressBits;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * `ferry explain`: where a packet from a client to a destination goes, and why — read from the
 * running daemon's mapped table (and conntrack) in this process, with no RPC.
 */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = "Explain which service port a destination matches, which endpoints are candidates and why, and which backend this client gets.")
final class ExplainCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--from", required = true, paramLabel = "IP", description = "The client's source address.")
    String from;

    @Parameters(index = "0", paramLabel = "DST_IP:PORT/PROTO", description = "e.g. 10.96.0.10:443/TCP or [fd00::a]:53/UDP")
    String destination;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "Where the daemon keeps its mapped tables.")
    Path stateDir;

    @Option(names = "--default-algorithm", defaultValue = "rr", paramLabel = "NAME",
            description = "The node's default lb algorithm, for services without the ferry.dev/lb-algorithm annotation (default: ${DEFAULT-VALUE}).")
    String defaultAlgorithm;

    record Target(InetAddress ip, int port, Protocol protocol) {}

    static Target parseTarget(String s) {
        int slash = s.lastIndexOf('/');
        String proto = slash < 0 ? "TCP" : s.substring(slash + 1).toUpperCase();
        String hostPort = slash < 0 ? s : s.substring(0, slash);
        Protocol p = Protocol.parse(proto);
        if (p == null) throw new IllegalArgumentException("protocol \"" + proto + "\" is not TCP, UDP or SCTP");
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException("missing :PORT");
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        InetAddress ip = IpAddresses.parse(host);
        if (ip == null) throw new IllegalArgumentException("\"" + host + "\" is not an IP address");
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port \"" + hostPort.substring(colon + 1) + "\" is not a number");
        }
        if (port < 1 || port > 65535) throw new IllegalArgumentException("port " + port + " out of range 1-65535");
        return new Target(ip, port, p);
    }

    @Override
    public Integer call() throws Exception {
        Target t;
        InetAddress client = IpAddresses.parse(from);
        if (client == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--from: \"" + from + "\" is not an IP address");
        }
        try {
            t = parseTarget(destination);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "DST_IP:PORT/PROTO \"" + destination + "\": " + e.getMessage());
        }
        if (!"table".equals(format) && !"json".equals(format)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-o must be table or json, got \"" + format + "\"");
        }
        Path dir = StateDirs.resolve(stateDir);
        Map<String, Object> result;
        try (ServiceTableReader reader = ServiceTableReader.open(dir)) {
            if (!reader.status().live()) {
                spec.commandLine().getErr().println("ferry explain: " + reader.status().describe(System.currentTimeMillis()));
            }
            result = explain(reader, dir, client, t, NodeSettingsFile.read(dir));
        }
        PrintWriter out = spec.commandLine().getOut();
        if ("json".equals(format)) {
            out.println(JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(result));
        } else {
            printText(out, result);
        }
        out.flush();
        return 0;
    }

    /**
     * Explains a flow. settings are the daemon's mode and node settings (null: unknown; then both rule
     * modes are answered for this host's addresses and kube-proxy's defaults). In iptables and
     * nftables mode the verdict and the candidates come from {@link FlowDecision}, the decisions the
     * renderers encode; in userspace mode from the proxy's own selection.
     */
    Map<String, Object> explain(ServiceTableReader reader, Path dir, InetAddress client, Target t,
                                NodeSettingsFile.Settings settings) throws IOException {
        this.settings = settings;
        this.network = settings != null ? settings.network()
                : new NodeNetwork(List.of(), NodeSettingsFile.localAddresses(), List.of(), true, false, List.of());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("client", IpAddresses.format(client));
        r.put("destination", IpAddresses.format(t.ip()) + ":" + t.port() + "/" + t.protocol());
        ServicePortView v = new ServicePortView();
        boolean found = false;
        for (int attempt = 0; attempt < 3 && !found; attempt++) {
            found = reader.lookup(t.protocol(), t.ip(), t.port(), v)
                    || reader.lookupNodePort(t.protocol().ordinal(), t.port(), v);
            if (found) {
                r = describe(v, r, client, t, ruleMode() == null ? proxyChoice(reader, dir, client, t) : null);
                if (!v.isValid()) {
                    found = false; // recycled while we read it: look again
                    r.keySet().retainAll(List.of("client", "destination"));
                }
            }
        }
        if (!found) {
            r.put("match", "none");
            boolean clusterIp = clusterIpInUse(reader, t.ip());
            Map<String, Object> outcome = new LinkedHashMap<>();
            for (FlowDecision.RuleMode m : FlowDecision.RuleMode.values()) {
                outcome.put(modeName(m), outcomeOf(FlowDecision.decide(m, network, null, null, client,
                        network.isLocal(client), t.ip(), clusterIp)));
            }
            r.put("outcome", outcome);
            FlowDecision.RuleMode mode = ruleMode();
            if (mode != null) {
                r.put("verdict", verdictOf(FlowDecision.decide(mode, network, null, null, client, network.isLocal(client),
                        t.ip(), clusterIp)));
            } else {
                r.put("verdict", "no service port serves " + r.get("destination")
                        + ": the userspace proxy has no listener there (TCP connections are refused, UDP is dropped); in the"
                        + " rule modes: see outcome");
            }
        }
        return r;
    }

    private NodeSettingsFile.Settings settings;
    private NodeNetwork network;

    /** The daemon's rule mode, or null in userspace mode or when unknown. */
    private FlowDecision.RuleMode ruleMode() {
        if (settings == null) return null;
        return switch (settings.mode()) {
            case "iptables" -> FlowDecision.RuleMode.IPTABLES;
            case "nftables" -> FlowDecision.RuleMode.NFTABLES;
            default -> null;
        };
    }

    static String modeName(FlowDecision.RuleMode m) {
        return m.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static boolean clusterIpInUse(ServiceTableReader reader, InetAddress ip) {
        boolean[] hit = {false};
        reader.forEach(new ServicePortView(), v -> {
            for (int i = 0; i < v.frontendCount(); i++) {
                if (v.frontendKind(i) == FrontendKind.CLUSTER_IP && ip.equals(v.frontendAddress(i))) hit[0] = true;
            }
        });
        return hit[0];
    }

    /** A decision as explain's JSON carries it. */
    static Map<String, Object> outcomeOf(FlowDecision.Decision d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("action", d.action().name().toLowerCase(java.util.Locale.ROOT));
        m.put("endpoints", d.endpoints().stream().map(dev.ferry.model.Endpoint::hostPort).sorted().toList());
        m.put("masquerade", d.masquerade());
        m.put("why", d.why());
        return m;
    }

    static String verdictOf(FlowDecision.Decision d) {
        return switch (d.action()) {
            case FORWARD -> "forwarded to one of " + String.join(", ", d.endpoints().stream()
                    .map(dev.ferry.model.Endpoint::hostPort).sorted().toList()) + (d.masquerade() ? ", masqueraded" : "")
                    + " (" + d.why() + ")";
            case REJECT -> "rejected at once (ICMP port unreachable / TCP RST): " + d.why();
            case DROP -> "dropped (the client times out): " + d.why();
            case UNTOUCHED -> "not a service destination here, routed as any other packet: " + d.why();
        };
    }

    /**
     * The userspace proxy's own answer ({@link BackendChoice}: its Router, over this table, with the
     * daemon's ClientIP pins read-only), so explain cannot drift from what the proxy does.
     */
    private BackendChoice proxyChoice(ServiceTableReader reader, Path dir, InetAddress client, Target t) throws IOException {
        List<ConntrackReader.AffinityEntry> pins = null;
        try (ConntrackReader ct = ConntrackReader.open(dir)) {
            if (ct.keepsAffinity()) {
                pins = ct.affinities();
            }
        } catch (IOException e) {
            spec.commandLine().getErr().println("ferry explain: ClientIP pins unreadable, answering without them: " + e.getMessage());
        }
        return BackendChoice.of(reader, defaultAlgorithm, network.nodeIps(), pins, client, t.protocol(), t.ip(), t.port());
    }

    private Map<String, Object> describe(ServicePortView v, Map<String, Object> r, InetAddress client, Target t,
                                         BackendChoice proxy) {
        int f = v.matchedFrontend();
        FrontendKind kind = v.frontendKind(f);
        r.put("match", v.servicePortName().toString() + " (" + v.protocol() + ")");
        r.put("frontend", switch (kind) {
            case CLUSTER_IP -> "ClusterIP";
            case NODE_PORT -> "NodePort " + v.nodePort() + " (on any node address allowed by nodePortAddresses)";
            case EXTERNAL_IP -> "externalIP";
            case LOAD_BALANCER -> "LoadBalancer IP";
        });
        TrafficPolicy policy = kind == FrontendKind.CLUSTER_IP ? v.internalTrafficPolicy() : v.externalTrafficPolicy();
        String policyName = kind == FrontendKind.CLUSTER_IP ? "internalTrafficPolicy" : "externalTrafficPolicy";
        r.put("policy", policyName + ": " + policy.apiName());
        boolean denied = kind == FrontendKind.LOAD_BALANCER && !v.sourceAllowed(AddressBits.family(client),
                AddressBits.hi(client), AddressBits.lo(client));
        // kube-proxy 1.32 follows the slices' zone hints whenever they are there (EndpointSelector.canUseTopology)
        boolean topology = false;
        for (int i = 0, n = v.endpointCount(); i < n; i++) topology |= !v.endpointForZones(i).isEmpty();
        boolean anyReady = false;
        for (int i = 0, n = v.endpointCount(); i < n; i++) anyReady |= v.endpointReady(i);
        List<Map<String, Object>> eps = new ArrayList<>();
        List<String> candidates = new ArrayList<>();
        for (int i = 0, n = v.endpointCount(); i < n; i++) {
            Map<String, Object> e = new LinkedHashMap<>();
            String hp = IpAddresses.hostPort(v.endpointAddress(i), v.endpointPort(i));
            e.put("endpoint", hp);
            e.put("node", v.endpointNodeName(i));
            e.put("zone", v.endpointZone(i));
            boolean usable = v.endpointUsableFrom(i, f);
            boolean candidate = usable && !denied;
            String reason;
            if (denied) {
                reason = "source range denied: " + IpAddresses.format(client) + " is not in loadBalancerSourceRanges";
            } else if (usable) {
                reason = v.endpointReady(i) ? "ready" : "terminating fallback: serving while terminating, and no ready endpoint is usable";
            } else if (!v.endpointReady(i) && !(v.endpointServing(i) && v.endpointTerminating(i))) {
                reason = v.endpointTerminating(i) ? "terminating and no longer serving" : "not ready";
            } else if (!v.endpointReady(i)) {
                reason = "terminating: used only when no ready endpoint exists";
            } else if (policy == TrafficPolicy.LOCAL) {
                reason = "other node (" + v.endpointNodeName(i) + ") under " + policyName + ": Local";
            } else if (topology) {
                reason = "other zone under topology routing (hints: " + String.join(",", v.endpointForZones(i)) + ")";
            } else {
                reason = "not selected for " + (kind == FrontendKind.CLUSTER_IP ? "cluster" : "external") + " traffic";
            }
            e.put("candidate", candidate);
            e.put("reason", reason);
            eps.add(e);
            if (candidate) {
                candidates.add(hp);
            }
        }
        ServicePort sp = v.toServicePort();
        boolean fromNode = network.isLocal(client);
        Map<String, Object> outcome = new LinkedHashMap<>();
        for (FlowDecision.RuleMode m : FlowDecision.RuleMode.values()) {
            outcome.put(modeName(m), outcomeOf(FlowDecision.decide(m, network, sp, kind, client, fromNode, t.ip(), false)));
        }
        FlowDecision.RuleMode mode = ruleMode();
        if (mode != null) {
            // the rule mode's candidates replace the proxy's (pods and the node under eTP Local, for one)
            FlowDecision.Decision d = FlowDecision.decide(mode, network, sp, kind, client, fromNode, t.ip(), false);
            List<String> chosen = d.endpoints().stream().map(dev.ferry.model.Endpoint::hostPort).toList();
            candidates.clear();
            for (Map<String, Object> e : eps) {
                boolean c = chosen.contains((String) e.get("endpoint"));
                if (c && !(Boolean) e.get("candidate")) e.put("reason", d.why());
                e.put("candidate", c);
                if (c) candidates.add((String) e.get("endpoint"));
            }
            r.put("endpoints", eps);
            r.put("rules", rulePath(v, kind, denied, candidates));
            r.put("outcome", outcome);
            r.put("verdict", verdictOf(d));
            return r;
        }
        // Userspace mode: the proxy's Router decides; the table above only explains the others.
        if (proxy.outcome() == BackendChoice.Outcome.NO_SERVICE) {
            r.put("endpoints", eps);
            r.put("verdict", "the userspace proxy cannot serve " + r.get("match") + " now (its state could not be built;"
                    + " the daemon's log says why): TCP connections are refused, UDP is dropped");
            return r;
        }
        denied = proxy.outcome() == BackendChoice.Outcome.DENIED;
        candidates.clear();
        for (InetSocketAddress a : proxy.candidates()) {
            candidates.add(IpAddresses.hostPort(a.getAddress(), a.getPort()));
        }
        for (Map<String, Object> e : eps) {
            boolean c = candidates.contains((String) e.get("endpoint"));
            if (!c && (Boolean) e.get("candidate") && denied) {
                e.put("reason", "source range denied: " + IpAddresses.format(client) + " is not in loadBalancerSourceRanges");
            }
            e.put("candidate", c);
        }
        r.put("endpoints", eps);
        r.put("rules", rulePath(v, kind, denied, candidates));
        r.put("outcome", outcome);
        String algorithm = proxy.algorithm() == null ? "-" : proxy.algorithm().schedulerName()
                + (v.lbAlgorithm().isEmpty() ? " (node default)" : " (annotation)");
        r.put("algorithm", algorithm);
        if (denied) {
            r.put("verdict", "refused: the client is outside loadBalancerSourceRanges (userspace: reset; rule modes: dropped)");
            return r;
        }
        if (proxy.outcome() == BackendChoice.Outcome.NO_ENDPOINTS) {
            r.put("verdict", "rejected at once: no usable endpoint (TCP RST / ICMP port unreachable, like kube-proxy's REJECT)");
            return r;
        }
        String affinity = v.clientIpAffinity() ? "ClientIP affinity (" + v.affinityTimeoutSeconds() + " s)" : null;
        String why = switch (proxy.basis()) {
            case AFFINITY_PIN -> "ClientIP affinity entry, expires in "
                    + Math.max(0, proxy.pinExpiresAtMillis() - System.currentTimeMillis()) / 1000 + " s";
            case AFFINITY_HASH -> affinity + " without conntrack maps: a hash of the client address";
            case HASH -> proxy.algorithm().schedulerName() + " (" + proxy.algorithm().description()
                    + "): this client always maps to it while the candidates stay the same"
                    + (affinity != null ? "; " + affinity + ": no pin yet, the client then sticks to it" : "");
            case AWAITING_PINS -> affinity + ": the daemon's conntrack maps are still opening";
            default -> (affinity != null ? affinity + ": no pin yet, the next connection picks by " + algorithm
                    + " and the client then sticks to it; " : "") + "picked per connection by " + algorithm + " among the "
                    + candidates.size() + " candidates (depends on the daemon's live state)";
        };
        InetSocketAddress first = proxy.firstBackend();
        r.put("backend", first == null ? "one of " + String.join(", ", candidates) : IpAddresses.hostPort(first.getAddress(), first.getPort()));
        r.put("why", why);
        r.put("verdict", "forwarded to " + r.get("backend"));
        return r;
    }

    /**
     * The path this packet takes through the kernel rules in the rule modes: kube-proxy's chain names
     * (iptables mode uses them as they are) and the nftables map entry; `ferry dump rules NS/NAME`
     * prints the rules themselves.
     */
    static Map<String, String> rulePath(ServicePortView v, FrontendKind kind, boolean denied, List<String> candidates) {
        String name = v.servicePortName().toString();
        String proto = v.protocol().name().toLowerCase(java.util.Locale.ROOT);
        dev.ferry.model.TrafficPolicy policy = kind == FrontendKind.CLUSTER_IP ? v.internalTrafficPolicy() : v.externalTrafficPolicy();
        String target = policy == dev.ferry.model.TrafficPolicy.LOCAL
                ? dev.ferry.rules.iptables.ChainNames.serviceLocal(name, proto) : dev.ferry.rules.iptables.ChainNames.service(name, proto);
        StringBuilder ipt = new StringBuilder(kind == FrontendKind.NODE_PORT ? "KUBE-NODEPORTS" : "KUBE-SERVICES");
        if (kind == FrontendKind.LOAD_BALANCER && v.sourceRangeCount() > 0) {
            ipt.append(" -> ").append(dev.ferry.rules.iptables.ChainNames.firewall(name, proto));
            if (denied) {
                ipt.append(" -> DROP");
            }
        }
        if (!denied) {
            if (kind != FrontendKind.CLUSTER_IP) {
                ipt.append(" -> ").append(dev.ferry.rules.iptables.ChainNames.external(name, proto));
            }
            if (candidates.isEmpty()) {
                ipt.append(" -> REJECT (no endpoints)");
            } else {
                ipt.append(" -> ").append(target).append(" -> one of");
                for (String hp : candidates) {
                    ipt.append(' ').append(dev.ferry.rules.iptables.ChainNames.endpoint(name, proto, hp));
                }
            }
        }
        boolean nodePort = kind == FrontendKind.NODE_PORT;
        String element = nodePort ? "[" + proto + " . " + v.nodePort() + "]"
                : "[" + IpAddresses.format(v.frontendAddress(v.matchedFrontend())) + " . " + proto + " . " + v.port() + "]";
        String nft;
        if (denied) {
            nft = "firewall-ips" + element + " -> the service's firewall chain -> drop";
        } else if (candidates.isEmpty()) {
            nft = (nodePort ? "no-endpoint-nodeports" : "no-endpoint-services") + element + " -> reject";
        } else if (sharedPickChain(v)) {
            String pickKind = nodePort ? "nodeport" : kind == FrontendKind.CLUSTER_IP ? "cluster" : "external";
            String key = element.substring(0, element.length() - 1);
            nft = (nodePort ? "service-nodeports" : "service-ips") + element + " -> pick-" + pickKind + "-" + candidates.size()
                    + " -> " + (nodePort ? "nodeport-endpoints-" : "service-endpoints-") + proto + key + " . 0.." + (candidates.size() - 1) + "]";
        } else {
            nft = (nodePort ? "service-nodeports" : "service-ips") + element + " -> the service's chain";
        }
        Map<String, String> out = new LinkedHashMap<>();
        out.put("iptables", ipt.toString());
        out.put("nftables", "table ferry: " + nft + " (ferry dump rules " + v.namespace() + "/" + v.name() + ")");
        return out;
    }


    /** Whether nftables mode sends this service through the shared pick chains ({@link dev.ferry.rules.nft.PickChains#carry}). */
    static boolean sharedPickChain(ServicePortView v) {
        boolean external = v.nodePort() != 0;
        for (int i = 0; i < v.frontendCount(); i++) {
            external |= v.frontendKind(i) != FrontendKind.CLUSTER_IP;
        }
        boolean sameEndpoints = true;
        for (int i = 0; i < v.endpointCount(); i++) {
            sameEndpoints &= v.endpointForClusterTraffic(i) == v.endpointForExternalTraffic(i);
        }
        return dev.ferry.rules.nft.PickChains.carry(v.clientIpAffinity(), external, v.externalTrafficPolicy(), sameEndpoints);
    }

    @SuppressWarnings("unchecked")
    private static void printText(PrintWriter out, Map<String, Object> r) {
        for (var e : r.entrySet()) {
            if (e.getKey().equals("endpoints")) continue;
            if (e.getValue() instanceof Map<?, ?> m) {
                String label = e.getKey() + ":";
                for (var sub : m.entrySet()) {
                    Object value = sub.getValue() instanceof Map<?, ?> o && o.containsKey("action") ? outcomeLine(o) : sub.getValue();
                    out.printf("%-12s %s: %s%n", label, sub.getKey(), value);
                    label = "";
                }
                continue;
            }
            out.printf("%-12s %s%n", e.getKey() + ":", e.getValue());
        }
        Object eps = r.get("endpoints");
        if (eps instanceof List<?> list && !list.isEmpty()) {
            TextTable t = new TextTable("ENDPOINT", "NODE", "ZONE", "CANDIDATE", "REASON");
            for (Object o : list) {
                Map<String, Object> m = (Map<String, Object>) o;
                t.add(m.get("endpoint").toString(), orDash(m.get("node")), orDash(m.get("zone")),
                        (Boolean) m.get("candidate") ? "yes" : "no", m.get("reason").toString());
            }
            out.println();
            t.print(out);
        }
    }

    /** "forward to A, B (masqueraded): why" for one rule mode's outcome. */
    static String outcomeLine(Map<?, ?> o) {
        String action = String.valueOf(o.get("action"));
        List<?> eps = (List<?>) o.get("endpoints");
        String to = "forward".equals(action) ? action + " to " + String.join(", ", eps.stream().map(String::valueOf).toList())
                + (Boolean.TRUE.equals(o.get("masquerade")) ? " (masqueraded)" : " (source kept)") : action;
        return to + ": " + o.get("why");
    }

    private static String orDash(Object o) {
        return o == null || o.toString().isEmpty() ? "-" : o.toString();
    }
}
