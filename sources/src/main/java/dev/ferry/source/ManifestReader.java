package dev.ferry.source;

import dev.ferry.source.Manifest.Origin;
import dev.ferry.source.Manifest.Position;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Parse;
import org.snakeyaml.engine.v2.events.DocumentStartEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.events.MappingEndEvent;
import org.snakeyaml.engine.v2.events.MappingStartEvent;
import org.snakeyaml.engine.v2.events.SequenceEndEvent;
import org.snakeyaml.engine.v2.events.SequenceStartEvent;
import org.snakeyaml.engine.v2.events.StreamEndEvent;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
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
 * <p>The file is decoded as strict UTF-8 ({@link StrictUtf8Reader}) and parsed into events
 * (snakeyaml-engine, YAML 1.2 core schema); {@link NodeReader} builds one object at a time from them
 * — each item of a list on its own — which is turned into a Jackson tree, bound with fabric8's own
 * serialization and dropped before the next is read. So memory grows with the objects the file
 * holds, not with several copies of its text and trees. A binding failure is mapped back to the
 * node it came from, so every error names the file, the line, the column and the field. Duplicate
 * keys are an error, as in {@code kubectl apply}. Limits ({@link Limits}): the file's size, and how
 * far aliases may expand it. Stateless and thread-safe.
 */
public final class ManifestReader {
    private static final Logger log = LoggerFactory.getLogger(ManifestReader.class);
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final int MAX_DEPTH = NodeReader.MAX_DEPTH;

    /**
     * What one file may cost: at most {@code maxBytes} bytes, and aliases that expand it by at most
     * the nodes it writes out plus {@code aliasAllowance} (so alias expansion can at most double a
     * large file, and a small one can still share a block or two).
     */
    public record Limits(long maxBytes, long aliasAllowance) {
        /** 256 MiB: a 77 000-service kubectl dump is about 50 MB. */
        public static final long DEFAULT_MAX_BYTES = 256L << 20;
        public static final long DEFAULT_ALIAS_ALLOWANCE = 10_000;
        public static final Limits DEFAULTS = new Limits(DEFAULT_MAX_BYTES, DEFAULT_ALIAS_ALLOWANCE);

        public Limits {
            if (maxBytes <= 0 || aliasAllowance < 0) {
                throw new IllegalArgumentException("limits must be positive: " + maxBytes + " bytes, " + aliasAllowance + " alias nodes");
            }
        }

        public Limits withMaxBytes(long bytes) {
            return new Limits(bytes, aliasAllowance);
        }
    }

    private ManifestReader() {}

    /** Reads and parses {@code file} under the default limits; the file is named as given in every message. */
    public static Manifest read(Path file) throws ManifestException {
        return read(file, Limits.DEFAULTS);
    }

    /** Reads and parses {@code file}; the file is named as given in every message. */
    public static Manifest read(Path file, Limits limits) throws ManifestException {
        String label = file.toString();
        try (InputStream in = Files.newInputStream(file)) {
            long size = Files.size(file);
            if (size > limits.maxBytes()) {
                throw new ManifestException(label, 0, 0, "", "the file is " + size + " bytes, larger than the limit of "
                        + limits.maxBytes() + " bytes (--source-max-bytes)", null);
            }
            return parse(label, new StrictUtf8Reader(label, in, limits.maxBytes()), limits);
        } catch (NoSuchFileException e) {
            throw new ManifestException(label, 0, 0, "", "no such file", e);
        } catch (IOException e) {
            throw new ManifestException(label, 0, 0, "", "cannot read: " + e, e);
        }
    }

