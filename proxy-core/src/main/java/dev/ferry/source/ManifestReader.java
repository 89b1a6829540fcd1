package dev.ferry.source;

import dev.ferry.source.Manifest.Origin;
import dev.ferry.source.Manifest.Position;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * Reads a Kubernetes YAML file into fabric8 Services and EndpointSlices: several documents
 * ({@code ---}), {@code kind: List} / {@code ServiceList} / {@code EndpointSliceList} as
 * {@code kubectl get svc,endpointslices -A -o yaml} prints them (Nodes and NodeLists too, for this
 * node's zone and addresses: {@code kubectl get nodes,svc,endpointslices -A -o yaml}); other kinds are
 * skipped (debug log).
 *
 * <p>Each document is composed with snakeyaml-engine (YAML 1.2 core schema) into a node tree that
 * keeps line and column, turned into a Jackson tree and bound with fabric8's own serialization; a
 * binding failure is mapped back to the node it came from, so every error names the file, the line,
 * the column and the field. Duplicate keys are an error, as in {@code kubectl apply}. Stateless and
 * thread-safe.
 */
public final class ManifestReader {
    private static final Logger log = LoggerFactory.getLogger(ManifestReader.class);
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final int MAX_DEPTH = 100;

    private ManifestReader() {}

    /** Reads and parses {@code file}; the file is named as given in every message. */
    public static Manifest read(Path file) throws ManifestException {
        String label = file.toString();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ManifestException(label, 0, 0, "", "no such file", e);
        } catch (IOException e) {
            throw new ManifestException(label, 0, 0, "", "cannot read: " + e, e);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ManifestException(label, 0, 0, "", "not UTF-8 text", e);
        }
        return parse(label, text);
    }

    /** Parses YAML text; {@code label} names it in messages (usually the file name). */
    public static Manifest parse(String label, String text) throws ManifestException {
        LoadSettings settings = LoadSettings.builder()
                .setLabel(label)
                .setSchema(new CoreSchema())
                .setUseMarks(true)
                .setCodePointLimit(Integer.MAX_VALUE)
                .build();
        List<Service> services = new ArrayList<>();
        List<EndpointSlice> slices = new ArrayList<>();
        Map<String, Origin> origins = new HashMap<>();
        List<io.fabric8.kubernetes.api.model.Node> k8sNodes = new ArrayList<>();
        try {
            for (Node doc : new Compose(settings).composeAllFromString(text)) {
                Document d = new Document(label, services, slices, origins);
                d.k8sNodes = k8sNodes;
                d.read(doc);
            }
        } catch (MarkedYamlEngineException e) {
            Optional<Mark> m = e.getProblemMark();
            String problem = e.getProblem() == null ? "not valid YAML" : e.getProblem();
            if (e.getContext() != null && e.getContextMark().isPresent()) {
                problem = problem + " (" + e.getContext() + " at line " + (e.getContextMark().get().getLine() + 1) + ")";
            } else if (e.getContext() != null) {
                problem = e.getContext() + ": " + problem;
            }
            throw new ManifestException(label, m.map(x -> x.getLine() + 1).orElse(0), m.map(x -> x.getColumn() + 1).orElse(0),
                    "", problem, e);
        } catch (YamlEngineException e) {
            throw new ManifestException(label, 0, 0, "", "not valid YAML: " + e.getMessage(), e);
        }
        return new Manifest(label, services, slices, origins, k8sNodes);
    }

    /** One YAML document: its tree, the position of every node by path, and what it holds. */
    private static final class Document {
        private final String label;
        private final List<Service> services;
        private final List<EndpointSlice> slices;
        private final Map<String, Origin> origins;
        private final Map<String, Position> positions = new HashMap<>();
        private final Map<String, Node> nodes = new HashMap<>();
        /** Kubernetes Node objects found (the file source learns this node's zone and IPs from them). */
        List<io.fabric8.kubernetes.api.model.Node> k8sNodes = new ArrayList<>();

        Document(String label, List<Service> services, List<EndpointSlice> slices, Map<String, Origin> origins) {
            this.label = label;
            this.services = services;
            this.slices = slices;
            this.origins = origins;
        }

        void read(Node root) throws ManifestException {
            JsonNode tree = toJson(root, "", 0);
            if (tree.isNull()) {
                return; // an empty document, e.g. after a trailing ---
            }
            object(tree, "", null, null);
        }

        /** Dispatches one object (a document or a list item) by apiVersion and kind. */
        private void object(JsonNode tree, String prefix, String defaultApiVersion, String defaultKind)
                throws ManifestException {
            String at = prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
            if (!tree.isObject()) {
                throw error(at, "expected a mapping (a Kubernetes object), got " + describe(nodes.get(at)));
            }
            String kind = text(tree, "kind", prefix, defaultKind);
            String apiVersion = text(tree, "apiVersion", prefix, defaultApiVersion);
            if (kind == null) {
                throw error(at, "kind: Required value: every object needs a kind", prefix + "kind");
            }
            switch (kind) {
                case "List", "ServiceList", "EndpointSliceList", "NodeList" -> {
                    JsonNode items = tree.get("items");
                    if (items == null || items.isNull()) {
                        return;
                    }
                    if (!items.isArray()) {
                        throw error(prefix + "items", "expected a list, got " + describe(nodes.get(prefix + "items")));
                    }
                    String itemKind = kind.equals("List") ? null : kind.substring(0, kind.length() - 4);
                    String itemApi = kind.equals("List") ? null : apiVersion;
                    for (int i = 0; i < items.size(); i++) {
                        object(items.get(i), prefix + "items[" + i + "].", itemApi, itemKind);
                    }
                }
                case "Service" -> {
                    if (!"v1".equals(apiVersion)) {
                        log.debug("{}: {}: skipping {} {} (not a core v1 Service)", label, at, apiVersion, kind);
                        return;
                    }
                    Service s = bind(tree, prefix, Service.class);
                    s.setApiVersion("v1");
                    s.setKind("Service");
                    services.add(s);
                    remember("Service", s.getMetadata(), prefix);
                }
                case "EndpointSlice" -> {
                    if (!"discovery.k8s.io/v1".equals(apiVersion)) {
                        log.debug("{}: {}: skipping {} {} (only discovery.k8s.io/v1 is read)", label, at, apiVersion, kind);
                        return;
                    }
                    EndpointSlice s = bind(tree, prefix, EndpointSlice.class);
                    s.setApiVersion("discovery.k8s.io/v1");
                    s.setKind("EndpointSlice");
                    slices.add(s);
                    remember("EndpointSlice", s.getMetadata(), prefix);
                }
                case "Node" -> {
                    if (!"v1".equals(apiVersion)) {
                        log.debug("{}: {}: skipping {} {} (not a core v1 Node)", label, at, apiVersion, kind);
                        return;
                    }
                    k8sNodes.add(bind(tree, prefix, io.fabric8.kubernetes.api.model.Node.class));
                }
                default -> log.debug("{}:{}: skipping kind {} {}", label, line(prefix), apiVersion, kind);
            }
        }

        private void remember(String kind, io.fabric8.kubernetes.api.model.ObjectMeta meta, String prefix) {
            String ns = meta == null || meta.getNamespace() == null || meta.getNamespace().isEmpty()
                    ? dev.ferry.convert.ServiceConverter.DEFAULT_NAMESPACE : meta.getNamespace();
            String name = meta == null || meta.getName() == null ? "" : meta.getName();
            origins.putIfAbsent(Manifest.key(kind, ns, name), new Origin(prefix, positions));
        }

        private String text(JsonNode tree, String field, String prefix, String fallback) throws ManifestException {
            JsonNode n = tree.get(field);
            if (n == null || n.isNull()) {
                return fallback;
            }
            if (!n.isValueNode() || n.isBoolean()) {
                throw error(prefix + field, "expected a string, got " + describe(nodes.get(prefix + field)));
            }
            return n.asString();
        }

        private <T> T bind(JsonNode tree, String prefix, Class<T> type) throws ManifestException {
            try {
                return SERIALIZATION.convertValue(tree, type);
            } catch (IllegalArgumentException | JacksonException e) {
                DatabindException de = find(e, DatabindException.class);
                if (de == null) {
                    throw error(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1), String.valueOf(e.getMessage()));
                }
                String path = prefix + jacksonPath(de.getPath());
                Node node = nodes.get(path);
                String expected = expected(de);
                String problem = expected == null
                        ? firstLine(de.getOriginalMessage())
                        : "expected " + expected + ", got " + describe(node);
                throw error(path, problem);
            }
        }

        // ---- tree conversion, remembering where every node is ----

        private JsonNode toJson(Node node, String path, int depth) throws ManifestException {
            nodes.put(path, node);
            node.getStartMark().ifPresent(m -> positions.put(path, new Position(m.getLine() + 1, m.getColumn() + 1)));
            if (depth > MAX_DEPTH) {
                throw error(path, "nested more than " + MAX_DEPTH + " levels deep (a recursive alias?)");
            }
            if (node instanceof ScalarNode s) {
                return scalar(s);
            }
            if (node instanceof SequenceNode seq) {
                ArrayNode a = NODES.arrayNode();
                List<Node> items = seq.getValue();
                for (int i = 0; i < items.size(); i++) {
                    a.add(toJson(items.get(i), path + "[" + i + "]", depth + 1));
                }
                return a;
            }
            MappingNode map = (MappingNode) node;
            ObjectNode o = NODES.objectNode();
            Map<String, Node> keys = new LinkedHashMap<>();
            List<NodeTuple> merges = new ArrayList<>();
            for (NodeTuple t : map.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    nodes.put(path, t.getKeyNode());
                    t.getKeyNode().getStartMark().ifPresent(m -> positions.put(path, new Position(m.getLine() + 1, m.getColumn() + 1)));
                    throw error(path, "a mapping key must be a plain value, got " + describe(t.getKeyNode()));
                }
                if (k.getTag().equals(Tag.MERGE) || (k.getValue().equals("<<") && k.isPlain())) {
                    merges.add(t);
                    continue;
                }
                String key = k.getValue();
                String child = path.isEmpty() ? key : path + "." + key;
                if (keys.putIfAbsent(key, k) != null) {
                    k.getStartMark().ifPresent(m -> positions.put(child, new Position(m.getLine() + 1, m.getColumn() + 1)));
                    throw error(child, "duplicate key " + quote(key));
                }
                o.set(key, toJson(t.getValueNode(), child, depth + 1));
            }
            for (NodeTuple t : merges) { // "<<: *base": keys written here win over merged ones
                Collection<Node> sources = t.getValueNode() instanceof SequenceNode s ? s.getValue() : List.of(t.getValueNode());
                for (Node src : sources) {
                    JsonNode merged = toJson(src, path + ".<<", depth + 1);
                    if (!merged.isObject()) {
                        throw error(path + ".<<", "a merge key needs a mapping, got " + describe(src));
                    }
                    for (Map.Entry<String, JsonNode> e : merged.properties()) {
                        if (!o.has(e.getKey())) {
                            o.set(e.getKey(), e.getValue());
                        }
                    }
                }
            }
            return o;
        }

        private static JsonNode scalar(ScalarNode s) {
            String v = s.getValue();
            Tag tag = s.getTag();
            if (tag.equals(Tag.NULL)) {
                return NODES.nullNode();
            }
            if (tag.equals(Tag.BOOL)) {
                return NODES.booleanNode(v.equalsIgnoreCase("true"));
            }
            if (tag.equals(Tag.INT)) {
                try {
                    String digits = v.startsWith("+") ? v.substring(1) : v;
                    BigInteger b = digits.startsWith("0x") ? new BigInteger(digits.substring(2), 16)
                            : digits.startsWith("0o") ? new BigInteger(digits.substring(2), 8)
                            : new BigInteger(digits);
                    return b.bitLength() < 32 ? NODES.numberNode(b.intValue())
                            : b.bitLength() < 64 ? NODES.numberNode(b.longValue()) : NODES.numberNode(b);
                } catch (NumberFormatException e) {
                    return NODES.stringNode(v);
                }
            }
            if (tag.equals(Tag.FLOAT)) {
                try {
                    return NODES.numberNode(Double.parseDouble(v));
                } catch (NumberFormatException e) {
                    return NODES.stringNode(v);
                }
            }
            return NODES.stringNode(v);
        }

        // ---- messages ----

        private ManifestException error(String path, String problem) {
            return error(path, problem, path);
        }

        private ManifestException error(String at, String problem, String field) {
            Position p = nearest(at);
            String shown = problem.startsWith(lastSegment(field) + ": ") ? problem.substring(lastSegment(field).length() + 2) : problem;
            return new ManifestException(label, p == null ? 0 : p.line(), p == null ? 0 : p.column(), field, shown, null);
        }

        private Position nearest(String path) {
            String p = path;
            while (true) {
                Position pos = positions.get(p);
                if (pos != null || p.isEmpty()) {
                    return pos;
                }
                int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
                p = cut <= 0 ? "" : p.substring(0, cut);
            }
        }

        private int line(String prefix) {
            Position p = nearest(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1));
            return p == null ? 0 : p.line();
        }

        private static String lastSegment(String field) {
            int cut = Math.max(field.lastIndexOf('.'), field.lastIndexOf('['));
            return cut < 0 ? field : field.substring(cut + 1);
        }
    }

    static String jacksonPath(List<JacksonException.Reference> refs) {
        StringBuilder sb = new StringBuilder();
        for (JacksonException.Reference r : refs) {
            if (r.getPropertyName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(r.getPropertyName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    /** What the model wanted, in words, or null when the exception does not say. */
    static String expected(DatabindException e) {
        if (!(e instanceof MismatchedInputException mi) || mi.getTargetType() == null) {
            return e.getMessage() != null && e.getMessage().contains(IntOrString.class.getSimpleName())
                    ? "an integer or a string" : null;
        }
        Class<?> t = mi.getTargetType();
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class || t == Short.class) {
            return "an integer";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (t == Double.class || t == double.class || t == Float.class || t == BigInteger.class) {
            return "a number";
        }
        if (t == String.class) {
            return "a string";
        }
        if (t == IntOrString.class) {
            return "an integer or a string";
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "a list";
        }
        return "a mapping";
    }

    /** How a YAML node reads in a message: a scalar as written (quoted when a string), else its shape. */
    static String describe(Node n) {
        if (n == null) {
            return "nothing";
        }
        if (n instanceof ScalarNode s) {
            if (s.getTag().equals(Tag.NULL)) {
                return "null";
            }
            return s.getTag().equals(Tag.STR) ? quote(s.getValue()) : s.getValue();
        }
        return n instanceof SequenceNode ? "a list" : "a mapping";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "invalid value";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static <E extends Throwable> E find(Throwable t, Class<E> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    /** Quotes a value for a message, shortening long ones. */
    static String quote(String s) {
        String v = s.length() > 60 ? s.substring(0, 57) + "..." : s;
        return "\"" + v.replace("\"", "\\\"") + "\"";
    }
}
