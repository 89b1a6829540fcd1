package dev.ferry.conntrack;

import dev.ferry.state.PrivateFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.atomic.AtomicInteger;
import net.openhft.chronicle.hash.serialization.impl.ByteArraySizedReader;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the persisted maps. The daemon's open must never fail on a bad file (a crash loop would
 * take the node's services down): a file Chronicle cannot open is moved aside as
 * {@code NAME.corrupt-<UTC timestamp>} for inspection and an empty map takes its place. Only the
 * newest {@value #KEEP_CORRUPT} such copies of each map are kept: a node that keeps crashing would
 * otherwise fill its state directory with them, one map-sized file per restart.
 */
final class MapFiles {
    private static final Logger LOG = LoggerFactory.getLogger(MapFiles.class);
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** How many moved-aside copies of one map are kept (the newest). */
    static final int KEEP_CORRUPT = 3;

    private MapFiles() {}

    static ChronicleMapBuilder<byte[], byte[]> builder(String name, int keySize, int valueSize, long capacity) {
        return ChronicleMapBuilder.of(byte[].class, byte[].class)
                .name(name)
                .keyReaderAndDataAccess(ByteArraySizedReader.INSTANCE, new ReusingByteArrayDataAccess())
                .valueReaderAndDataAccess(ByteArraySizedReader.INSTANCE, new ReusingByteArrayDataAccess())
                .constantKeySizeBySample(new byte[keySize])
                .constantValueSizeBySample(new byte[valueSize])
                .entries(Math.max(1024, capacity))
                // Hash spread is uneven per segment; tiers absorb it instead of "segment full" errors.
                .maxBloatFactor(2.0);
    }

    /**
     * Opens or creates the map; on any failure moves the file aside and starts empty, logging why.
     *
     * @param cleanShutdown whether the previous writer closed the maps; if not, it may have died
     *     holding a segment lock, and only Chronicle's recovery (a full scan, which Chronicle says
     *     needs exclusive access and should not be the normal way to open) releases it
     */
    static ChronicleMap<byte[], byte[]> openForWriter(ChronicleMapBuilder<byte[], byte[]> builder, Path file,
                                                      boolean cleanShutdown) {
        Path dir = file.getParent();
        try {
            PrivateFiles.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create state directory " + dir, e);
        }
        String odd;
        try {
            odd = PrivateFiles.nonRegular(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot inspect conntrack map " + file, e);
        }
        if (odd != null) {
            // Chronicle opens by name and would follow a link: the entry itself is moved aside.
            Path aside = moveAside(file);
            LOG.error("conntrack map {} is {}, not a file Ferry wrote; moved it to {} and starting with an empty table",
                    file, odd, aside);
        } else if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            try {
                String damage = headerDamage(file);
                if (damage != null) {
                    throw new IOException(damage);
                }
                return cleanShutdown ? builder.createPersistedTo(file.toFile()) : recover(builder, file);
            } catch (Exception | InternalError | LinkageError e) {
                if (noSpace(e)) {
                    // The file is fine, the disk is full: keep it for when there is room again.
                    throw new UncheckedIOException(new IOException(noSpaceMessage(file, e), e));
                }
                // InternalError: Unsafe access to a page beyond a truncated file's end (SIGBUS).
                Path aside = moveAside(file);
                LOG.error("conntrack map {} cannot be opened ({}); moved it to {} and starting with an empty table",
                        file, e.toString(), aside, e);
            }
        }
        try {
            // Created here, 0600 and exclusively, so Chronicle (which would create it with the
            // umask's mode) only ever opens a file Ferry made; an empty file is a new map to it.
            PrivateFiles.createFile(file);
            return builder.createPersistedTo(file.toFile());
        } catch (IOException | RuntimeException | InternalError e) {
            if (noSpace(e)) {
                deleteQuietly(file);
                throw new UncheckedIOException(new IOException(noSpaceMessage(file, e), e));
            }
            throw new UncheckedIOException(new IOException("cannot create conntrack map " + file + ": " + e, e));
        }
    }

    /** Chronicle preallocates a map's file (posix_fallocate) and says so when the disk has no room. */
    private static boolean noSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("Not enough space") || m.contains("No space left"))) {
                return true;
            }
        }
        return false;
    }

    private static String noSpaceMessage(Path file, Throwable e) {
        String free;
        try {
            free = Files.getFileStore(file.getParent()).getUsableSpace() + " bytes free";
        } catch (IOException | RuntimeException ignored) {
            free = "free space unknown";
        }
        String detail = e.getMessage();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains("space")) {
                detail = t.getMessage();
            }
        }
        return "no space in state directory " + file.getParent() + " for conntrack map " + file.getFileName() + " ("
                + free + "; Chronicle Map: " + detail + "); free space there or use another --state-dir";
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: an empty leftover is recreated on the next start
        }
    }

    private static ChronicleMap<byte[], byte[]> recover(ChronicleMapBuilder<byte[], byte[]> builder, Path file)
            throws IOException {
        LOG.warn("conntrack map {}: the previous daemon did not shut down cleanly; recovering (scans the whole map)", file);
        AtomicInteger corruptions = new AtomicInteger();
        ChronicleMap<byte[], byte[]> map = builder.recoverPersistedTo(file.toFile(), true, c -> {
            if (corruptions.getAndIncrement() < 10) {
                LOG.warn("conntrack map {}: repaired corruption in segment {}: {}", file, c.segmentIndex(), c.message());
            }
        });
        if (corruptions.get() > 0) {
            LOG.warn("conntrack map {}: {} corruptions repaired; damaged entries were dropped", file, corruptions.get());
        }
        return map;
    }

    /** Opens an existing map that another process writes; never creates or repairs one. */
    static ChronicleMap<byte[], byte[]> openForReader(ChronicleMapBuilder<byte[], byte[]> builder, Path file)
            throws IOException {
        PrivateFiles.requireRegularOrAbsent(file);
        String damage = headerDamage(file);
        if (damage != null) {
            throw new IOException("conntrack map " + file + " is unreadable: " + damage);
        }
        try {
            return builder.createPersistedTo(file.toFile());
        } catch (Exception | InternalError e) {
            throw new IOException("conntrack map " + file + " is unreadable (truncated or corrupt): " + e.getMessage(), e);
        }
    }

    /**
     * Checks the self-describing header Chronicle writes first (8 bytes of checksum, then a
     * little-endian length word whose top bit means "still being written", then that many bytes of
     * YAML). Without this, Chronicle meets a zeroed or half-written header by waiting 60 s for
     * another process to finish writing it.
     *
     * @return what is wrong, or null when the header looks complete
     */
    static String headerDamage(Path file) throws IOException {
        long size = Files.size(file);
        if (size < 12) {
            return "file is " + size + " bytes, shorter than a map header";
        }
        byte[] head = new byte[12];
        try (var in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, 12) != 12) {
                return "cannot read the map header";
            }
        }
        int word = (head[8] & 0xff) | (head[9] & 0xff) << 8 | (head[10] & 0xff) << 16 | (head[11] & 0xff) << 24;
        if (word == 0) {
            return "map header is empty (zeroed or never written)";
        }
        if (word < 0) {
            return "map header is incomplete (a writer died while creating it)";
        }
        long length = word & 0x3fffffffL;
        if (12 + length > size) {
            return "map header claims " + length + " bytes but the file has " + size;
        }
        return null;
    }

    static Path moveAside(Path file) {
        Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + TS.format(Instant.now()));
        try {
            Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
            pruneCorrupt(file);
            return aside;
        } catch (IOException moveFailed) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException deleteFailed) {
                moveFailed.addSuppressed(deleteFailed);
                throw new UncheckedIOException("cannot move aside or delete corrupt conntrack map " + file, moveFailed);
            }
            LOG.warn("could not move {} aside ({}); deleted it instead", file, moveFailed.toString());
            return null;
        }
    }

    /**
     * Deletes all but the newest {@link #KEEP_CORRUPT} {@code NAME.corrupt-*} files next to
     * {@code file} (the timestamp in the name orders them). A link is deleted as a link, never
     * followed. Failures are logged: pruning must not stop the daemon from starting.
     */
    static void pruneCorrupt(Path file) {
        String prefix = file.getFileName() + ".corrupt-";
        java.util.List<Path> copies = new java.util.ArrayList<>();
        try (java.nio.file.DirectoryStream<Path> dir = Files.newDirectoryStream(file.getParent(), prefix + "*")) {
            dir.forEach(copies::add);
        } catch (IOException e) {
            LOG.warn("cannot list old copies of {}: {}", file, e.toString());
            return;
        }
        copies.sort(java.util.Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
        for (Path old : copies.subList(Math.min(KEEP_CORRUPT, copies.size()), copies.size())) {
            try {
                Files.deleteIfExists(old);
                LOG.info("deleted {}: only the newest {} corrupt copies of {} are kept", old, KEEP_CORRUPT, file.getFileName());
            } catch (IOException e) {
                LOG.warn("cannot delete old corrupt copy {}: {}", old, e.toString());
            }
        }
    }
}