    /** Parses YAML text; {@code label} names it in messages (usually the file name). */
    public static Manifest parse(String label, String text) throws ManifestException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        return parse(label, new StrictUtf8Reader(label, new ByteArrayInputStream(bytes), bytes.length), Limits.DEFAULTS);
    }

    private static Manifest parse(String label, StrictUtf8Reader text, Limits limits) throws ManifestException {
        LoadSettings settings = LoadSettings.builder()
                .setLabel(label)
                .setSchema(new CoreSchema())
                .setUseMarks(true)
                .setCodePointLimit(Integer.MAX_VALUE) // the reader enforces the limit, in bytes
                .build();
        Output out = new Output();
        try {
            NodeReader events = new NodeReader(label, new Parse(settings).parseReader(text).iterator(),
                    settings.getSchema().getScalarResolver(), limits.aliasAllowance());
            events.next(); // stream start
            while (!(events.peek() instanceof StreamEndEvent)) {
                Event start = events.next();
                if (!(start instanceof DocumentStartEvent)) {
                    throw new ManifestException(label, NodeReader.line(start.getStartMark()), NodeReader.column(start.getStartMark()),
                            "", "expected the start of a document, got " + start.getEventId(), null);
                }
                events.newDocument();
                new DocumentReader(label, events, out).read();
                events.next(); // document end
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
            StrictUtf8Reader.BadText bad = find(e, StrictUtf8Reader.BadText.class);
            if (bad != null) {
                throw bad.error;
            }
            IOException io = find(e, IOException.class);
            if (io != null) {
                throw new ManifestException(label, 0, 0, "", "cannot read: " + io, io);
            }
            throw new ManifestException(label, 0, 0, "", "not valid YAML: " + e.getMessage(), e);
        }
        return new Manifest(label, text.bytesRead(), out.services, out.slices, out.origins, out.nodes);
    }

    /** What the documents of one file add up to. */
    private static final class Output {
        final List<Service> services = new ArrayList<>();
        final List<EndpointSlice> slices = new ArrayList<>();
        final Map<String, Origin> origins = new HashMap<>();
        /** Kubernetes Node objects found (the file source learns this node's zone and IPs from them). */
        final List<io.fabric8.kubernetes.api.model.Node> nodes = new ArrayList<>();

        void addAll(Output o) {
            services.addAll(o.services);
            slices.addAll(o.slices);
            o.origins.forEach(origins::putIfAbsent);
            nodes.addAll(o.nodes);
        }
    }

    private static boolean isListKind(String kind) {
        return "List".equals(kind) || "ServiceList".equals(kind) || "EndpointSliceList".equals(kind)
                || "NodeList".equals(kind);
    }

    /**
     * One document. A root mapping's {@code items} list is read item by item (kubectl prints
     * {@code items} before {@code kind}): an item that names its own kind and apiVersion is converted
     * at once into a pending output, kept only if the root turns out to be a list; an item that
     * relies on the list's kind (a ServiceList's) waits, as a tree, until the root's kind is known.
     */
    private static final class DocumentReader {
        private final String label;
        private final NodeReader events;
        private final Output out;

        DocumentReader(String label, NodeReader events, Output out) {
            this.label = label;
            this.events = events;
            this.out = out;
        }

        void read() throws ManifestException {
            Event first = events.next();
            if (!(first instanceof MappingStartEvent m) || m.getAnchor().isPresent()) {
                YamlNode root = events.node(first, 0);
                if (root instanceof YamlNode.Scalar s && s.tag().equals(Tag.NULL)) {
                    return; // an empty document, e.g. after a trailing ---
                }
                new ObjectReader(label, out).read(root, "", null, null);
                return;
            }
            events.countWritten();
            int line = NodeReader.line(first.getStartMark());
            int column = NodeReader.column(first.getStartMark());
            List<YamlNode> keys = new ArrayList<>();
            List<YamlNode> values = new ArrayList<>();
            Output pending = null; // the items that name their own kind, converted
            Map<Integer, YamlNode> waiting = new java.util.TreeMap<>(); // the others, by index, until the list's kind is known
            while (!(events.peek() instanceof MappingEndEvent)) {
                YamlNode key = events.node(events.next(), 1);
                if (pending == null && key instanceof YamlNode.Scalar k && k.plain() && k.value().equals("items")
                        && events.peek() instanceof SequenceStartEvent seq && seq.getAnchor().isEmpty()) {
                    Event start = events.next();
                    events.countWritten();
                    keys.add(key); // an empty stand-in keeps "items" in the root for duplicate-key checks
                    values.add(new YamlNode.Sequence(List.of(), NodeReader.line(start.getStartMark()),
                            NodeReader.column(start.getStartMark()), 1));
                    pending = new Output();
                    for (int i = 0; !(events.peek() instanceof SequenceEndEvent); i++) {
                        YamlNode item = events.node(events.next(), 2);
                        if (selfDescribing(item)) {
                            new ObjectReader(label, pending).read(item, "items[" + i + "].", null, null);
                        } else {
                            waiting.put(i, item);
                        }
                    }
                    events.next();
                    continue;
                }
                YamlNode value = events.node(events.next(), 1);
                keys.add(key);
                values.add(value);
            }
            events.next();
            YamlNode.Mapping root = new YamlNode.Mapping(keys, values, line, column, 1);
            ObjectReader rootReader = new ObjectReader(label, out, true);
            JsonNode tree = rootReader.tree(root);
            String rootKind = rootReader.text(tree, "kind", "", null);
            String rootApi = rootReader.text(tree, "apiVersion", "", null);
            if (pending == null || !isListKind(rootKind)) {
                if (pending != null) {
                    log.debug("{}:{}: the items of a {} are not objects to read", label, line, rootKind);
                }
                rootReader.object(tree, "", null, null);
                return;
            }
            // Items that rely on the list's kind (a ServiceList's) come after those that name their
            // own; a list mixes both only by hand, and order matters only between duplicates.
            out.addAll(pending);
            String itemApi = rootKind.equals("List") ? null : rootApi;
            for (Map.Entry<Integer, YamlNode> e : waiting.entrySet()) {
                new ObjectReader(label, out).read(e.getValue(), "items[" + e.getKey() + "].", itemApi, itemKind(rootKind));
            }
        }

        /** True for a mapping that writes out its own kind and apiVersion as plain values. */
        private static boolean selfDescribing(YamlNode item) {
            if (!(item instanceof YamlNode.Mapping m)) {
                return false;
            }
            boolean kind = false;
            boolean api = false;
            for (int i = 0; i < m.keys().size(); i++) {
                if (m.keys().get(i) instanceof YamlNode.Scalar k && m.values().get(i) instanceof YamlNode.Scalar v
                        && !v.tag().equals(Tag.NULL)) {
                    kind |= k.value().equals("kind");
                    api |= k.value().equals("apiVersion");
                }
            }
            return kind && api;
        }

        private static String itemKind(String listKind) {
            return listKind.equals("List") ? null : listKind.substring(0, listKind.length() - 4);
        }

    }

    /**
     * Converts one tree (a document, or one list item) to Jackson and binds the objects in it,
     * remembering the node at every path for error messages and, once done, where each field of
     * the objects it added was written.
     */
    private static final class ObjectReader {
        private final String label;
        private final Output out;
        private final Map<String, YamlNode> nodes = new HashMap<>();
        private final List<String[]> remembered = new ArrayList<>();
        private PositionIndex.Builder positions = new PositionIndex.Builder();
        /**
         * Whether the node at every path is kept (by its path string) for error messages. A list
         * item is first read without (its positions go straight into the index, by path hash); an
         * error reads it again with them, to say where and what.
         */
        private boolean detailed;

        ObjectReader(String label, Output out) {
            this(label, out, false);
        }

        ObjectReader(String label, Output out, boolean detailed) {
            this.label = label;
            this.out = out;
            this.detailed = detailed;
        }

        /** Reads the object(s) of {@code root}, whose fields are at {@code prefix}. */
        void read(YamlNode root, String prefix, String defaultApiVersion, String defaultKind) throws ManifestException {
            int services = out.services.size();
            int slices = out.slices.size();
            try {
                readOnce(root, prefix, defaultApiVersion, defaultKind);
            } catch (NeedsDetail again) {
                out.services.subList(services, out.services.size()).clear();
                out.slices.subList(slices, out.slices.size()).clear();
                remembered.clear();
                positions = new PositionIndex.Builder();
                detailed = true;
                readOnce(root, prefix, defaultApiVersion, defaultKind);
            }
        }

        private void readOnce(YamlNode root, String prefix, String defaultApiVersion, String defaultKind) throws ManifestException {
            String at = prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
            JsonNode tree = toJson(root, at, PositionIndex.hash(at), 0);
            object(tree, prefix, defaultApiVersion, defaultKind);
        }

        JsonNode tree(YamlNode root) throws ManifestException {
            return toJson(root, "", PositionIndex.hash(""), 0);
        }

        /** Gives the objects this reader added their positions (one index for all of them). */
        private void finish() {
            if (remembered.isEmpty()) {
                return;
            }
            PositionIndex index = detailed ? PositionIndex.of(nodes) : positions.build();
            for (String[] r : remembered) {
                out.origins.putIfAbsent(r[0], new Origin(r[1], index));
            }
            remembered.clear();
        }

        /** Dispatches one object (a document or a list item) by apiVersion and kind. */
        private void object(JsonNode tree, String prefix, String defaultApiVersion, String defaultKind)
                throws ManifestException {
            objectIn(tree, prefix, defaultApiVersion, defaultKind);
            finish();
        }

        private void objectIn(JsonNode tree, String prefix, String defaultApiVersion, String defaultKind)
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
                        objectIn(items.get(i), prefix + "items[" + i + "].", itemApi, itemKind);
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
                    out.services.add(s);
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
                    out.slices.add(s);
                    remember("EndpointSlice", s.getMetadata(), prefix);
                }
                case "Node" -> {
                    if (!"v1".equals(apiVersion)) {
                        log.debug("{}: {}: skipping {} {} (not a core v1 Node)", label, at, apiVersion, kind);
                        return;
                    }
                    out.nodes.add(bind(tree, prefix, io.fabric8.kubernetes.api.model.Node.class));
                }
                default -> log.debug("{}:{}: skipping kind {} {}", label, line(prefix), apiVersion, kind);
            }
        }

        private void remember(String kind, io.fabric8.kubernetes.api.model.ObjectMeta meta, String prefix) {
            String ns = meta == null || meta.getNamespace() == null || meta.getNamespace().isEmpty()
                    ? dev.ferry.convert.ServiceConverter.DEFAULT_NAMESPACE : meta.getNamespace();
            String name = meta == null || meta.getName() == null ? "" : meta.getName();
            remembered.add(new String[] {Manifest.key(kind, ns, name), prefix});
        }

        String text(JsonNode tree, String field, String prefix, String fallback) throws ManifestException {
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
                YamlNode node = nodes.get(path);
                String expected = expected(de);
                String problem = expected == null
                        ? firstLine(de.getOriginalMessage())
                        : "expected " + expected + ", got " + describe(node);
                throw error(path, problem);
            }
        }

        // ---- tree conversion, remembering the node at every path ----

        /**
         * Converts {@code node}, at {@code path} (null when not {@link #detailed}) whose hash is
         * {@code hash}, remembering where it is.
         */
        private JsonNode toJson(YamlNode node, String path, long hash, int depth) throws ManifestException {
            if (detailed) {
                nodes.put(path, node);
            } else {
                positions.add(hash, node.line(), node.column());
            }
            if (depth > MAX_DEPTH) {
                throw error(path, "nested more than " + MAX_DEPTH + " levels deep");
            }
            YamlNode n = YamlNode.resolve(node);
            if (n instanceof YamlNode.Scalar s) {
                return scalar(s);
            }
            if (n instanceof YamlNode.Sequence seq) {
                ArrayNode a = NODES.arrayNode();
                List<YamlNode> items = seq.items();
                for (int i = 0; i < items.size(); i++) {
                    long h = PositionIndex.extend(PositionIndex.extend(PositionIndex.extend(hash, "["), Integer.toString(i)), "]");
                    a.add(toJson(items.get(i), detailed ? path + "[" + i + "]" : null, h, depth + 1));
                }
                return a;
            }
            YamlNode.Mapping map = (YamlNode.Mapping) n;
            ObjectNode o = NODES.objectNode();
            Set<String> keys = new HashSet<>();
            List<YamlNode> merges = new ArrayList<>();
            boolean top = hash == PositionIndex.EMPTY;
            for (int i = 0; i < map.keys().size(); i++) {
                YamlNode keyNode = map.keys().get(i);
                if (!(YamlNode.resolve(keyNode) instanceof YamlNode.Scalar k)) {
                    if (detailed) {
                        nodes.put(path, keyNode);
                    }
                    throw error(path, "a mapping key must be a plain value, got " + describe(keyNode));
                }
                if (k.tag().equals(Tag.MERGE) || (k.value().equals("<<") && k.plain())) {
                    merges.add(map.values().get(i));
                    continue;
                }
                String key = k.value();
                String child = !detailed ? null : path.isEmpty() ? key : path + "." + key;
                if (!keys.add(key)) {
                    if (detailed) {
                        nodes.put(child, keyNode);
                    }
                    throw error(child, "duplicate key " + quote(key));
                }
                long h = top ? PositionIndex.hash(key) : PositionIndex.extend(PositionIndex.extend(hash, "."), key);
                o.set(key, toJson(map.values().get(i), child, h, depth + 1));
            }
            long mergeHash = PositionIndex.extend(hash, ".<<");
            for (YamlNode m : merges) { // "<<: *base": keys written here win over merged ones
                YamlNode v = YamlNode.resolve(m);
                List<YamlNode> sources = v instanceof YamlNode.Sequence s ? s.items() : List.of(m);
                for (YamlNode src : sources) {
                    JsonNode merged = toJson(src, detailed ? path + ".<<" : null, mergeHash, depth + 1);
                    if (!merged.isObject()) {
                        throw error(detailed ? path + ".<<" : null, "a merge key needs a mapping, got " + describe(src));
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

        private static JsonNode scalar(YamlNode.Scalar s) {
            String v = s.value();
            Tag tag = s.tag();
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
            if (!detailed) {
                throw NeedsDetail.INSTANCE;
            }
            Position p = nearest(at);
            String shown = problem.startsWith(lastSegment(field) + ": ") ? problem.substring(lastSegment(field).length() + 2) : problem;
            return new ManifestException(label, p == null ? 0 : p.line(), p == null ? 0 : p.column(), field, shown, null);
        }

        private Position nearest(String path) {
            String p = path;
            while (true) {
                YamlNode n = nodes.get(p);
                if (n != null && n.line() > 0) {
                    return new Position(n.line(), n.column());
                }
                if (p.isEmpty()) {
                    return null;
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

    /** Thrown by a reader that keeps no paths when it meets an error: the caller reads again, keeping them. */
    private static final class NeedsDetail extends RuntimeException {
        private static final long serialVersionUID = 1L;
        static final NeedsDetail INSTANCE = new NeedsDetail();

        private NeedsDetail() {
            super("read again with paths", null, false, false);
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
    static String describe(YamlNode node) {
        if (node == null) {
            return "nothing";
        }
        YamlNode n = YamlNode.resolve(node);
        if (n instanceof YamlNode.Scalar s) {
            if (s.tag().equals(Tag.NULL)) {
                return "null";
            }
            return s.tag().equals(Tag.STR) ? quote(s.value()) : s.value();
        }
        return n instanceof YamlNode.Sequence ? "a list" : "a mapping";
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
