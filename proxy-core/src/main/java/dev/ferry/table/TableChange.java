package dev.ferry.table;

import dev.ferry.model.ServicePortName;
import java.util.Set;

/**
 * What changed in the {@link ServiceTable} between two generations, as {@link ChangeFeed#since}
 * hands it to one consumer. Immutable.
 *
 * <ul>
 *   <li>{@code full == false}: {@code changed} were written (added or rewritten) and {@code removed}
 *       were removed after generation {@code from}; every other service port is as it was at
 *       {@code from}. A name is in at most one of the two sets: the last thing that happened to it.</li>
 *   <li>{@code full == true}: the consumer cannot be told what changed (it starts late, fell behind
 *       the feed's bounded history, or the table was rebuilt): it must read the whole table. Both sets
 *       are empty then.</li>
 * </ul>
 * A consumer that reads a changed name and finds nothing in the table treats it as removed: a later
 * change, not yet handed to it, removed it again.
 *
 * @param from the generation the consumer had seen (its cursor before)
 * @param to   the generation the consumer has seen now (its cursor after): the table holds at least this
 */
public record TableChange(long from, long to, boolean full, Set<ServicePortName> changed, Set<ServicePortName> removed) {

    public TableChange {
        changed = Set.copyOf(changed);
        removed = Set.copyOf(removed);
    }

    /** Read everything: what a consumer gets when the feed cannot say what changed. */
    public static TableChange full(long from, long to) {
        return new TableChange(from, to, true, Set.of(), Set.of());
    }

    /** Nothing happened between the two generations. */
    public boolean isEmpty() {
        return !full && changed.isEmpty() && removed.isEmpty();
    }

    /** Whether {@code name} was written or removed (always true for a full change). */
    public boolean touches(ServicePortName name) {
        return full || changed.contains(name) || removed.contains(name);
    }

    @Override
    public String toString() {
        return full ? "full change " + from + "→" + to
                : "change " + from + "→" + to + ": " + changed.size() + " written, " + removed.size() + " removed";
    }
}
