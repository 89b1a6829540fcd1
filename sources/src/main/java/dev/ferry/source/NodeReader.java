package dev.ferry.source;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.common.Anchor;
import org.snakeyaml.engine.v2.events.AliasEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.events.MappingEndEvent;
import org.snakeyaml.engine.v2.events.MappingStartEvent;
import org.snakeyaml.engine.v2.events.NodeEvent;
import org.snakeyaml.engine.v2.events.ScalarEvent;
import org.snakeyaml.engine.v2.events.SequenceEndEvent;
import org.snakeyaml.engine.v2.events.SequenceStartEvent;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;

/**
 * Builds {@link YamlNode}s from the parser's events, one node (a document, or one item of a long
 * list) at a time, so that the caller can convert and drop each part before the next is read.
 *
 * <p>Aliases are checked as they are read, before anything is expanded: an alias to an anchor that
 * is still open (a recursive alias) or unknown is an error, and so is an alias that would make the
 * file expand to more nodes than it writes out plus {@link ManifestReader.Limits#aliasAllowance()}
 * — the "billion laughs" file, whose 50 aliases of aliases stand for 2^50 nodes. Counting nodes
 * rather than aliases is what bounds memory: one alias of a large list is as costly as many small
 * ones. Every error names the line and column of the event at fault. Not thread-safe; anchors live
 * for one document ({@link #newDocument()}).
 */
final class NodeReader {
    static final int MAX_DEPTH = 100;
    private static final int SHARED_MAX_LENGTH = 64;
    private static final int SHARED_MAX_ENTRIES = 1 << 16;

    private final String label;
    private final Iterator<Event> events;
    private final ScalarResolver resolver;
    private final long aliasAllowance;
    private final Map<String, YamlNode> anchors = new HashMap<>();
    private final Set<String> open = new HashSet<>();
    private final Map<String, String> strings = new HashMap<>();
    private Event peeked;
    private long written;
    private long aliased;

    NodeReader(String label, Iterator<Event> events, ScalarResolver resolver, long aliasAllowance) {
        this.label = label;
        this.events = events;
        this.resolver = resolver;
        this.aliasAllowance = aliasAllowance;
    }

    Event peek() {
        if (peeked == null) {
            peeked = events.next();
        }
        return peeked;
    }

    Event next() {
        Event e = peek();
        peeked = null;
        return e;
    }

    boolean hasNext() {
        return peeked != null || events.hasNext();
    }

    /** Anchors do not carry over from one document to the next. */
    void newDocument() {
        anchors.clear();
        open.clear();
    }

    /** Counts a collection the caller reads event by event itself (the streamed list of a kind: List). */
    void countWritten() {
        written++;
    }

    /** Reads the node that starts with {@code first} (its start event, already taken with {@link #next()}). */
    YamlNode node(Event first, int depth) throws ManifestException {
        int line = line(first.getStartMark());
        int column = column(first.getStartMark());
        if (depth > MAX_DEPTH) {
            throw new ManifestException(label, line, column, "", "nested more than " + MAX_DEPTH + " levels deep", null);
        }
        if (first instanceof AliasEvent a) {
            return alias(a, line, column);
        }
        String anchor = first instanceof NodeEvent ne ? ne.getAnchor().map(Anchor::getValue).orElse(null) : null;
        YamlNode node;
        if (first instanceof ScalarEvent s) {
            Optional<String> explicit = s.getTag();
            String value = shared(s.getValue());
            Tag tag = explicit.isEmpty() || explicit.get().equals("!") ? resolve(value, s.getImplicit().canOmitTagInPlainScalar())
                    : new Tag(explicit.get());
            written++;
            node = new YamlNode.Scalar(value, tag, s.isPlain(), line, column);
        } else if (first instanceof SequenceStartEvent) {
            written++;
            open(anchor);
            List<YamlNode> items = new ArrayList<>();
            long size = 1;
            while (!(peek() instanceof SequenceEndEvent)) {
                YamlNode item = node(next(), depth + 1);
                items.add(item);
                size = YamlNode.add(size, item.expandedSize());
            }
            next();
            node = new YamlNode.Sequence(List.copyOf(items), line, column, size);
        } else if (first instanceof MappingStartEvent) {
            written++;
            open(anchor);
            List<YamlNode> keys = new ArrayList<>();
            List<YamlNode> values = new ArrayList<>();
            long size = 1;
            while (!(peek() instanceof MappingEndEvent)) {
                YamlNode k = node(next(), depth + 1);
                YamlNode v = node(next(), depth + 1);
                keys.add(k);
                values.add(v);
                size = YamlNode.add(YamlNode.add(size, k.expandedSize()), v.expandedSize());
            }
            next();
            node = new YamlNode.Mapping(List.copyOf(keys), List.copyOf(values), line, column, size);
        } else {
            throw new ManifestException(label, line, column, "", "unexpected " + first.getEventId() + " in a document", null);
        }
        if (anchor != null) {
            open.remove(anchor);
            anchors.put(anchor, node);
        }
        return node;
    }

