package dev.ferry.conntrack;

/**
 * The state of one proxied UDP flow (backend, last seen, created) as a fixed 34-byte record.
 * A mutable flyweight that {@link FlowTable#lookup} fills in, so a lookup allocates nothing.
 * Not thread-safe: keep one per thread (per event loop).
 */
public final class Flow {
    static final int BACKEND = 0;
    static final int LAST_SEEN = 18;
    static final int CREATED = 26;
    static final int SIZE = 34;

    final byte[] bytes = new byte[SIZE];
    private final Endpoint backend = new Endpoint();

    /** The backend, decoded into a flyweight owned by this Flow (valid until the next lookup). */
    public Endpoint backend() {
        backend.readFrom(bytes, BACKEND);
        return backend;
    }

    public long lastSeenMillis() {
        return Bytes16.getLong(bytes, LAST_SEEN);
    }

    public long createdMillis() {
        return Bytes16.getLong(bytes, CREATED);
    }

    Flow set(Endpoint b, long createdMillis, long lastSeenMillis) {
        b.writeTo(bytes, BACKEND);
        Bytes16.putLong(bytes, CREATED, createdMillis);
        Bytes16.putLong(bytes, LAST_SEEN, lastSeenMillis);
        return this;
    }

    void lastSeenMillis(long millis) {
        Bytes16.putLong(bytes, LAST_SEEN, millis);
    }

    @Override
    public String toString() {
        return "backend=" + Bytes16.hostPort(bytes, BACKEND + Endpoint.IP, BACKEND + Endpoint.PORT)
                + " lastSeen=" + lastSeenMillis() + " created=" + createdMillis();
    }
}
