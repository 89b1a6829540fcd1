package dev.ferry.daemon.config;

import dev.ferry.lb.Algorithm;
import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads a KubeProxyConfiguration ({@code kubeproxy.config.k8s.io/v1alpha1}) file, the format of
 * kube-proxy's {@code --config} (and of the {@code config.conf} key in kubeadm's kube-proxy
 * ConfigMap), into a {@link ProxyConfig} with kube-proxy's defaults and validation.
 *
 * <p>A bad value is an error naming the file, line, column and field path; so are a duplicate key
 * and a wrong apiVersion or kind. kube-proxy fields Ferry does not use are reported as such, and
 * unknown fields are warned about with their path; neither is an error, so that an existing
 * kube-proxy config can be used as it is. Stateless; thread-safe.
 */
public final class KubeProxyConfigReader {
    public static final String API_VERSION = "kubeproxy.config.k8s.io/v1alpha1";
    public static final String KIND = "KubeProxyConfiguration";

    /** kube-proxy fields that Ferry accepts and does not act on (yet), by path. */
    static final Set<String> NOT_USED = Set.of(
            "clientConnection.acceptContentTypes", "clientConnection.contentType",
            "clientConnection.qps", "clientConnection.burst", "bindAddressHardFail", "enableProfiling",
            "showHiddenMetricsForVersion", "iptables.masqueradeBit",
            "ipvs.excludeCIDRs", "ipvs.strictARP", "ipvs.tcpTimeout", "ipvs.tcpFinTimeout", "ipvs.udpTimeout",
            "nftables.masqueradeBit", "winkernel", "detectLocalMode", "detectLocal", "oomScoreAdj",
            "configSyncPeriod", "portRange", "logging");

    private KubeProxyConfigReader() {}

    /** The config and what was ignored in it (one line per field, with file:line and path). */
    public record Result(ProxyConfig config, List<String> warnings) {
        public Result {
            warnings = List.copyOf(warnings);
        }
    }

    /** Reads {@code file}, named as given in every message. */
    public static Result read(Path file) throws ConfigException {
        return read(file, null);
    }