    /**
     * The core schema's tag for an untagged scalar. Only a plain scalar that starts like a null, a
     * boolean or a number can be one (YAML 1.2 core schema, 10.3.2); every other one is a string.
     * The shortcuts (names, addresses, plain digits) save the resolver's regular expressions on
     * most scalars of a large file; anything else goes to the resolver.
     */
    private Tag resolve(String value, boolean plain) {
        if (!plain || value.isEmpty()) {
            return resolver.resolve(value, plain);
        }
        if ("0123456789+-.~nNtTfF".indexOf(value.charAt(0)) < 0) {
            return Tag.STR;
        }
        int dots = 0;
        boolean digits = true;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            dots += c == '.' ? 1 : 0;
            digits &= c >= '0' && c <= '9';
            if (c == ':' || c == '/' || c == ' ') {
                return Tag.STR; // an IPv6 address, a CIDR, a path: no number has these
            }
        }
        if (digits) {
            return Tag.INT; // ports and counts, the commonest numbers
        }
        return dots > 1 ? Tag.STR : resolver.resolve(value, true); // an IPv4 address has three dots, a float one
    }

    /**
     * One instance per repeated short value (keys, namespaces, protocols, label names): the objects
     * of a large file keep these strings, thousands of times each. Bounded: the table is dropped
     * when full.
     */
    private String shared(String value) {
        if (value.length() > SHARED_MAX_LENGTH) {
            return value;
        }
        String known = strings.putIfAbsent(value, value);
        if (known != null) {
            return known;
        }
        if (strings.size() >= SHARED_MAX_ENTRIES) {
            strings.clear();
        }
        return value;
    }

    private void open(String anchor) {
        if (anchor != null) {
            open.add(anchor);
        }
    }

    private YamlNode alias(AliasEvent a, int line, int column) throws ManifestException {
        String name = a.getAlias().getValue();
        YamlNode target = anchors.get(name);
        if (target == null || open.contains(name)) {
            throw new ManifestException(label, line, column, "", open.contains(name)
                    ? "alias *" + name + " is used inside its own anchor (a recursive alias)"
                    : "alias *" + name + " names no anchor defined before it in this document", null);
        }
        long allowed = YamlNode.add(written, aliasAllowance);
        long after = YamlNode.add(aliased, target.expandedSize());
        if (after > allowed) {
            throw new ManifestException(label, line, column, "", "alias *" + name + " stands for " + target.expandedSize()
                    + " nodes, which would make aliases expand this file by " + after + " nodes; at most " + allowed
                    + " are allowed (the " + written + " nodes it writes out so far plus " + aliasAllowance
                    + "): refusing it as an alias bomb", null);
        }
        aliased = after;
        return new YamlNode.Alias(name, target, line, column);
    }

    static int line(Optional<Mark> m) {
        return m.map(x -> x.getLine() + 1).orElse(0);
    }

    static int column(Optional<Mark> m) {
        return m.map(x -> x.getColumn() + 1).orElse(0);
    }
}
