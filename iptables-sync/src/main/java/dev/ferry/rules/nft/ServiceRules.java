package dev.ferry.rules.nft;

import dev.ferry.model.ServicePortName;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one service port contributes to one family's table: its own chains (name → rule
 * lines), its affinity sets (name → declaration), its entries in the shared maps and sets, and the
 * shared pick chains ({@link PickChains}) its map entries jump to. Two renderings of an unchanged
 * service are equal, which is how a partial sync finds what changed. Immutable.
 */
record ServiceRules(ServicePortName name, Map<String, List<String>> chains, Map<String, String> sets,
                    List<Element> elements, List<String> picks) {

    /** One entry of a shared map or set; {@code value} is null for a set element. */
    record Element(String map, String key, String value) {
        /** The identity of the entry within the table: a map holds one value per key. */
        String slot() {
            return map + " " + key;
        }
    }

    ServiceRules {
        chains = Collections.unmodifiableMap(new LinkedHashMap<>(chains));
        sets = Collections.unmodifiableMap(new LinkedHashMap<>(sets));
        elements = List.copyOf(elements);
        picks = List.copyOf(picks);
    }
}
