package dev.ferry.conntrack;

import java.nio.file.Path;

/**
 * The daemon's handle on its flow state in {@code --state-dir}: UDP flows, ClientIP affinity and
 * per-backend connection counts, each a Chronicle Map file that outlives the process. Open one per
 * daemon (it is the single writer); other processes read with {@link ConntrackReader}.
 * Thread-safe: the tables are; open and close are not meant to race with use.
 */
public final class ConntrackState implements AutoCloseable {
    /** File names carry the record layout version: a layout change starts a new file, never misreads an old one. */
    static final String FLOWS_FILE = "flows.v1.cmap";
    static final String AFFINITY_FILE = "affinity.v1.cmap";
    static final String CONNECTIONS_FILE = "connections.v1.cmap";

    private final FlowTable flows;
    private final AffinityTable affinity;
    private final ConnectionCounts connections;

    private ConntrackState(FlowTable flows, AffinityTable affinity, ConnectionCounts connections) {
        this.flows = flows;
        this.affinity = affinity;
        this.connections = connections;
    }

    /**
     * Opens or creates the tables under {@code stateDir}. Never fails on a damaged file: it is moved
     * aside ({@code *.corrupt-<ts>}) with an error log and that table starts empty.
     */
    public static ConntrackState open(Path stateDir, ConntrackConfig config) {
        FlowTable flows = new FlowTable(MapFiles.openForWriter(flowsBuilder(config.maxFlows()),
                stateDir.resolve(FLOWS_FILE)), config);
        AffinityTable affinity = new AffinityTable(MapFiles.openForWriter(affinityBuilder(config.maxAffinities()),
                stateDir.resolve(AFFINITY_FILE)), config);
        ConnectionCounts connections = new ConnectionCounts(MapFiles.openForWriter(connectionsBuilder(config.maxBackends()),
                stateDir.resolve(CONNECTIONS_FILE)));
        connections.clear();
        return new ConntrackState(flows, affinity, connections);
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

    /** Flushes nothing (the maps are the files); unmaps them. Entries stay for the next open. */
    @Override
    public void close() {
        flows.close();
        affinity.close();
        connections.close();
    }
}
