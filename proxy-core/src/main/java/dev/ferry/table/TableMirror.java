package dev.ferry.table;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * One consumer's decoded copy of the table's service ports, kept current through the table's
 * {@link ChangeFeed}: {@link #catchUp()} asks the feed what changed since the last call and decodes
 * only those records from the table (a one-endpoint change decodes one record, whatever the number
 * of services); a full change (the first call, a consumer that fell behind the feed, a rebuilt
 * table) walks the whole table, decoding only records whose stamp moved. For consumers that need
 * heap objects of every service port (the kernel rule syncers render all of them); consumers that
 * need a few fields read the table through a {@link ServicePortView} instead.
 *
 * <p>Not thread-safe: one consumer thread calls {@link #catchUp()} and reads {@link #ports()}; the
 * table's writer may write meanwhile (a record rewritten under a read is read again).
 */
public final class TableMirror {
    private static final int READ_ATTEMPTS = 8;

    private final ServiceTableReader reader;
    private final ChangeFeed feed;
    private final TreeMap<ServicePortName, ServicePort> ports = new TreeMap<>();
    private final Map<ServicePortName, Long> stamps = new HashMap<>();
    private final NavigableMap<ServicePortName, ServicePort> view = Collections.unmodifiableNavigableMap(ports);
    private final ServicePortView scan = new ServicePortView();
    private long cursor = ChangeFeed.START;
    /** A record could not be read consistently: the next catch-up reads the whole table. */
    private boolean stale;
    private long fullReads;
    private long decoded;

    public TableMirror(ServiceTableReader reader, ChangeFeed feed) {
        this.reader = reader;
        this.feed = feed;
    }

    /** The mirror of {@code table} in this process. */
    public static TableMirror of(ServiceTable table) {
        return new TableMirror(table.reader(), table.changes());
    }

    /**
     * Brings the copy up to the feed's newest generation and says what changed since the previous
     * call (full on the first call and whenever the feed could not tell; then every name may have changed).
     */
    public TableChange catchUp() {
        TableChange c = feed.since(stale ? ChangeFeed.START : cursor);
        if (stale) {
            c = TableChange.full(cursor, c.to());
        }
        cursor = c.to();
        stale = false;
        if (c.full()) {
            readAll();
            return c;
        }
        for (ServicePortName n : c.removed()) {
            ports.remove(n);
            stamps.remove(n);
        }
        for (ServicePortName n : c.changed()) {
            readOne(n);
        }
        return c;
    }

    /** Every service port, sorted by name; a live, read-only view, current as of the last {@link #catchUp()}. */
    public NavigableMap<ServicePortName, ServicePort> ports() {
        return view;
    }

    /** The generation the copy has caught up with. */
    public long cursor() {
        return cursor;
    }

    /** Whole-table reads so far (first call, lag, rebuild, or a record that kept changing under a read). */
    public long fullReads() {
        return fullReads;
    }

    /** Records decoded so far. */
    public long decodedRecords() {
        return decoded;
    }

    private void readOne(ServicePortName n) {
        for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
            if (!reader.lookup(n.namespace(), n.name(), n.portName(), n.protocol(), scan)) {
                // Removed again by a generation this catch-up has not reached; the feed says so next time.
                ports.remove(n);
                stamps.remove(n);
                return;
            }
            long stamp = scan.stamp();
            Long had = stamps.get(n);
            if (had != null && had == stamp) {
                return;
            }
            ServicePort sp = scan.toServicePort();
            if (scan.isValid()) {
                decoded++;
                ports.put(n, sp);
                stamps.put(n, stamp);
                return;
            }
        }
        stale = true;
    }

    private void readAll() {
        fullReads++;
        Map<Long, ServicePort> known = new HashMap<>(stamps.size() * 2 + 16);
        for (Map.Entry<ServicePortName, Long> e : stamps.entrySet()) {
            known.put(e.getValue(), ports.get(e.getKey()));
        }
        ports.clear();
        stamps.clear();
        reader.forEach(scan, v -> {
            long stamp = v.stamp();
            ServicePort sp = known.get(stamp);
            if (sp == null) {
                sp = v.toServicePort();
                if (!v.isValid()) {
                    stale = true; // recycled under the read: its newer version is published, read again next time
                    return;
                }
                decoded++;
            }
            ports.put(sp.name(), sp);
            stamps.put(sp.name(), stamp);
        });
    }
}
