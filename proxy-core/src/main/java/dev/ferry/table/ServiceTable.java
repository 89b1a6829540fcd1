package dev.ferry.table;

import static dev.ferry.table.TableLayout.*;

import dev.ferry.model.Frontend;
import dev.ferry.model.FrontendClaims;
import dev.ferry.state.PrivateFiles;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service table's single writer: service ports laid out off-heap in a memory-mapped file in the
 * state directory, indexed by frontend (protocol, address, port) and by name, for lock-free readers
 * in this process ({@link #reader()}) and in others ({@link ServiceTableReader#open(Path)}).
 *
 * <p>Guarantees: a reader never sees a half-written service port (each change writes a new record
 * and then swings index slots to it); a change costs in proportion to the changed service port, not
 * to the table; an unchanged service port is not rewritten; the heap holds nothing per service.
 * The file is sparse: only touched pages use memory, so the default size needs no tuning; a full
 * table is a clear {@link TableFullException}.
 *
 * <p>Two service ports claiming one frontend: {@link FrontendClaims} decides (the earlier name wins),
 * whatever order they are written in. A newcomer that outranks the holder evicts it; the loser is
 * kept on the heap (at most {@link #MAX_DISPLACED}, counted) and written again by
 * {@link #retryDisplaced()} once its frontends are free, so the table ends up as the rule syncers'
 * and {@code ferry sync --dry-run}'s validation would have it.
 *
 * <p>Not thread-safe: exactly one thread (the sync loop) may call the mutating methods.
 */
public final class ServiceTable implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceTable.class);
    /** Default mapped size: 1 GiB of address space, sparse (about 1 KiB per service port with 10 endpoints). */
    public static final long DEFAULT_SIZE_BYTES = 1L << 30;
    /** How long a freed record stays readable before its block can be reused. */
    public static final long DEFAULT_GRACE_MILLIS = 2_000;
    private static final int INITIAL_INDEX_SLOTS = 1024;
    /** Service ports that lost a frontend claim kept for a retry; more are dropped (and counted) until a full sync. */
    public static final int MAX_DISPLACED = 10_000;

    /** What {@link #put} did. */
    public enum Change { ADDED, UPDATED, UNCHANGED }

    /** Outcome of {@link #replaceAll}: counts and the service ports that could not be written, with why. */
    public record SyncResult(int added, int updated, int removed, int unchanged, List<String> errors) {
        public boolean changed() {
            return added + updated + removed > 0;
        }
    }

    private final Path file;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer buffer;
    private final BlockAllocator allocator;
    private final LongSupplier clock;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final FileChannel channel;
    private final TableStorage storage;
    private final long capacity;
    private final Object fileKey;
    private final RecordEncoder encoder = new RecordEncoder();
    private final ServicePortView own = new ServicePortView();
    private final ServicePortView other = new ServicePortView();
    private final ServiceTableReader reader;
    private final ChangeFeed changes;
    private long nextStamp = 1;
    /** Losers of a frontend claim, by name, written again when their frontends are free. */
    private final TreeMap<ServicePortName, ServicePort> displaced = new TreeMap<>();
    /** Ports this writer evicted since {@link #drainEvictions()}, with the reason. */
    private final TreeMap<ServicePortName, String> evictions = new TreeMap<>();
    private volatile long displacedDropped; // read by the metrics thread
    /** Whether a frontend may have come free since the last {@link #retryDisplaced()}. */
    private boolean frontendsFreed;
    private long generationSeen;
    private int batchDepth;
    private boolean dirty;
    private boolean closed;

    private ServiceTable(Path file, MappedByteBuffer mapped, long size, long graceMillis, LongSupplier clock,
                         FileChannel lockChannel, FileLock lock, Path lockFile, FileChannel channel,
                         TableStorage storage, Object fileKey) {
        this.file = file;
        this.mapped = mapped;
        this.buffer = new UnsafeBuffer(mapped);
        this.clock = clock;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.channel = channel;
        this.storage = storage;
        this.capacity = size;
        this.fileKey = fileKey;
        this.allocator = new BlockAllocator(buffer, size, graceMillis, clock, file.toString(), storage::ensure);
        this.reader = new ServiceTableReader(buffer, null, file, lockFile);
        this.changes = new ChangeFeed(0, ChangeFeed.DEFAULT_MAX_KEYS);
    }

    /** Creates a fresh table in stateDir with the defaults. */
    public static ServiceTable create(Path stateDir) throws IOException {
        return create(stateDir, DEFAULT_SIZE_BYTES, DEFAULT_GRACE_MILLIS, System::currentTimeMillis);
    }

    /**
     * Creates a fresh, empty table in stateDir and takes the directory's writer lock (a second
     * daemon on the same directory fails here, naming the first one's pid). The file is built under
     * a temporary name and renamed into place, so a reader never maps a half-initialised file.
     * Files are created 0600 and links are never followed (a link at the lock's name is replaced);
     * the first {@value TableStorage#INITIAL_BYTES} bytes are written before mapping, so a full
     * filesystem is an IOException here naming the directory and the size needed, never a SIGBUS.
     */
    public static ServiceTable create(Path stateDir, long sizeBytes, long graceMillis, LongSupplier clock)
            throws IOException {
        if (sizeBytes < HEADER_SIZE * 4L || sizeBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("table size must be between 16 KiB and 2 GiB, got " + sizeBytes);
        }
        PrivateFiles.createDirectories(stateDir);
        Path lockFile = stateDir.resolve(LOCK_FILE_NAME);
        StringBuilder replaced = new StringBuilder();
        FileChannel lockChannel = PrivateFiles.openOrReplace(lockFile, replaced);
        if (replaced.length() > 0) {
            LOG.warn("{}", replaced);
        }
        FileLock lock;
        try {
            lock = lockChannel.tryLock(0, 1, false);
        } catch (java.nio.channels.OverlappingFileLockException sameProcess) {
            lockChannel.close();
            throw new IOException("this process already owns the state directory " + stateDir);
        } catch (IOException | RuntimeException e) {
            lockChannel.close();
            throw e;
        }
        if (lock == null) {
            String owner = ownerPid(stateDir.resolve(FILE_NAME));
            lockChannel.close();
            throw new IOException("another Ferry daemon" + owner + " owns the state directory " + stateDir);
        }
        Path file = stateDir.resolve(FILE_NAME);
        Path tmp = stateDir.resolve(FILE_NAME + ".tmp-" + ProcessHandle.current().pid());
        FileChannel channel = null;
        try {
            Files.deleteIfExists(tmp);
            channel = PrivateFiles.createNew(tmp);
            TableStorage storage = TableStorage.reserve(channel, stateDir, sizeBytes);
            MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, sizeBytes);
            Object key = Files.readAttributes(tmp, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            ServiceTable table = new ServiceTable(file, mapped, sizeBytes, graceMillis, clock, lockChannel, lock,
                    lockFile, channel, storage, key);
            table.initHeader(sizeBytes);
            // rename(2) replaces whatever entry has the name, a link included, without following it.
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return table;
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            Files.deleteIfExists(tmp);
            lock.release();
            lockChannel.close();
            throw e;
        }
    }

    private static String ownerPid(Path file) {
        try (ServiceTableReader r = ServiceTableReader.open(file.getParent())) {
            return " (pid " + r.status().writerPid() + ")";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private void initHeader(long size) {
        long now = clock.getAsLong();
        buffer.putLong(H_GENERATION, generationSeen);
        buffer.putLong(H_VERSION, VERSION);
        buffer.putLong(H_WRITER_PID, ProcessHandle.current().pid());
        buffer.putLong(H_STARTED_MILLIS, now);
        buffer.putLong(H_HEARTBEAT_MILLIS, now);
        buffer.putLong(H_UPDATED_MILLIS, now);
        buffer.putLong(H_CAPACITY, size);
        buffer.putLong(H_BUMP, HEADER_SIZE);
        buffer.putLong(H_FRONTEND_INDEX, newIndex(INITIAL_INDEX_SLOTS));
        buffer.putLong(H_NAME_INDEX, newIndex(INITIAL_INDEX_SLOTS));
        buffer.putLongRelease(H_MAGIC, MAGIC); // last: a reader that sees the magic sees a whole header
    }

    public Path file() {
        return file;
    }

    /** A reader over this process's mapping: shares memory with the writer, allocates nothing per lookup. */
    public ServiceTableReader reader() {
        return reader;
    }

    /**
     * The feed of what each generation wrote and removed, for consumers in this process that follow
     * the table instead of re-reading all of it ({@link ChangeFeed#since}).
     */
    public ChangeFeed changes() {
        return changes;
    }

    /**
     * Runs {@code writes} (puts and removes on this table) as one generation: readers see the
     * generation move once, and the change feed publishes one entry naming everything they wrote.
     */
    public <T> T batch(java.util.function.Supplier<T> writes) {
        ensureOpen();
        batchDepth++;
        try {
            return writes.get();
        } finally {
            batchDepth--;
            if (dirty) {
                published();
            }
        }
    }

    /** Writes sp (or nothing, when an identical record is already there). */
    public Change put(ServicePort sp) {
        ensureOpen();
        ServicePortName n = sp.name();
        int length = encoder.encode(sp);
        int oldBlock = findName(n);
        if (oldBlock != 0 && sameBytes(oldBlock, length)) {
            return Change.UNCHANGED;
        }
        batchDepth++; // an eviction and this write are one generation
        try {
            claimFrontends(sp, oldBlock);
            return write(sp, length, oldBlock);
        } finally {
            batchDepth--;
            published();
        }
    }

    private Change write(ServicePort sp, int length, int oldBlock) {
        ServicePortName n = sp.name();
        List<Frontend> frontends = sp.frontends();
        displaced.remove(n);

        int block = allocator.allocate(length, KIND_RECORD);
        buffer.putBytes(block + BLOCK_HEADER, encoder.buffer(), 0, length);
        buffer.putLongRelease(block + B_STAMP, nextStamp++);

        int proto = n.protocol().ordinal();
        for (int i = 0; i < frontends.size(); i++) {
            Frontend f = frontends.get(i);
            int fam = f.address() == null ? RecordLayout.FAMILY_NONE : AddressBits.family(f.address());
            long hi = f.address() == null ? 0 : AddressBits.hi(f.address());
            long lo = f.address() == null ? 0 : AddressBits.lo(f.address());
            upsertFrontend(proto, fam, hi, lo, f.port(), ((long) block << 16) | i);
        }
        long endpointDelta = sp.endpoints().size();
        if (oldBlock != 0) {
            frontendsFreed = true; // the old record's frontends may be ones the new one dropped
            own.wrap(buffer, oldBlock);
            endpointDelta -= own.endpointCount();
            // Frontends the new record no longer has: unlink those still pointing at the old record.
            for (int i = 0, c = own.frontendCount(); i < c; i++) {
                own.wrap(buffer, oldBlock);
                removeFrontendIfOwnedBy(proto, own.frontendFamily(i), own.frontendHi(i), own.frontendLo(i),
                        own.frontendPort(i), oldBlock);
            }
        }
        upsertName(n, block);
        if (oldBlock != 0) {
            allocator.free(oldBlock);
        } else {
            buffer.putLongRelease(H_SERVICE_PORTS, buffer.getLong(H_SERVICE_PORTS) + 1);
        }
        buffer.putLongRelease(H_ENDPOINTS, buffer.getLong(H_ENDPOINTS) + endpointDelta);
        changes.written(n);
        published();
        return oldBlock == 0 ? Change.ADDED : Change.UPDATED;
    }

    /** Removes a service port; false when it was not there. */
    public boolean remove(ServicePortName n) {
        ensureOpen();
        displaced.remove(n);
        return removeRecord(n);
    }

    private boolean removeRecord(ServicePortName n) {
        int block = findName(n);
        if (block == 0) {
            return false;
        }
        frontendsFreed = true;
        own.wrap(buffer, block);
        int proto = n.protocol().ordinal();
        int endpoints = own.endpointCount();
        for (int i = 0, c = own.frontendCount(); i < c; i++) {
            own.wrap(buffer, block);
            removeFrontendIfOwnedBy(proto, own.frontendFamily(i), own.frontendHi(i), own.frontendLo(i),
                    own.frontendPort(i), block);
        }
        removeName(n, block);
        allocator.free(block);
        buffer.putLongRelease(H_SERVICE_PORTS, buffer.getLong(H_SERVICE_PORTS) - 1);
        buffer.putLongRelease(H_ENDPOINTS, buffer.getLong(H_ENDPOINTS) - endpoints);
        changes.removed(n);
        published();
        return true;
    }

    /**
     * Makes the table hold exactly {@code desired}: writes what changed, removes what is gone, leaves
     * the rest untouched. A service port that cannot be written (a frontend conflict, an oversized
     * field) is reported in the result and does not stop the others. One generation bump at the end.
     */
    public SyncResult replaceAll(Collection<ServicePort> desired) {
        ensureOpen();
        int added = 0;
        int updated = 0;
        int unchanged = 0;
        List<String> errors = new ArrayList<>();
        Map<ServicePortName, String> conflicts = new LinkedHashMap<>();
        Set<ServicePortName> keep = new HashSet<>(desired.size() * 2);
        batchDepth++;
        try {
            for (ServicePort sp : desired) {
                keep.add(sp.name());
            }
            // Removals first, so a frontend that moves from a deleted service to a new one is free.
            List<ServicePortName> gone = new ArrayList<>();
            reader.forEach(new ServicePortView(), v -> {
                ServicePortName n = v.servicePortName();
                if (!keep.contains(n)) {
                    gone.add(n);
                }
            });
            for (ServicePortName n : gone) {
                remove(n);
            }
            retainDisplaced(keep);
            for (ServicePort sp : desired) {
                try {
                    switch (put(sp)) {
                        case ADDED -> added++;
                        case UPDATED -> updated++;
                        default -> unchanged++;
                    }
                } catch (FrontendConflictException e) {
                    conflicts.put(sp.name(), sp.name() + ": " + e.getMessage());
                } catch (IllegalArgumentException e) {
                    errors.add(sp.name() + ": " + e.getMessage());
                }
            }
            SyncResult retried = retryDisplaced();
            conflicts.forEach((n, e) -> {
                if (isDisplaced(n)) { // else a retry wrote it after all
                    errors.add(e);
                }
            });
            added += retried.added();
            errors.addAll(retried.errors());
            return new SyncResult(added, updated, gone.size(), unchanged, List.copyOf(errors));
        } finally {
            batchDepth--;
            published();
        }
    }

    /** Records that the writer is alive; readers use it to tell a live daemon from a stale file. */
    public void heartbeat() {
        if (!closed && !truncated()) {
            buffer.putLongRelease(H_HEARTBEAT_MILLIS, clock.getAsLong());
        }
    }

    /** Returns freed blocks whose grace period is over to the free lists (the writer also does this on allocation). */
    public void reclaim() {
        if (!closed && !truncated()) {
            allocator.reclaim();
        }
    }

    /**
     * What is wrong with the table's file now, or null when it is intact: truncated (checked first,
     * with one fstat, so that nothing past the end is touched), removed or replaced at its path, or
     * its header overwritten (magic, version, size, owner pid, closed flag, allocator bounds). Cheap
     * enough to call before every write and once a second; writer thread only.
     */
    public String damage() {
        if (closed) {
            return null;
        }
        long size;
        try {
            size = storage.fileSize();
        } catch (IOException e) {
            return "service table " + file + " cannot be checked: " + e;
        }
        if (size < capacity) {
            return "service table " + file + " was truncated to " + size + " of " + capacity + " bytes";
        }
        try {
            if (buffer.getLongVolatile(H_MAGIC) != MAGIC || buffer.getLong(H_VERSION) != VERSION) {
                return "service table " + file + " header was overwritten (magic/version)";
            }
            if (buffer.getLong(H_CAPACITY) != capacity || buffer.getLong(H_WRITER_PID) != ProcessHandle.current().pid()
                    || buffer.getIntVolatile(H_CLOSED) != 0) {
                return "service table " + file + " header was overwritten (size, owner pid or closed flag)";
            }
            long bump = buffer.getLong(H_BUMP);
            long frontends = buffer.getLong(H_FRONTEND_INDEX);
            long names = buffer.getLong(H_NAME_INDEX);
            if (bump < HEADER_SIZE || bump > storage.backedBytes() || frontends < HEADER_SIZE || frontends >= bump
                    || names < HEADER_SIZE || names >= bump) {
                return "service table " + file + " header was overwritten (allocator or index offsets out of bounds)";
            }
            if (buffer.getLong(H_GENERATION) < generationSeen) {
                return "service table " + file + " header was overwritten (generation went back)";
            }
        } catch (InternalError e) {
            return "service table " + file + " cannot be read (" + e.getMessage() + ")";
        }
        String moved = TableStorage.replacedOrRemoved(file, fileKey);
        if (moved != null) {
            return "service table " + file + " " + moved + "; `ferry dump` and `ferry explain` no longer see this"
                    + " daemon's table (restart ferry to recreate it)";
        }
        return null;
    }

    /**
     * Whether {@link #rebuild} can repair what {@link #damage} reported: a truncated or overwritten
     * file still at its path can be; a removed or replaced one cannot (this process keeps the
     * unlinked file mapped and serves from it, but no other process can open it).
     */
    public boolean repairable() {
        return TableStorage.replacedOrRemoved(file, fileKey) == null;
    }

    /**
     * Repairs a truncated or overwritten table in place and empties it: the file's lost blocks and
     * length are written back (so the mapping is whole again and nothing faults), the header and
     * indexes are laid out anew, and the generation moves on. The caller then writes the desired
     * state again (a full sync); readers see an empty table until then, never a fault.
     *
     * @throws IOException when the file cannot be restored (e.g. the disk is full), naming it
     */
    public void rebuild() throws IOException {
        ensureOpen();
        storage.restoreAfterTruncation();
        // Readers that look now find no index and report "not found" until the new ones are published.
        buffer.putLongRelease(H_FRONTEND_INDEX, 0L);
        buffer.putLongRelease(H_NAME_INDEX, 0L);
        // Free lists, limbo, counters: all restart empty; blocks of the old layout are abandoned.
        buffer.setMemory(0, HEADER_SIZE, (byte) 0);
        generationSeen++;
        initHeader(capacity);
        buffer.putLongRelease(H_GENERATION, generationSeen);
        // The full sync that follows hands every port over again, losers of frontend claims included.
        displaced.clear();
        evictions.clear();
        changes.everything();
        changes.publish(generationSeen);
    }

    public long generation() {
        return buffer.getLongAcquire(H_GENERATION);
    }

    public long bytesInUse() {
        return allocator.bytesInUse();
    }

    /**
     * Marks the table cleanly closed (readers then report it as stale, not live), unmaps it and
     * releases the writer lock. In-process readers must be stopped first. The file stays for
     * post-mortem `ferry dump`.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        // A truncated file must not be touched through the mapping (SIGBUS, an InternalError that
        // would escape shutdown); it is still unmapped and its lock released.
        try {
            if (!truncated()) {
                buffer.putIntVolatile(H_CLOSED, 1);
                mapped.force();
            }
        } catch (InternalError | RuntimeException e) {
            LOG.warn("service table {}: could not mark it closed ({}); readers will call it dead, not stopped", file,
                    e.toString());
        } finally {
            IoUtil.unmap(mapped);
            try {
                lock.release();
            } finally {
                lockChannel.close();
                channel.close();
            }
        }
    }

    private boolean truncated() {
        try {
            return storage.fileSize() < capacity;
        } catch (IOException e) {
            return true;
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("service table " + file + " is closed");
        }
    }

    private void published() {
        dirty = true;
        if (batchDepth == 0 && dirty) {
            dirty = false;
            buffer.putLongRelease(H_UPDATED_MILLIS, clock.getAsLong());
            generationSeen = buffer.getLong(H_GENERATION) + 1;
            buffer.putLongRelease(H_GENERATION, generationSeen);
            changes.publish(generationSeen);
        }
    }

    private boolean sameBytes(int block, int length) {
        int base = block + BLOCK_HEADER;
        if (buffer.getInt(base + RecordLayout.R_LENGTH) != length) {
            return false;
        }
        var scratch = encoder.buffer();
        int i = 0;
        for (; i + 8 <= length; i += 8) {
            if (buffer.getLong(base + i) != scratch.getLong(i)) return false;
        }
        for (; i < length; i++) {
            if (buffer.getByte(base + i) != scratch.getByte(i)) return false;
        }
        return true;
    }

    /**
     * Takes sp's frontends: throws when a port that outranks sp holds one (sp is kept as displaced),
     * else evicts every later-named holder (kept as displaced, reported by {@link #drainEvictions()}).
     */
    private void claimFrontends(ServicePort sp, int oldBlock) {
        ServicePortName n = sp.name();
        int proto = n.protocol().ordinal();
        List<Integer> losers = null;
        for (Frontend f : sp.frontends()) {
            int fam = f.address() == null ? RecordLayout.FAMILY_NONE : AddressBits.family(f.address());
            long hi = f.address() == null ? 0 : AddressBits.hi(f.address());
            long lo = f.address() == null ? 0 : AddressBits.lo(f.address());
            int slot = findFrontendSlot(proto, fam, hi, lo, f.port());
            if (slot >= 0) {
                int owner = (int) (buffer.getLong(slot + 8) >>> 16);
                if (owner != oldBlock) {
                    other.wrap(buffer, owner);
                    ServicePortName holder = other.servicePortName();
                    if (!FrontendClaims.outranks(n, holder)) {
                        displace(sp);
                        throw new FrontendConflictException(new FrontendClaims.Conflict(f, holder).reason(n.protocol()));
                    }
                    if (losers == null) {
                        losers = new ArrayList<>(2);
                    }
                    if (!losers.contains(owner)) {
                        losers.add(owner);
                    }
                }
            }
        }
        if (losers == null) {
            return;
        }
        for (int owner : losers) {
            other.wrap(buffer, owner);
            ServicePort loser = other.toServicePort();
            String reason = conflictWith(loser, sp);
            removeRecord(loser.name());
            displace(loser);
            evictions.put(loser.name(), reason);
        }
    }

    private static String conflictWith(ServicePort loser, ServicePort winner) {
        for (Frontend f : loser.frontends()) {
            for (Frontend w : winner.frontends()) {
                if (f.port() == w.port() && java.util.Objects.equals(f.address(), w.address())) {
                    return new FrontendClaims.Conflict(f, winner.name()).reason(loser.name().protocol());
                }
            }
        }
        return "frontend already used by " + winner.name() + "/" + winner.name().protocol();
    }

    private void displace(ServicePort sp) {
        if (displaced.size() >= MAX_DISPLACED && !displaced.containsKey(sp.name())) {
            displacedDropped = displacedDropped + 1; // one writer thread
            LOG.warn("{} lost a frontend claim and is not kept for a retry: {} are kept already (written again at the next full sync)",
                    sp.name(), MAX_DISPLACED);
            return;
        }
        displaced.put(sp.name(), sp);
    }

    /**
     * Writes again, in name order, the ports that lost a frontend claim and whose frontends are now
     * free (or held by later names); repeats while that changes something. Costs nothing unless a
     * record was removed or rewritten since the last call. Returns the result, with
     * the evictions this caused in its errors.
     */
    public SyncResult retryDisplaced() {
        ensureOpen();
        int added = 0;
        if (!frontendsFreed || displaced.isEmpty()) {
            return new SyncResult(0, 0, 0, 0, drainEvictions()); // nothing a loser waits for has moved
        }
        frontendsFreed = false;
        batchDepth++;
        try {
            for (int pass = 0, max = displaced.size(); pass <= max && !displaced.isEmpty(); pass++) {
                boolean progress = false;
                for (ServicePort sp : List.copyOf(displaced.values())) {
                    if (!displaced.containsKey(sp.name())) {
                        continue;
                    }
                    try {
                        put(sp);
                        added++;
                        progress = true;
                    } catch (FrontendConflictException | IllegalArgumentException stillRefused) {
                        // stays displaced; reported when it was refused
                    }
                }
                if (!progress) {
                    break;
                }
            }
        } finally {
            batchDepth--;
            published();
        }
        return new SyncResult(added, 0, 0, 0, drainEvictions());
    }

    /**
     * "name: reason" of every port evicted by an earlier-named claimant since the last call and still
     * out of the table (one written again by {@link #retryDisplaced()} is not listed); empties the list.
     */
    public List<String> drainEvictions() {
        List<String> out = new ArrayList<>();
        evictions.forEach((n, reason) -> {
            if (displaced.containsKey(n)) {
                out.add(n + ": " + reason);
            }
        });
        evictions.clear();
        return out;
    }

    /** Forgets displaced ports whose names are not in keep (a full sync that no longer wants them). */
    public void retainDisplaced(Set<ServicePortName> keep) {
        displaced.keySet().retainAll(keep);
    }

    /** True when n lost a frontend claim and waits for it (it may still have an older record in the table). */
    public boolean isDisplaced(ServicePortName n) {
        return displaced.containsKey(n);
    }

    /**
     * Service ports that lost a frontend claim and wait for it (at most {@link #MAX_DISPLACED}). Any
     * thread may ask (a metric): the answer may be one write behind.
     */
    public int displacedCount() {
        return displaced.size();
    }

    /** Losers of a frontend claim not kept for a retry because {@link #MAX_DISPLACED} were kept already. */
    public long displacedDropped() {
        return displacedDropped;
    }

    // Index plumbing. An index block's payload: capacity:int, used:int (non-empty slots incl. tombstones), slots.

    private int newIndex(int slots) {
        int block = allocator.allocate(I_SLOTS + slots * SLOT_SIZE, KIND_INDEX);
        int base = block + BLOCK_HEADER;
        buffer.setMemory(base, I_SLOTS + slots * SLOT_SIZE, (byte) 0);
        buffer.putInt(base + I_CAPACITY, slots);
        buffer.putInt(base + 4, 0);
        buffer.putLongRelease(block + B_STAMP, nextStamp++);
        return block;
    }

    /** Grows (or compacts tombstones out of) the index at headerField when another insert would pass 50% load. */
    private void ensureRoom(int headerField) {
        int index = (int) buffer.getLong(headerField);
        int base = index + BLOCK_HEADER;
        int capacity = buffer.getInt(base + I_CAPACITY);
        int used = buffer.getInt(base + 4);
        if ((used + 1) * 2L <= capacity) {
            return;
        }
        int live = 0;
        for (int s = 0; s < capacity; s++) {
            long v = buffer.getLong(base + I_SLOTS + s * SLOT_SIZE + 8);
            if (v != EMPTY && v != TOMBSTONE) live++;
        }
        int newCapacity = INITIAL_INDEX_SLOTS;
        while (newCapacity < (live + 1) * 4L) {
            newCapacity <<= 1;
        }
        int fresh = newIndex(newCapacity);
        int freshBase = fresh + BLOCK_HEADER;
        for (int s = 0; s < capacity; s++) {
            int at = base + I_SLOTS + s * SLOT_SIZE;
            long v = buffer.getLong(at + 8);
            if (v == EMPTY || v == TOMBSTONE) continue;
            long h = buffer.getLong(at);
            int to = IndexProbe.freeSlot(buffer, fresh, h); // unpublished and tombstone-free: its first empty slot
            buffer.putLong(to, h);
            buffer.putLong(to + 8, v);
        }
        buffer.putInt(freshBase + 4, live);
        buffer.putLongRelease(headerField, fresh);
        allocator.free(index);
    }

    /** Absolute offset of the slot holding this frontend, or -1. */
    private int findFrontendSlot(int proto, int fam, long hi, long lo, int port) {
        long hash = AddressBits.frontendHash(proto, fam, hi, lo, port);
        int index = (int) buffer.getLong(H_FRONTEND_INDEX);
        for (long c = IndexProbe.first(buffer, index, hash); c >= 0; c = IndexProbe.next(buffer, index, hash, c)) {
            int at = IndexProbe.slot(c);
            long v = buffer.getLong(at + 8);
            other.wrap(buffer, (int) (v >>> 16));
            if (other.protocolOrdinal() == proto && other.frontendMatches((int) (v & 0xFFFF), fam, hi, lo, port)) {
                return at;
            }
        }
        return -1;
    }

    private void upsertFrontend(int proto, int fam, long hi, long lo, int port, long value) {
        int existing = findFrontendSlot(proto, fam, hi, lo, port);
        if (existing >= 0) {
            buffer.putLongRelease(existing + 8, value);
            return;
        }
        insert(H_FRONTEND_INDEX, AddressBits.frontendHash(proto, fam, hi, lo, port), value);
    }

    private void removeFrontendIfOwnedBy(int proto, int fam, long hi, long lo, int port, int block) {
        int at = findFrontendSlot(proto, fam, hi, lo, port);
        if (at >= 0 && (int) (buffer.getLong(at + 8) >>> 16) == block) {
            buffer.putLongRelease(at + 8, TOMBSTONE);
        }
    }

    private void insert(int headerField, long hash, long value) {
        ensureRoom(headerField);
        int index = (int) buffer.getLong(headerField);
        int base = index + BLOCK_HEADER;
        int at = IndexProbe.freeSlot(buffer, index, hash);
        long v = buffer.getLong(at + 8);
        // Hash first, then the value with release: a reader that sees the value sees its hash.
        buffer.putLong(at, hash);
        buffer.putLongRelease(at + 8, value);
        if (v == EMPTY) {
            buffer.putInt(base + 4, buffer.getInt(base + 4) + 1);
        }
    }

    private int findNameSlot(ServicePortName n) {
        int proto = n.protocol().ordinal();
        long hash = NameHash.of(n.namespace(), n.name(), n.portName(), proto);
        int index = (int) buffer.getLong(H_NAME_INDEX);
        for (long c = IndexProbe.first(buffer, index, hash); c >= 0; c = IndexProbe.next(buffer, index, hash, c)) {
            int at = IndexProbe.slot(c);
            other.wrap(buffer, (int) buffer.getLong(at + 8));
            if (other.nameEquals(n.namespace(), n.name(), n.portName(), proto)) {
                return at;
            }
        }
        return -1;
    }

    private int findName(ServicePortName n) {
        int at = findNameSlot(n);
        return at < 0 ? 0 : (int) buffer.getLong(at + 8);
    }

    private void upsertName(ServicePortName n, int block) {
        int at = findNameSlot(n);
        if (at >= 0) {
            buffer.putLongRelease(at + 8, block);
            return;
        }
        insert(H_NAME_INDEX, NameHash.of(n.namespace(), n.name(), n.portName(), n.protocol().ordinal()), block);
    }

    private void removeName(ServicePortName n, int block) {
        int at = findNameSlot(n);
        if (at >= 0 && (int) buffer.getLong(at + 8) == block) {
            buffer.putLongRelease(at + 8, TOMBSTONE);
        }
    }
}
