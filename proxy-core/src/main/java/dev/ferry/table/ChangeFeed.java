package dev.ferry.table;

import dev.ferry.model.ServicePortName;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;

/**
 * The {@link ServiceTable}'s change feed: each generation the writer publishes, with the service
 * ports it wrote and removed. Consumers (rule syncers, the userspace proxy, DNS, health-check
 * servers) keep a cursor (the last generation they took in) and ask {@link #since} what changed
 * after it, then read those records from the table; nobody is handed the whole list again.
 *
 * <p>Memory is bounded: the history keeps at most {@code maxKeys} names over all its generations
 * (a name written in several generations counts once per generation). Older generations are
 * dropped; a consumer whose cursor is older than the history (it fell behind or starts late), or
 * older than a rebuild of the table, gets a {@link TableChange#full full} change and reads the
 * whole table. Such full changes are counted ({@link #fullChanges()}), and so are dropped
 * generations ({@link #droppedGenerations()}).
 *
 * <p>Threads: the record and publish methods are called by the table's one writer only (from
 * {@link ServiceTable}'s mutators); {@link #since} and the counters from any thread. Publishing and
 * reading share a monitor held for a copy of a few sets, never for I/O.
 */
public final class ChangeFeed {
    /** Names kept by default: ~50 service-port generations of 1 000 changes, a few MB of heap at most. */
    public static final int DEFAULT_MAX_KEYS = 1 << 16;
    /** The cursor of a consumer that has read nothing yet: its first change is full. */
    public static final long START = Long.MIN_VALUE;

    private record Entry(long generation, boolean full, ServicePortName[] changed, ServicePortName[] removed) {
        int size() {
            return changed.length + removed.length;
        }
    }

    private final int maxKeys;

    // Writer only: what the batch being written changed so far.
    private final Set<ServicePortName> pendingChanged = new HashSet<>();
    private final Set<ServicePortName> pendingRemoved = new HashSet<>();
    private boolean pendingFull;

    // Guarded by this.
    private final ArrayDeque<Entry> history = new ArrayDeque<>();
    private int keysHeld;
    /** A cursor below this cannot be answered from the history (dropped generations, or a rebuild). */
    private long floor;
    private long latest;
    private long published;
    private long dropped;
    private long fulls;

    /** A feed whose history starts after {@code generation} (the table's generation at creation). */
    public ChangeFeed(long generation, int maxKeys) {
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be positive: " + maxKeys);
        }
        this.maxKeys = maxKeys;
        this.floor = generation;
        this.latest = generation;
    }

    // ---- the writer ----------------------------------------------------------------------------

    /** Writer: {@code name} was added or rewritten in the generation being written. */
    void written(ServicePortName name) {
        pendingRemoved.remove(name);
        pendingChanged.add(name);
    }

    /** Writer: {@code name} was removed in the generation being written. */
    void removed(ServicePortName name) {
        pendingChanged.remove(name);
        pendingRemoved.add(name);
    }

    /** Writer: the whole table changed (rebuilt): every consumer reads it all again. */
    void everything() {
        pendingFull = true;
        pendingChanged.clear();
        pendingRemoved.clear();
    }

    /** Writer: generation {@code generation} is published; what was recorded since the last publish belongs to it. */
    void publish(long generation) {
        Entry e = new Entry(generation, pendingFull, pendingChanged.toArray(new ServicePortName[0]),
                pendingRemoved.toArray(new ServicePortName[0]));
        pendingChanged.clear();
        pendingRemoved.clear();
        pendingFull = false;
        synchronized (this) {
            latest = generation;
            published++;
            if (e.full()) {
                dropped += history.size();
                history.clear();
                keysHeld = 0;
                floor = generation;
                return;
            }
            if (e.size() == 0) {
                return; // nothing to tell: a cursor at an older generation still gets the same answer
            }
            history.addLast(e);
            keysHeld += e.size();
            while (keysHeld > maxKeys && !history.isEmpty()) {
                Entry old = history.removeFirst();
                keysHeld -= old.size();
                floor = old.generation();
                dropped++;
            }
        }
    }

    // ---- consumers ---------------------------------------------------------------------------

    /**
     * What changed after generation {@code cursor} (a previous change's {@link TableChange#to()}, or
     * {@link #START}); the result's {@code to} is the consumer's next cursor. Full when the history
     * no longer reaches back to {@code cursor}. Any thread.
     */
    public synchronized TableChange since(long cursor) {
        if (cursor == latest && cursor != START) {
            return new TableChange(cursor, latest, false, Set.of(), Set.of());
        }
        if (cursor == START || cursor < floor || cursor > latest) {
            fulls++;
            return TableChange.full(cursor, latest);
        }
        Set<ServicePortName> changed = new HashSet<>();
        Set<ServicePortName> removed = new HashSet<>();
        for (var it = history.descendingIterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.generation() <= cursor) {
                break;
            }
            // Newest first: the first thing seen about a name is the last thing that happened to it.
            for (ServicePortName n : e.changed()) {
                if (!removed.contains(n)) {
                    changed.add(n);
                }
            }
            for (ServicePortName n : e.removed()) {
                if (!changed.contains(n)) {
                    removed.add(n);
                }
            }
        }
        return new TableChange(cursor, latest, false, changed, removed);
    }

    /** The newest published generation. */
    public synchronized long latest() {
        return latest;
    }

    /** Generations published so far. */
    public synchronized long publishedGenerations() {
        return published;
    }

    /** Generations dropped from the history to keep it within its bound (or by a rebuild). */
    public synchronized long droppedGenerations() {
        return dropped;
    }

    /** Full changes handed out: consumers that started, fell behind the history, or saw a rebuild. */
    public synchronized long fullChanges() {
        return fulls;
    }

    /** Names the history holds now (at most {@code maxKeys}, plus one generation's worth). */
    public synchronized int keysHeld() {
        return keysHeld;
    }
}
