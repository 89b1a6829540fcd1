package dev.ferry.table;

import static dev.ferry.table.TestServices.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Protocol;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table's files are private, never opened through a link, and a table file damaged under the
 * writer (truncated, header overwritten) is detected without a fault and rebuilt in place.
 */
@Tag("unit")
class TableFileSafetyTest {
    @TempDir
    Path dir;
    private ServiceTable table;
    private final AtomicLong now = new AtomicLong(1_000_000);

    @AfterEach
    void close() throws Exception {
        if (table != null) table.close();
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private ServiceTable create(Path state) throws IOException {
        table = ServiceTable.create(state, 16L << 20, 1_000, now::get);
        return table;
    }

    @Test
    void aLinkPlantedAtTheLockFileIsReplacedAndItsTargetNeverCreated() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Path victim = dir.resolve("created-through-the-link");
        Files.createSymbolicLink(state.resolve(TableLayout.LOCK_FILE_NAME), victim);
        create(state);
        assertFalse(Files.exists(victim, LinkOption.NOFOLLOW_LINKS), "the lock must not be opened through the link");
        assertTrue(Files.isRegularFile(state.resolve(TableLayout.LOCK_FILE_NAME), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aLinkPlantedAtTheTableFileIsReplacedAndItsTargetLeftIntact() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "precious");
        Files.createSymbolicLink(state.resolve(TableLayout.FILE_NAME), victim);
        create(state).put(clusterIp(1, 2, 8080));
        table.close();
        table = null;
        assertEquals("precious", Files.readString(victim));
        assertTrue(Files.isRegularFile(state.resolve(TableLayout.FILE_NAME), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void theTableFilesAre0600AndANewStateDir0700() throws Exception {
        Path state = dir.resolve("new").resolve("state");
        create(state);
        assertEquals("rwx------", mode(state));
        assertEquals("rw-------", mode(state.resolve(TableLayout.FILE_NAME)));
        assertEquals("rw-------", mode(state.resolve(TableLayout.LOCK_FILE_NAME)));
    }

    @Test
    void aReaderRefusesATableFileThatIsALink() throws Exception {
        Path state = dir.resolve("state");
        create(state).put(clusterIp(1, 2, 8080));
        Path other = dir.resolve("other");
        Files.createDirectories(other);
        Files.createSymbolicLink(other.resolve(TableLayout.FILE_NAME), state.resolve(TableLayout.FILE_NAME));
        var e = assertThrows(TableFormatException.class, () -> ServiceTableReader.open(other));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    }

    @Test
    void onlyTheUsedPartOfTheTableHasDiskBlocks() throws Exception {
        Path state = dir.resolve("state");
        table = ServiceTable.create(state, 1L << 30, 1_000, now::get);
        Path f = state.resolve(TableLayout.FILE_NAME);
        assertEquals(1L << 30, Files.size(f), "the file spans the whole table");
        long blocks = allocatedBytes(f);
        assertTrue(blocks < (8L << 20), "a 1 GiB table starts with about 1 MiB of disk, not " + blocks);
    }

    private static long allocatedBytes(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", f.toString()).start();
        String[] out = new String(p.getInputStream().readAllBytes()).trim().split(" ");
        p.waitFor();
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    @Test
    void aTruncatedTableIsReportedWithoutAFaultAndRebuiltInPlace() throws Exception {
        Path state = dir.resolve("state");
        create(state);
        table.put(clusterIp(1, 2, 8080));
        long generation = table.generation();
        assertNull(table.damage());
        Path f = state.resolve(TableLayout.FILE_NAME);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
        String damage = table.damage();
        assertNotNull(damage);
        assertTrue(damage.contains("truncated to 0 of " + (16L << 20)) && damage.contains(f.toString()), damage);
        assertTrue(table.repairable());
        table.heartbeat(); // must not touch the mapping: that would be SIGBUS / InternalError
        table.reclaim();

        table.rebuild();
        assertNull(table.damage(), "whole again");
        assertEquals(0, table.reader().servicePortCount(), "rebuilt empty, for the source to fill");
        assertTrue(table.generation() > generation, "readers see a new generation");
        table.put(clusterIp(2, 1, 8080));
        try (ServiceTableReader other = ServiceTableReader.open(state)) {
            assertTrue(other.status().live());
            assertTrue(other.lookup(Protocol.TCP, ip(clusterIpOf(2)), 80, new ServicePortView()));
        }
    }

    @Test
    void closingATruncatedTableDoesNotThrow() throws Exception {
        Path state = dir.resolve("state");
        create(state).put(clusterIp(1, 2, 8080));
        try (FileChannel ch = FileChannel.open(state.resolve(TableLayout.FILE_NAME), StandardOpenOption.WRITE)) {
            ch.truncate(0);
        }
        table.close(); // before: InternalError from the closed-flag store into the cut mapping
        table = null;
    }

    @Test
    void anOverwrittenHeaderIsReportedAndRebuilt() throws Exception {
        Path state = dir.resolve("state");
        create(state).put(clusterIp(1, 2, 8080));
        try (FileChannel ch = FileChannel.open(state.resolve(TableLayout.FILE_NAME), StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("garbage!".getBytes()), 0);
        }
        String damage = table.damage();
        assertTrue(damage != null && damage.contains("header was overwritten"), damage);
        table.rebuild();
        assertNull(table.damage());
    }

    @Test
    void aRemovedTableFileIsReportedAndNotRepairable() throws Exception {
        Path state = dir.resolve("state");
        create(state).put(clusterIp(1, 2, 8080));
        Files.delete(state.resolve(TableLayout.FILE_NAME));
        String damage = table.damage();
        assertTrue(damage != null && damage.contains("was removed"), damage);
        assertFalse(table.repairable());
        assertEquals(1, table.reader().servicePortCount(), "this process still serves from its mapping");
    }
}
