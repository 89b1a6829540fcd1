package dev.ferry.source;

import java.util.List;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * One node of a YAML document as {@link NodeReader} reads it: where it was written (1-based line and
 * column) and how many nodes it stands for once its aliases are expanded ({@link #expandedSize()},
 * saturating at {@link Long#MAX_VALUE}). An alias is kept as a reference to its anchor's node, never
 * as a copy, so a document costs memory for what it writes out, not for what its aliases expand to.
 * Immutable.
 */
sealed interface YamlNode {
    int line();

    int column();

    long expandedSize();

    /** A scalar with its resolved tag (core schema) and whether it was written plain (unquoted). */
    record Scalar(String value, Tag tag, boolean plain, int line, int column) implements YamlNode {
        @Override
        public long expandedSize() {
            return 1;
        }
    }

    record Sequence(List<YamlNode> items, int line, int column, long expandedSize) implements YamlNode {}

    /** Keys and values in the order written (keys may repeat: the reader of the tree rejects that). */
    record Mapping(List<YamlNode> keys, List<YamlNode> values, int line, int column, long expandedSize) implements YamlNode {}

    /** {@code *name} where it was written, and the node its anchor named. */
    record Alias(String name, YamlNode target, int line, int column) implements YamlNode {
        @Override
        public long expandedSize() {
            return target.expandedSize();
        }
    }

    /** The node itself, or the anchored node an alias stands for. */
    static YamlNode resolve(YamlNode n) {
        return n instanceof Alias a ? a.target() : n;
    }

    static long add(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }
}
