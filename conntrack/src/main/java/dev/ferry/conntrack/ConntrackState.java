package dev.ferry.conntrack;

import dev.ferry.state.PrivateFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The daemon's handle on its flow state in {@code --state-dir}: UDP flows, ClientIP affinity and
 * per-backend connection counts, each a Chronicle Map file that outlives the process. Open one per
 * daemon (it is the single writer); other processes read with {@link ConntrackReader}.
 * Thread-safe: the tables are; open and close are not meant to race with use.
 */
public final class ConntrackState implements AutoCloseable {
    /** File names carry the record layout version: a layout change starts a new file, never misreads an old one. */
    static final String FLOWS_FILE = "flows.v2.cmap";
    static final String AFFINITY_FILE = "affinity.v2.cmap";
    static final String CONNECTIONS_FILE = "connections.v2.cmap";

    static final String CLEAN_SHUTDOWN_MARKER = "conntrack.closed";

    private final Path stateDir;
    private final FlowTable flows;
    private final AffinityTable affinity;
    private final ConnectionCounts connections;

    private ConntrackState(Path stateDir, FlowTable flows, AffinityTable affinity, ConnectionCounts connections) {
        this.stateDir = stateDir;
        this.flows = flows;
        this.affinity = affinity;
        this.connections = connections;
    }

    /**
     * Opens or creates the tables under {@code stateDir}. Never fails on a damaged file: it is moved
     * aside ({@code *.corrupt-<ts>}) with an error log and that table starts empty.
     */
    public static ConntrackState open(Path stateDir, ConntrackConfig config) {
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
        ConnectionCounts connections = new ConnectionCounts(MapFiles.openForWriter(connectionsBuilder(config.maxBackends()),
                stateDir.resolve(CONNECTIONS_FILE), clean));
        connections.clear();
        return new ConntrackState(stateDir, flows, affinity, connections);
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

    public FlowTable flows() {
        return flows;
    }

    public AffinityTable affinity() {
        return affinity;
    }

    public ConnectionCounts connections() {
        return connections;
    }

    /**
     * Unmaps the tables (the maps are the files: there is nothing to flush) and marks the shutdown
     * clean, so the next open skips Chronicle's lock recovery. Entries stay for the next open.
     */
    @Override
    public void close() {
        flows.close();
        affinity.close();
        connections.close();
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
