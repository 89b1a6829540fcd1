package dev.ferry.conntrack;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * Lists the daemon's flow state from another process ({@code ferry dump conntrack}): opens the
 * maps in {@code --state-dir} while the daemon keeps writing them. It never creates, repairs or
 * writes a map (Chronicle maps the files read-write, but this class only reads through them);
 * a missing file lists as empty, a damaged one is an {@link IOException} naming the file.
 * Entries are copied out as immutable records, so the reader may be closed right after.
 * Not thread-safe; cheap to make one per command.
 */
public final class ConntrackReader implements AutoCloseable {
    /** A UDP (or other protocol) flow, decoded. */
    public record FlowEntry(int protocol, InetSocketAddress client, InetSocketAddress frontend,
                            InetSocketAddress backend, long lastSeenMillis, long createdMillis) {}

    /** A ClientIP affinity entry, decoded; expires at lastUsedMillis + timeoutMillis. */
    public record AffinityEntry(InetAddress client, long servicePortId, InetSocketAddress backend,
                                long lastUsedMillis, long timeoutMillis) {
        public long expiresAtMillis() {
            return lastUsedMillis + timeoutMillis;
        }
    }

    /** Open TCP connections to one backend. */
    public record BackendCount(InetSocketAddress backend, long connections) {}

    private final Path stateDir;
    private final List<ChronicleMap<byte[], byte[]>> open = new ArrayList<>();

    private ConntrackReader(Path stateDir) {
        this.stateDir = stateDir;
    }

    public static ConntrackReader open(Path stateDir) throws IOException {
        if (!Files.isDirectory(stateDir)) {
            throw new java.nio.file.NoSuchFileException(stateDir.toString(), null, "state directory does not exist");
        }
        return new ConntrackReader(stateDir);
    }

    /** True when the daemon keeps ClientIP pins here (its affinity map exists). */
    public boolean keepsAffinity() {
        return Files.exists(stateDir.resolve(ConntrackState.AFFINITY_FILE));
    }

    public List<FlowEntry> flows() throws IOException {
        List<FlowEntry> out = new ArrayList<>();
        ChronicleMap<byte[], byte[]> map = map(ConntrackState.FLOWS_FILE, FlowKey.SIZE, Flow.SIZE);
        if (map != null) {
            map.forEachEntry(e -> {
                byte[] k = e.key().get();
                byte[] v = e.value().get();
                out.add(new FlowEntry(k[FlowKey.PROTOCOL] & 0xff,
                        socket(k, FlowKey.CLIENT_IP, FlowKey.CLIENT_PORT),
                        socket(k, FlowKey.FRONTEND_IP, FlowKey.FRONTEND_PORT),
                        socket(v, Flow.BACKEND + Endpoint.IP, Flow.BACKEND + Endpoint.PORT),
                        Bytes16.getLong(v, Flow.LAST_SEEN), Bytes16.getLong(v, Flow.CREATED)));
            });
        }
        return out;
    }

    public List<AffinityEntry> affinities() throws IOException {
        List<AffinityEntry> out = new ArrayList<>();
        ChronicleMap<byte[], byte[]> map = map(ConntrackState.AFFINITY_FILE, AffinityKey.SIZE, AffinityTable.VALUE_SIZE);
        if (map != null) {
            map.forEachEntry(e -> {
                byte[] k = e.key().get();
                byte[] v = e.value().get();
                out.add(new AffinityEntry(Bytes16.toInetAddress(k, AffinityKey.CLIENT_IP),
                        Bytes16.getLong(k, AffinityKey.SERVICE_PORT_ID),
                        socket(v, AffinityTable.BACKEND + Endpoint.IP, AffinityTable.BACKEND + Endpoint.PORT),
                        Bytes16.getLong(v, AffinityTable.LAST_USED), Bytes16.getLong(v, AffinityTable.TIMEOUT)));
            });
        }
        return out;
    }

    public List<BackendCount> connections() throws IOException {
        List<BackendCount> out = new ArrayList<>();
        ChronicleMap<byte[], byte[]> map = map(ConntrackState.CONNECTIONS_FILE, Endpoint.SIZE, ConnectionCounts.VALUE_SIZE);
        if (map != null) {
            map.forEachEntry(e -> out.add(new BackendCount(
                    socket(e.key().get(), Endpoint.IP, Endpoint.PORT), Bytes16.getLong(e.value().get(), 0))));
        }
        return out;
    }

    private ChronicleMap<byte[], byte[]> map(String name, int keySize, int valueSize) throws IOException {
        Path file = stateDir.resolve(name);
        if (!Files.exists(file)) {
            return null;
        }
        // The sizes here are only a fallback: Chronicle takes the layout from the file's header.
        ChronicleMap<byte[], byte[]> map = MapFiles.openForReader(MapFiles.builder(name, keySize, valueSize, 1024), file);
        open.add(map);
        return map;
    }

    private static InetSocketAddress socket(byte[] b, int ipOff, int portOff) {
        return new InetSocketAddress(Bytes16.toInetAddress(b, ipOff), Bytes16.getPort(b, portOff));
    }

    @Override
    public void close() {
        for (ChronicleMap<byte[], byte[]> m : open) {
            m.close();
        }
        open.clear();
    }
}
