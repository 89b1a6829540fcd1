package dev.ferry.table;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The disk blocks behind the mapped table. The file is as long as the table's capacity but sparse;
 * a page of a mapping that the filesystem cannot back is a SIGBUS (a JVM crash or an
 * {@link InternalError}) on first write, so the writer never touches a page this class has not
 * first written through the file channel: {@link #ensure} writes zeros ahead of the allocator, in
 * chunks, and a full filesystem is an {@link IOException} naming the directory and the bytes
 * needed, before any mapped byte is touched. Only the used part of the table costs disk (on tmpfs,
 * memory), so the default 1 GiB --table-size still costs a few MiB.
 *
 * <p>Also answers, cheaply (one fstat), whether the file under the mapping was truncated.
 * Not thread-safe: the table's writer thread only.
 */
final class TableStorage {
    /** Reserved at start-up: the header, the first indexes and room for a few thousand records. */
    static final long INITIAL_BYTES = 1L << 20;
    private static final long MIN_CHUNK = 1L << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final FileChannel channel;
    private final Path dir;
    private final long capacity;
    private long backed;

    private TableStorage(FileChannel channel, Path dir, long capacity) {
        this.channel = channel;
        this.dir = dir;
        this.capacity = capacity;
    }

    /**
     * Sizes a new, empty table file to {@code capacity} (sparse) and writes its first
     * {@value #INITIAL_BYTES} bytes, so the header and first indexes have real blocks.
     *
     * @throws IOException naming the directory and the bytes needed when the filesystem is full
     */
    static TableStorage reserve(FileChannel channel, Path dir, long capacity) throws IOException {
        TableStorage s = new TableStorage(channel, dir, capacity);
        long first = Math.min(capacity, INITIAL_BYTES);
        try {
            s.writeZeros(0, first);
            if (first < capacity) {
                s.writeZeros(capacity - 1, capacity); // the file's length; the rest stays a hole
            }
        } catch (IOException e) {
            throw new IOException(s.noSpace(first + (first < capacity ? 4096 : 0), "to start") , e);
        }
        s.backed = first;
        return s;
    }

    /**
     * Makes sure the file has blocks for [0, end): writes zeros from the backed end to at least
     * {@code end} (a chunk at a time, so growth is rare). The bytes written are above the
     * allocator's bump pointer: nothing reads them yet.
     *
     * @throws TableFullException naming the directory and the bytes needed when it is full
     */
    void ensure(long end) {
        if (end <= backed) {
            return;
        }
        long chunk = Math.max(MIN_CHUNK, backed / 4);
        long target = Math.min(capacity, Math.max(end, backed + chunk));
        target = Math.min(capacity, (target + 4095) & ~4095L);
        try {
            writeZeros(backed, target);
        } catch (IOException e) {
            throw new TableFullException(noSpace(target - backed, "to grow") + " (" + e.getMessage() + ")");
        }
        backed = target;
    }

    /** Re-writes the blocks a truncation took away, up to what was backed, and the file's length. */
    void restoreAfterTruncation() throws IOException {
        long size = channel.size();
        if (size < backed) {
            writeZeros(size, backed);
        }
        if (channel.size() < capacity) {
            writeZeros(capacity - 1, capacity);
        }
    }

    long backedBytes() {
        return backed;
    }

    /** The file's current length (fstat of the open file, so it sees a truncation by anyone). */
    long fileSize() throws IOException {
        return channel.size();
    }

    /** What is wrong with the entry at {@code path} compared with the file this table maps, or null. */
    static String replacedOrRemoved(Path path, Object fileKey) {
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (fileKey != null && !fileKey.equals(a.fileKey())) {
                return "was replaced by another " + (a.isSymbolicLink() ? "entry (a symbolic link)" : "file");
            }
            return null;
        } catch (NoSuchFileException e) {
            return "was removed";
        } catch (IOException e) {
            return "cannot be checked (" + e + ")";
        }
    }

    private void writeZeros(long from, long to) throws IOException {
        long pos = from;
        while (pos < to) {
            ByteBuffer z = ZEROS.duplicate();
            z.limit((int) Math.min(z.capacity(), to - pos));
            pos += channel.write(z, pos);
        }
    }

    private String noSpace(long needed, String what) {
        String free;
        try {
            free = Files.getFileStore(dir).getUsableSpace() + " bytes free";
        } catch (IOException | RuntimeException e) {
            free = "free space unknown";
        }
        return "no space in state directory " + dir + " for the service table: it needs " + needed + " more bytes "
                + what + " (" + backed + " in use, --table-size " + capacity + "; " + free + ")";
    }
}
