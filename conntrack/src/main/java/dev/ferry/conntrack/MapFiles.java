package dev.ferry.conntrack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.atomic.AtomicInteger;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the persisted maps. The daemon's open must never fail on a bad file (a crash loop would
 * take the node's services down): a file Chronicle cannot open is moved aside as
 * {@code NAME.corrupt-<UTC timestamp>} for inspection and an empty map takes its place.
 */
final class MapFiles {
    private static final Logger LOG = LoggerFactory.getLogger(MapFiles.class);
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

    private MapFiles() {}

    static ChronicleMapBuilder<byte[], byte[]> builder(String name, int keySize, int valueSize, long capacity) {
        return ChronicleMapBuilder.of(byte[].class, byte[].class)
                .name(name)
                .constantKeySizeBySample(new byte[keySize])
                .constantValueSizeBySample(new byte[valueSize])
                .entries(Math.max(1024, capacity))
                // Hash spread is uneven per segment; tiers absorb it instead of "segment full" errors.
                .maxBloatFactor(2.0);
    }

    /**
     * Opens (recovering locks a crashed writer left held) or creates the map; on any failure moves
     * the file aside and starts empty, logging why.
     */
    static ChronicleMap<byte[], byte[]> openForWriter(ChronicleMapBuilder<byte[], byte[]> builder, Path file) {
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create state directory " + file.getParent(), e);
        }
        if (Files.exists(file)) {
            AtomicInteger corruptions = new AtomicInteger();
            try {
                // recover, not plain open: a daemon killed while holding a segment lock would
                // otherwise leave every later lookup waiting on a lock nobody will release.
                ChronicleMap<byte[], byte[]> map = builder.recoverPersistedTo(file.toFile(), true, c -> {
                    if (corruptions.getAndIncrement() < 10) {
                        LOG.warn("conntrack map {}: repaired corruption in segment {}: {}",
                                file, c.segmentIndex(), c.message());
                    }
                });
                if (corruptions.get() > 0) {
                    LOG.warn("conntrack map {}: {} corruptions repaired while opening; damaged entries were dropped",
                            file, corruptions.get());
                }
                return map;
            } catch (Exception | InternalError | LinkageError e) {
                // InternalError: Unsafe access to a page beyond a truncated file's end (SIGBUS).
                Path aside = moveAside(file);
                LOG.error("conntrack map {} cannot be opened ({}); moved it to {} and starting with an empty table",
                        file, e.toString(), aside, e);
            }
        }
        try {
            return builder.createPersistedTo(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create conntrack map " + file, e);
        }
    }

    /** Opens an existing map that another process writes; never creates or repairs one. */
    static ChronicleMap<byte[], byte[]> openForReader(ChronicleMapBuilder<byte[], byte[]> builder, Path file)
            throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no conntrack map here (is the daemon's --state-dir right?)");
        }
        try {
            return builder.createPersistedTo(file.toFile());
        } catch (IOException e) {
            throw e;
        } catch (Exception | InternalError e) {
            throw new IOException("conntrack map " + file + " is unreadable (truncated or corrupt): " + e, e);
        }
    }

    static Path moveAside(Path file) {
        Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + TS.format(Instant.now()));
        try {
            Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
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
}