    /**
     * Reads {@code file} for a daemon whose mode is {@code modeFlag} when the command line gives one
     * (null: the file's {@code mode}). The mode picks which of the {@code iptables}, {@code ipvs} and
     * {@code nftables} sections supplies the sync periods and masqueradeAll, so {@code --mode nftables}
     * with a file that has no {@code mode:} still applies the file's {@code nftables:} section.
     */
    public static Result read(Path file, ProxyMode modeFlag) throws ConfigException {
        String label = file.toString();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(label, 0, 0, "", "no such file");
        } catch (IOException e) {
            throw new ConfigException(label, 0, 0, "", "cannot read: " + e);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ConfigException(label, 0, 0, "", "not UTF-8 text");
        }
        return parse(label, text, modeFlag);
    }

    /** Parses YAML text; {@code label} names it in messages. */
    public static Result parse(String label, String text) throws ConfigException {
        return parse(label, text, null);
    }

    /** As {@link #parse(String, String)}, for a daemon run in modeFlag when not null (see {@link #read(Path, ProxyMode)}). */
    public static Result parse(String label, String text, ProxyMode modeFlag) throws ConfigException {
        LoadSettings settings = LoadSettings.builder().setLabel(label).setSchema(new CoreSchema()).setUseMarks(true)
                .setAllowDuplicateKeys(true) // reported below with both lines, rather than as a bare parser error
                .build();
        List<Node> docs = new ArrayList<>();
        try {
            new Compose(settings).composeAllFromString(text).forEach(docs::add);
        } catch (MarkedYamlEngineException e) {
            Optional<Mark> m = e.getProblemMark();
            String problem = e.getProblem() == null ? "not valid YAML" : e.getProblem();
            if (e.getContext() != null) problem = e.getContext() + ": " + problem;
            throw new ConfigException(label, m.map(x -> x.getLine() + 1).orElse(0), m.map(x -> x.getColumn() + 1).orElse(0),
                    "", "not valid YAML: " + problem);
        } catch (YamlEngineException e) {
            throw new ConfigException(label, 0, 0, "", "not valid YAML: " + e.getMessage());
        }
        docs.removeIf(d -> d instanceof ScalarNode s && s.getTag().equals(Tag.NULL));
        if (docs.isEmpty()) {
            throw new ConfigException(label, 0, 0, "", "empty file: expected a " + KIND + " (apiVersion: " + API_VERSION + ")");
        }
        if (docs.size() > 1) {
            throw new ConfigException(label, line(docs.get(1)), 0, "", "several YAML documents: expected one " + KIND);
        }
        return new Document(label, modeFlag).read(docs.get(0));
    }

    /** One walk over one document; collects warnings, throws at the first bad value. */
    private static final class Document {
        private final String label;
        private final List<String> warnings = new ArrayList<>();
        private final ProxyMode modeFlag;

        Document(String label, ProxyMode modeFlag) {
            this.label = label;
            this.modeFlag = modeFlag;
        }

        Result read(Node root) throws ConfigException {
            Map<String, Node> top = fields(root, "", Set.of("apiVersion", "kind", "clientConnection", "hostnameOverride",
                    "bindAddress", "healthzBindAddress", "metricsBindAddress", "mode", "iptables", "ipvs", "nftables",
                    "clusterCIDR", "nodePortAddresses", "conntrack", "featureGates"));
            String apiVersion = string(top, "apiVersion", "");
            if (!API_VERSION.equals(apiVersion)) {
                throw error(top.getOrDefault("apiVersion", root), "apiVersion",
                        (apiVersion.isEmpty() ? "Required value" : "Unsupported value \"" + apiVersion + "\"") + ": expected " + API_VERSION);
            }
            String kind = string(top, "kind", "");
            if (!KIND.equals(kind)) {
                throw error(top.getOrDefault("kind", root), "kind",
                        (kind.isEmpty() ? "Required value" : "Unsupported value \"" + kind + "\"") + ": expected " + KIND);
            }
            ProxyConfig d = ProxyConfig.defaults();

            ProxyMode mode;
            try {
                mode = ProxyMode.named(string(top, "mode", "")).requireAvailable();
            } catch (IllegalArgumentException e) {
                throw error(top.get("mode"), "mode", e.getMessage());
            }
            // The command line's mode wins over the file's, and so does the section it reads.
            ProxyMode effective = modeFlag != null ? modeFlag : mode;

            Map<String, Node> client = section(top, "clientConnection", Set.of("kubeconfig"));
            String kubeconfig = string(client, "clientConnection.kubeconfig", "kubeconfig", "");

            Map<String, Node> iptables = section(top, "iptables", Set.of("syncPeriod", "minSyncPeriod", "masqueradeAll",
                    "localhostNodePorts"));
            Map<String, Node> ipvs = section(top, "ipvs", Set.of("syncPeriod", "minSyncPeriod", "scheduler"));
            Map<String, Node> nftables = section(top, "nftables", Set.of("syncPeriod", "minSyncPeriod", "masqueradeAll"));
            // kube-proxy reads the periods of the section named by its mode; Ferry's default mode reads iptables'.
            String periods = switch (effective) {
                case IPVS -> "ipvs";
                case NFTABLES -> "nftables";
                default -> "iptables";
            };
            Map<String, Node> periodSection = switch (effective) {
                case IPVS -> ipvs;
                case NFTABLES -> nftables;
                default -> iptables;
            };
            // As kube-proxy's defaulting: a zero period means the default (kubeadm writes "0s" for unset).
            Duration syncPeriod = orDefault(duration(periodSection, periods + ".syncPeriod", "syncPeriod", d.syncPeriod()), d.syncPeriod());
            if (syncPeriod.isNegative()) {
                throw error(periodSection.get("syncPeriod"), periods + ".syncPeriod", "must be greater than 0");
            }
            Duration minSyncPeriod = orDefault(duration(periodSection, periods + ".minSyncPeriod", "minSyncPeriod", d.minSyncPeriod()),
                    d.minSyncPeriod());
            if (minSyncPeriod.isNegative()) {
                throw error(periodSection.get("minSyncPeriod"), periods + ".minSyncPeriod", "must be greater than or equal to 0");
            }
            if (minSyncPeriod.compareTo(syncPeriod) > 0) {
                throw error(periodSection.get("minSyncPeriod"), periods + ".minSyncPeriod", "must be less than or equal to "
                        + periods + ".syncPeriod (" + GoDuration.format(syncPeriod) + ")");
            }
            boolean masqueradeAll = effective == ProxyMode.NFTABLES
                    ? bool(nftables, "nftables.masqueradeAll", "masqueradeAll", false)
                    : bool(iptables, "iptables.masqueradeAll", "masqueradeAll", false);

            boolean localhostNodePorts = bool(iptables, "iptables.localhostNodePorts", "localhostNodePorts", d.localhostNodePorts());

            Algorithm scheduler = d.scheduler();
            String schedulerName = string(ipvs, "ipvs.scheduler", "scheduler", "");
            if (!schedulerName.isEmpty()) {
                try {
                    scheduler = Algorithm.named(schedulerName);
                } catch (RuntimeException e) {
                    throw error(ipvs.get("scheduler"), "ipvs.scheduler", "Unsupported value \"" + schedulerName
                            + "\": supported values are " + String.join(", ", Algorithm.validNames()));
                }
            }

            List<Cidr> clusterCIDRs = new ArrayList<>();
            String clusterCIDR = string(top, "clusterCIDR", "");
            if (!clusterCIDR.isBlank()) {
                for (String part : clusterCIDR.split(",", -1)) {
                    try {
                        if (part.trim().indexOf('/') < 0) throw new IllegalArgumentException("missing /prefix");
                        clusterCIDRs.add(Cidr.parse(part.trim()));
                    } catch (IllegalArgumentException e) {
                        throw error(top.get("clusterCIDR"), "clusterCIDR", "invalid CIDR \"" + part.trim() + "\": " + e.getMessage());
                    }
                }
                if (clusterCIDRs.size() > 2 || (clusterCIDRs.size() == 2
                        && clusterCIDRs.get(0).isIpv6() == clusterCIDRs.get(1).isIpv6())) {
                    throw error(top.get("clusterCIDR"), "clusterCIDR",
                            "at most one IPv4 and one IPv6 CIDR may be given (dual stack), got \"" + clusterCIDR + "\"");
                }
            }

            InetAddress bindAddress = d.bindAddress();
            String bind = string(top, "bindAddress", "");
            if (!bind.isEmpty()) {
                bindAddress = IpAddresses.parse(bind);
                if (bindAddress == null) {
                    throw error(top.get("bindAddress"), "bindAddress", "\"" + bind + "\" is not an IP address");
                }
            }
            BindAddress healthz = bindAddress(top, "healthzBindAddress", d.healthzBindAddress());
            BindAddress metrics = bindAddress(top, "metricsBindAddress", d.metricsBindAddress());

            List<String> nodePortAddresses = new ArrayList<>();
            Node npa = top.get("nodePortAddresses");
            if (npa != null && !isNull(npa)) {
                if (!(npa instanceof SequenceNode seq)) {
                    throw error(npa, "nodePortAddresses", "expected a list of CIDRs, got " + describe(npa));
                }
                for (int i = 0; i < seq.getValue().size(); i++) {
                    Node item = seq.getValue().get(i);
                    String path = "nodePortAddresses[" + i + "]";
                    String v = scalarString(item, path);
                    if (!v.equals("primary")) {
                        try {
                            if (v.indexOf('/') < 0) throw new IllegalArgumentException("missing /prefix");
                            Cidr.parse(v);
                        } catch (IllegalArgumentException e) {
                            throw error(item, path, "must be a CIDR or \"primary\": \"" + v + "\" (" + e.getMessage() + ")");
                        }
                    }
                    nodePortAddresses.add(v);
                }
                if (nodePortAddresses.contains("primary") && nodePortAddresses.size() > 1) {
                    throw error(npa, "nodePortAddresses", "\"primary\" cannot be combined with CIDRs");
                }
            }

            Map<String, Node> ct = section(top, "conntrack", Set.of("maxPerCore", "min", "tcpEstablishedTimeout",
                    "tcpCloseWaitTimeout", "tcpBeLiberal", "udpTimeout", "udpStreamTimeout"));
            ProxyConfig.Conntrack cd = ProxyConfig.Conntrack.DEFAULTS;
            ProxyConfig.Conntrack conntrack = new ProxyConfig.Conntrack(
                    nonNegativeInt(ct, "maxPerCore", cd.maxPerCore()),
                    nonNegativeInt(ct, "min", cd.min()),
                    nonNegativeDuration(ct, "tcpEstablishedTimeout", cd.tcpEstablishedTimeout()),
                    nonNegativeDuration(ct, "tcpCloseWaitTimeout", cd.tcpCloseWaitTimeout()),
                    bool(ct, "conntrack.tcpBeLiberal", "tcpBeLiberal", cd.tcpBeLiberal()),
                    nonNegativeDuration(ct, "udpTimeout", cd.udpTimeout()),
                    nonNegativeDuration(ct, "udpStreamTimeout", cd.udpStreamTimeout()));

            String hostnameOverride = string(top, "hostnameOverride", "").trim();
            // Only the gate Ferry acts on is known; any other gate is warned about with its line.
            Map<String, Node> gates = section(top, "featureGates", Set.of("MultiCIDRServiceAllocator"));
            boolean multiCidr = bool(gates, "featureGates.MultiCIDRServiceAllocator", "MultiCIDRServiceAllocator",
                    d.multiCidrServiceAllocator());

            ProxyConfig config = new ProxyConfig(mode, clusterCIDRs, bindAddress, healthz, metrics, nodePortAddresses,
                    syncPeriod, minSyncPeriod, masqueradeAll, conntrack, hostnameOverride, kubeconfig, scheduler,
                    localhostNodePorts, multiCidr);
            return new Result(config, warnings);
        }

        /** The fields of a mapping by key; unknown keys are warned about, known-but-unused ones noted. */
        private Map<String, Node> fields(Node node, String prefix, Set<String> known) throws ConfigException {
            String at = prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
            if (!(node instanceof MappingNode m)) {
                throw error(node, at, "expected a mapping, got " + describe(node));
            }
            Map<String, Node> out = new HashMap<>();
            Map<String, Node> keys = new HashMap<>();
            for (NodeTuple t : m.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    throw error(t.getKeyNode(), at, "keys must be plain strings");
                }
                String key = k.getValue();
                String path = prefix + key;
                Node first = keys.putIfAbsent(key, k);
                if (first != null) {
                    throw error(k, path, "duplicate key (first at line " + line(first) + ")");
                }
                if (known.contains(key)) {
                    out.put(key, t.getValueNode());
                } else if (NOT_USED.contains(path)) {
                    warnings.add(label + ":" + line(k) + ": " + path + ": a kube-proxy setting Ferry does not use; ignored");
                } else {
                    warnings.add(label + ":" + line(k) + ": " + path + ": unknown field; ignored");
                }
            }
            return out;
        }

        private Map<String, Node> section(Map<String, Node> top, String name, Set<String> known) throws ConfigException {
            Node n = top.get(name);
            if (n == null || isNull(n)) {
                return Map.of();
            }
            return fields(n, name + ".", known);
        }

        private String string(Map<String, Node> fields, String key, String dflt) throws ConfigException {
            return string(fields, key, key, dflt);
        }

        private String string(Map<String, Node> fields, String path, String key, String dflt) throws ConfigException {
            Node n = fields.get(key);
            if (n == null || isNull(n)) {
                return dflt;
            }
            return scalarString(n, path);
        }

        private String scalarString(Node n, String path) throws ConfigException {
            if (!(n instanceof ScalarNode s) || !s.getTag().equals(Tag.STR)) {
                throw error(n, path, "expected a string, got " + describe(n));
            }
            return s.getValue();
        }

        private boolean bool(Map<String, Node> fields, String path, String key, boolean dflt) throws ConfigException {
            Node n = fields.get(key);
            if (n == null || isNull(n)) {
                return dflt;
            }
            if (!(n instanceof ScalarNode s) || !s.getTag().equals(Tag.BOOL)) {
                throw error(n, path, "expected true or false, got " + describe(n));
            }
            return Boolean.parseBoolean(s.getValue());
        }

        private int nonNegativeInt(Map<String, Node> fields, String key, int dflt) throws ConfigException {
            String path = "conntrack." + key;
            Node n = fields.get(key);
            if (n == null || isNull(n)) {
                return dflt;
            }
            if (!(n instanceof ScalarNode s) || !s.getTag().equals(Tag.INT)) {
                throw error(n, path, "expected an integer, got " + describe(n));
            }
            long v;
            try {
                v = Long.decode(s.getValue().replace("0o", "0"));
            } catch (NumberFormatException e) {
                throw error(n, path, "\"" + s.getValue() + "\" is out of range for an int32");
            }
            if (v < 0) {
                throw error(n, path, "must be greater than or equal to 0");
            }
            if (v > Integer.MAX_VALUE) {
                throw error(n, path, s.getValue() + " is out of range for an int32");
            }
            return (int) v;
        }

        private Duration nonNegativeDuration(Map<String, Node> fields, String key, Duration dflt) throws ConfigException {
            Duration v = duration(fields, "conntrack." + key, key, dflt);
            if (v.isNegative()) {
                throw error(fields.get(key), "conntrack." + key, "must be greater than or equal to 0");
            }
            return v;
        }

        private Duration duration(Map<String, Node> fields, String path, String key, Duration dflt) throws ConfigException {
            Node n = fields.get(key);
            if (n == null || isNull(n)) {
                return dflt;
            }
            if (!(n instanceof ScalarNode s) || !s.getTag().equals(Tag.STR)) {
                String hint = n instanceof ScalarNode s && (s.getTag().equals(Tag.INT) || s.getTag().equals(Tag.FLOAT))
                        ? " (a bare number has no unit: write e.g. \"" + s.getValue() + "s\")" : "";
                throw error(n, path, "expected a duration string, got " + describe(n) + hint);
            }
            try {
                return GoDuration.parse(s.getValue());
            } catch (IllegalArgumentException e) {
                throw error(n, path, e.getMessage());
            }
        }

        private BindAddress bindAddress(Map<String, Node> fields, String key, BindAddress dflt) throws ConfigException {
            String v = string(fields, key, "");
            if (v.isEmpty()) {
                return dflt;
            }
            try {
                return BindAddress.parse(v, dflt.port());
            } catch (IllegalArgumentException e) {
                throw error(fields.get(key), key, e.getMessage());
            }
        }

        private ConfigException error(Node n, String path, String problem) {
            Optional<Mark> m = n == null ? Optional.empty() : n.getStartMark();
            return new ConfigException(label, m.map(x -> x.getLine() + 1).orElse(0), m.map(x -> x.getColumn() + 1).orElse(0),
                    path, problem);
        }
    }

    private static Duration orDefault(Duration d, Duration dflt) {
        return d.isZero() ? dflt : d;
    }

    private static boolean isNull(Node n) {
        return n instanceof ScalarNode s && s.getTag().equals(Tag.NULL);
    }

    private static int line(Node n) {
        return n.getStartMark().map(m -> m.getLine() + 1).orElse(0);
    }

    private static String describe(Node n) {
        if (n instanceof MappingNode) return "a mapping";
        if (n instanceof SequenceNode) return "a list";
        if (n instanceof ScalarNode s) {
            String type = s.getTag().equals(Tag.INT) ? "integer" : s.getTag().equals(Tag.FLOAT) ? "number"
                    : s.getTag().equals(Tag.BOOL) ? "boolean" : s.getTag().equals(Tag.NULL) ? "null" : "string";
            return type + " " + (s.getTag().equals(Tag.STR) ? "\"" + s.getValue() + "\"" : s.getValue());
        }
        return "a " + n.getNodeType();
    }
}
