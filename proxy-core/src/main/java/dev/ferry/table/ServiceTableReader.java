package dev.ferry.table;

import static dev.ferry.table.TableLayout.*;

import dev.ferry.model.Protocol;
import dev.ferry.state.PrivateFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;
import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Lock-free, allocation-free reads of the service table, in the writer's process (from
 * {@link ServiceTable#reader()}) or in any other process (from {@link #open(Path)}, which maps the
 * file read-only: that is how {@code ferry dump} sees a running daemon's table without RPC).
 *
 * <p>Thread-safe: any number of threads may look up at once, each with its own
 * {@link ServicePortView}; lookups never block the writer and never see a half-written record.
 */
public final class ServiceTableReader implements AutoCloseable {
    private static final int RETRIES = 4;

    private final AtomicBuffer buffer;
    private final MappedByteBuffer ownMapping;
    private final Path file;
    private final Path lockFile;

    ServiceTableReader(AtomicBuffer buffer, MappedByteBuffer ownMapping, Path file, Path lockFile) {
        this.buffer = buffer;
        this.ownMapping = ownMapping;
        this.file = file;
        this.lockFile = lockFile;
    }

    /** Maps the table in stateDir read-only. Fails with a message naming the file when it is absent or malformed. */
    public static ServiceTableReader open(Path stateDir) throws IOException {
        Path file = stateDir.resolve(FILE_NAME);
        String odd = PrivateFiles.nonRegular(file);
        if (odd != null) {
            throw new TableFormatException(file + " is " + odd + ", not a table Ferry wrote; not following it");
        }
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new TableFormatException("no service table at " + file
                    + ": is a Ferry daemon running with --state-dir " + stateDir + "?");
        }
        long size = Files.size(file);
        if (size < HEADER_SIZE) {
            throw new TableFormatException(file + " is truncated (" + size + " bytes, header needs " + HEADER_SIZE + ")");
        }
        if (size > Integer.MAX_VALUE) {
            throw new TableFormatException(file + " is larger than 2 GiB; not a table this build wrote");
        }
        MappedByteBuffer mapped;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        UnsafeBuffer buffer = new UnsafeBuffer(mapped);
        if (buffer.getLong(H_MAGIC) != MAGIC) {
            IoUtil.unmap(mapped);
            throw new TableFormatException(file + " is not a Ferry service table (bad magic)");
        }
        int version = buffer.getInt(H_VERSION);
        if (version != VERSION) {
            IoUtil.unmap(mapped);
            throw new TableFormatException(file + " has layout version " + version + ", this build reads " + VERSION);
        }
        long capacity = buffer.getLong(H_CAPACITY);
        if (capacity != size) {
            IoUtil.unmap(mapped);
            throw new TableFormatException(file + " is truncated (" + size + " bytes of " + capacity + ")");
        }
        return new ServiceTableReader(buffer, mapped, file, stateDir.resolve(LOCK_FILE_NAME));
    }

    public Path file() {
        return file;
    }

    /** Incremented by the writer after every published change: cheap change detection. */
    public long generation() {
        return buffer.getLongAcquire(H_GENERATION);
    }

    public long servicePortCount() {
        return buffer.getLongAcquire(H_SERVICE_PORTS);
    }

    public long endpointCount() {
        return buffer.getLongAcquire(H_ENDPOINTS);
    }

    /** Finds the service port serving (protocol, address, port); false when none does. */
    public boolean lookup(Protocol protocol, InetAddress address, int port, ServicePortView view) {
        return lookupFrontend(protocol.ordinal(), AddressBits.family(address), AddressBits.hi(address),
                AddressBits.lo(address), port, view);
    }

    /** Allocation-free lookup of an IPv4 frontend (address as a big-endian int). */
    public boolean lookupIpv4(int protocol, int address, int port, ServicePortView view) {
        return lookupFrontend(protocol, RecordLayout.FAMILY_V4, 0L, address & 0xFFFFFFFFL, port, view);
    }

    /** Allocation-free lookup of an IPv6 frontend (two big-endian halves). */
    public boolean lookupIpv6(int protocol, long hi, long lo, int port, ServicePortView view) {
        return lookupFrontend(protocol, RecordLayout.FAMILY_V6, hi, lo, port, view);
    }

    /** Finds the service port owning a node port. */
    public boolean lookupNodePort(int protocol, int nodePort, ServicePortView view) {
        return lookupFrontend(protocol, RecordLayout.FAMILY_NONE, 0L, 0L, nodePort, view);
    }

    private boolean lookupFrontend(int protocol, int family, long hi, long lo, int port, ServicePortView view) {
        long hash = AddressBits.frontendHash(protocol, family, hi, lo, port);
        for (int attempt = 0; attempt < RETRIES; attempt++) {
            try {
                int index = (int) buffer.getLongAcquire(H_FRONTEND_INDEX);
                if (index == 0) {
                    return false;
                }
                for (long c = IndexProbe.first(buffer, index, hash); c >= 0; c = IndexProbe.next(buffer, index, hash, c)) {
                    long value = buffer.getLongAcquire(IndexProbe.slot(c) + 8);
                    if (value == TOMBSTONE) {
                        continue; // removed since the probe looked
                    }
                    int block = (int) (value >>> 16);
                    int fi = (int) (value & 0xFFFF);
                    if (view.wrap(buffer, block) && view.protocolOrdinal() == protocol && fi < view.frontendCount()
                            && view.frontendMatches(fi, family, hi, lo, port) && view.isValid()) {
                        view.matchedFrontend(fi);
                        return true;
                    }
                }
                if ((int) buffer.getLongAcquire(H_FRONTEND_INDEX) == index) {
                    return false;
                }
                // The index was replaced while we probed it: probe the new one.
            } catch (IndexOutOfBoundsException recycledUnderUs) {
                // A block we followed was recycled; retry from the published index.
            }
        }
        return false;
    }

    /** Finds a service port by identity; allocation-free for ASCII names. */
    public boolean lookup(CharSequence namespace, CharSequence name, CharSequence portName, Protocol protocol,
                          ServicePortView view) {
        int proto = protocol.ordinal();
        long hash = NameHash.of(namespace, name, portName, proto);
        for (int attempt = 0; attempt < RETRIES; attempt++) {
            try {
                int index = (int) buffer.getLongAcquire(H_NAME_INDEX);
                if (index == 0) {
                    return false;
                }
                for (long c = IndexProbe.first(buffer, index, hash); c >= 0; c = IndexProbe.next(buffer, index, hash, c)) {
                    long value = buffer.getLongAcquire(IndexProbe.slot(c) + 8);
                    if (value == TOMBSTONE) {
                        continue; // removed since the probe looked
                    }
                    if (view.wrap(buffer, (int) value) && view.nameEquals(namespace, name, portName, proto) && view.isValid()) {
                        return true;
                    }
                }
                if ((int) buffer.getLongAcquire(H_NAME_INDEX) == index) {
                    return false;
                }
            } catch (IndexOutOfBoundsException recycledUnderUs) {
                // retry
            }
        }
        return false;
    }

    /**
     * Visits every live service port (in index order, not sorted) and returns how many were
     * visited. The view passed to the action is valid for the duration of the call.
     */
    public int forEach(ServicePortView view, Consumer<ServicePortView> action) {
        int index = (int) buffer.getLongAcquire(H_NAME_INDEX);
        if (index == 0) {
            return 0;
        }
        int slots = index + BLOCK_HEADER + I_SLOTS;
        int capacity = buffer.getInt(index + BLOCK_HEADER + I_CAPACITY);
        int visited = 0;
        for (int slot = 0; slot < capacity; slot++) {
            long value = buffer.getLongAcquire(slots + slot * SLOT_SIZE + 8);
            if (value == EMPTY || value == TOMBSTONE) {
                continue;
            }
            try {
                if (view.wrap(buffer, (int) value) && view.isValid()) {
                    action.accept(view);
                    visited++;
                }
            } catch (IndexOutOfBoundsException recycledUnderUs) {
                // The record was freed and reused while we walked; it is either gone or re-listed elsewhere.
            }
        }
        return visited;
    }

    /** Whether a daemon still owns this table, and its counters. */
    public TableStatus status() {
        boolean closed = buffer.getIntVolatile(H_CLOSED) != 0;
        boolean live = !closed && writerHoldsLock();
        return new TableStatus(file, live, buffer.getLong(H_WRITER_PID), buffer.getLong(H_STARTED_MILLIS),
                buffer.getLongAcquire(H_HEARTBEAT_MILLIS), buffer.getLongAcquire(H_UPDATED_MILLIS), generation(),
                servicePortCount(), endpointCount(), closed);
    }

    private boolean writerHoldsLock() {
        // Read-only and never through a link: a reader (often root) must not create or write files here.
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            FileLock lock = ch.tryLock(0, 1, true);
            if (lock == null) {
                return true; // another process holds it exclusively: the daemon
            }
            lock.release();
            return false;
        } catch (OverlappingFileLockException sameProcess) {
            return true; // we are inside the daemon itself
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        if (ownMapping != null) {
            IoUtil.unmap(ownMapping);
        }
    }
}
