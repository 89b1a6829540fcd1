package dev.ferry.conntrack;

import dev.ferry.state.PrivateFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The daemon's handle on its flow state in {@code --state-dir}: UDP flows, ClientIP affinity and
 * per-backend connection counts, each a Chronicle Map file that outlives the process. Open one per
 * daemon (it is the single writer); other processes read with {@link ConntrackReader}.
 * Thread-safe: the tables are; open and close are not meant to race with use. The tables may be
 * opened on another thread while the daemon starts ({@link #openAsync}).
 */
public final class ConntrackState implements AutoCloseable {
    /** File names carry the record layout version: a layout change starts a new file, never misreads an old one. */
    static final String FLOWS_FILE = "flows.v2.cmap";
    static final String AFFINITY_FILE = "affinity.v2.cmap";
    static final String CONNECTIONS_FILE = "connections.v2.cmap";

    static final String CLEAN_SHUTDOWN_MARKER = "conntrack.closed";

    private final Path stateDir;
    /** The open tables; null while they are opening on another thread (see {@link #openAsync}). */
    private volatile Tables tables;
    private final CompletableFuture<ConntrackState> opened = new CompletableFuture<>();

    private record Tables(FlowTable flows, AffinityTable affinity, ConnectionCounts connections) {}

    private ConntrackState(Path stateDir) {
        this.stateDir = stateDir;
    }

    /**
     * Opens or creates the tables under {@code stateDir}. Never fails on a damaged file: it is moved
     * aside ({@code *.corrupt-<ts>}) with an error log and that table starts empty.
     */
    public static ConntrackState open(Path stateDir, ConntrackConfig config) {
        ConntrackState s = new ConntrackState(stateDir);
        s.publish(openTables(stateDir, config));
        return s;
    }

    /**
     * As {@link #open}, on {@code opener} (e.g. a thread of its own), returning at once: until the
     * tables are open {@link #isOpen()} is false and the table getters throw. The userspace proxy
     * starts serving meanwhile (opening the maps takes ~0.5-2 s at start-up: class loading, and a
     * full scan of each map after a crash) and holds only what needs them ({@link #whenOpen}).
     * A failed open completes {@link #opened()} exceptionally.
     */
    public static ConntrackState openAsync(Path stateDir, ConntrackConfig config, Executor opener) {
        ConntrackState s = new ConntrackState(stateDir);
        opener.execute(() -> {
            try {
                s.publish(openTables(stateDir, config));
            } catch (RuntimeException | Error e) {
                s.opened.completeExceptionally(e);
            }
        });
        return s;
    }

    private void publish(Tables t) {
        tables = t;
        opened.complete(this);
    }

    private static Tables openTables(Path stateDir, ConntrackConfig config) {
        boolean clean;
        try {
            PrivateFiles.createDirectories(stateDir);
            Path marker = stateDir.resolve(CLEAN_SHUTDOWN_MARKER);
            // Only a regular file counts (a planted link is no proof of a clean shutdown). Deleted
            // before use (the link itself, if it is one): if this process dies, the next one recovers.
            clean = PrivateFiles.isRegularFile(marker);
            Files.deleteIfExists(marker);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use state directory " + stateDir, e);
        }
        FlowTable flows = new FlowTable(MapFiles.openForWriter(flowsBuilder(config.maxFlows()),
                stateDir.resolve(FLOWS_FILE), clean), config);
        AffinityTable affinity = new AffinityTable(MapFiles.openForWriter(affinityBuilder(config.maxAffinities()),
                stateDir.resolve(AFFINITY_FILE), clean), config);
        Path connectionsFile = stateDir.resolve(CONNECTIONS_FILE);
        if (!clean) {
            // The counts are cleared below anyway (they counted the dead process's connections):
            // after a crash a new file costs less than Chronicle's full-scan recovery of the old one.
            try {
                Files.deleteIfExists(connectionsFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot replace conntrack map " + connectionsFile, e);
            }
        }
        ConnectionCounts connections = new ConnectionCounts(MapFiles.openForWriter(connectionsBuilder(config.maxBackends()),
                connectionsFile, true));
        connections.clear();
        return new Tables(flows, affinity, connections);
    }

    static net.openhft.chronicle.map.ChronicleMapBuilder<byte[], byte[]> flowsBuilder(long max) {
        // Headroom over the soft limit: the limit is checked before insert, racing inserts may pass it.
        return MapFiles.builder("ferry-flows", FlowKey.SIZE, Flow.SIZE, max + max / 8 + 64);
    }

    static net.openhft.chronicle.map.ChronicleMapBuilder<byte[], byte[]> affinityBuilder(long max) {
        return MapFiles.builder("ferry-affinity", AffinityKey.SIZE, AffinityTable.VALUE_SIZE, max + max / 8 + 64);
    }

    static net.openhft.chronicle.map.ChronicleMapBuilder<byte[], byte[]> connectionsBuilder(long max) {
        return MapFiles.builder("ferry-connections", Endpoint.SIZE, ConnectionCounts.VALUE_SIZE, max);
    }

    /** Whether the tables are open (always, unless opened with {@link #openAsync} and still opening or failed). */
    public boolean isOpen() {
        return tables != null;
    }

    /** Completes with this state once the tables are open, exceptionally if opening them failed. */
    public CompletableFuture<ConntrackState> opened() {
        return opened;
    }

    /** Runs {@code task} on {@code executor} once the tables are open (soon after, if they are); never if the open failed. */
    public void whenOpen(Executor executor, Runnable task) {
        opened.thenRunAsync(task, executor);
    }

    public FlowTable flows() {
        return tables().flows();
    }

    public AffinityTable affinity() {
        return tables().affinity();
    }

    public ConnectionCounts connections() {
        return tables().connections();
    }

    private Tables tables() {
        Tables t = tables;
        if (t == null) {
            throw new IllegalStateException("the conntrack tables in " + stateDir + " are not open"
                    + (opened.isCompletedExceptionally() ? " (opening them failed)" : " yet"));
        }
        return t;
    }

    /**
     * Unmaps the tables (the maps are the files: there is nothing to flush) and marks the shutdown
     * clean, so the next open skips Chronicle's lock recovery. Entries stay for the next open.
     * Waits for an open under way ({@link #openAsync}); does nothing when the open failed.
     */
    @Override
    public void close() {
        Tables t;
        try {
            t = opened.join().tables; // an open under way is waited for: its maps are closed, not leaked
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException failed) {
            return; // nothing was opened
        }
        t.flows().close();
        t.affinity().close();
        t.connections().close();
        try {
            // Never written through: whatever is at the name (a link planted there) is unlinked and
            // a new empty 0600 file created exclusively, so no target is ever truncated.
            PrivateFiles.replaceWithEmpty(stateDir.resolve(CLEAN_SHUTDOWN_MARKER));
        } catch (IOException e) {
            // Harmless: the next open recovers instead.
            org.slf4j.LoggerFactory.getLogger(ConntrackState.class)
                    .warn("cannot write {} in {}: {}", CLEAN_SHUTDOWN_MARKER, stateDir, e.toString());
        }
    }
}
