package dev.ferry.conntrack;

import static dev.ferry.conntrack.Tables.backend;
import static dev.ferry.conntrack.Tables.ip;
import static dev.ferry.conntrack.Tables.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class PersistenceTest {
    @TempDir
    Path dir;
    final ConntrackConfig config = ConntrackConfig.DEFAULTS.withMaxFlows(1000).withMaxAffinities(1000);
    final long t0 = 1_700_000_000_000L;

    @Test
    void udpFlowsAndAffinitySurviveADaemonRestart() {
        AffinityKey client = new AffinityKey().clientIpv4(ip(192, 168, 7, 1)).servicePortId(7);
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            s.flows().record(udp(1, 40000), backend(3, 5353), t0);
            s.affinity().record(client, backend(4, 80), t0);
        }
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            Flow f = new Flow();
            assertTrue(s.flows().lookup(udp(1, 40000), t0 + 1_000, f), "the UDP flow must survive close/reopen");
            assertEquals(backend(3, 5353), f.backend());
            Endpoint e = new Endpoint();
            assertTrue(s.affinity().lookup(client, t0 + 1_000, e), "affinity must survive close/reopen");
            assertEquals(backend(4, 80), e);
            assertEquals(1, s.flows().entries(), "the entry count is rebuilt from the file");
        }
    }

    @Test
    void connectionCountsStartAtZeroAfterARestartBecauseTheConnectionsDiedWithTheProcess() {
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            s.connections().increment(backend(1, 80));
            s.connections().increment(backend(1, 80));
            assertEquals(2, s.connections().count(backend(1, 80)));
        }
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            assertEquals(0, s.connections().count(backend(1, 80)));
        }
    }

    @Test
    void truncatedMapIsMovedAsideAndTheTableStartsEmpty() throws IOException {
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            for (int i = 0; i < 500; i++) {
                s.flows().record(udp(1, 10000 + i), backend(3, 5353), t0);
            }
        }
        Path file = dir.resolve(ConntrackState.FLOWS_FILE);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(8192); // header intact, most of the data gone
        }
        assertReopensEmptyWithFileAside(file);
    }

    @Test
    void garbageInPlaceOfAMapIsMovedAsideAndTheTableStartsEmpty() throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(ConntrackState.FLOWS_FILE);
        byte[] junk = new byte[64 * 1024];
        new java.util.Random(1).nextBytes(junk);
        Files.write(file, junk);
        assertReopensEmptyWithFileAside(file);
    }

    @Test
    void emptyFileIsMovedAsideAndTheTableStartsEmpty() throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(ConntrackState.AFFINITY_FILE);
        Files.write(file, new byte[0]);
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            assertEquals(0, s.affinity().entries());
        }
        assertEquals(1, corruptCopies(ConntrackState.AFFINITY_FILE).size());
    }

    @Test
    void repeatedCorruptionKeepsOnlyTheNewestCopiesAside() throws IOException {
        Files.createDirectories(dir);
        String name = ConntrackState.AFFINITY_FILE;
        for (int day = 1; day <= 5; day++) { // left by earlier crashes
            Files.write(dir.resolve(name + ".corrupt-2020010" + day + "T000000.000Z"), new byte[] {1});
        }
        Path other = dir.resolve(ConntrackState.FLOWS_FILE + ".corrupt-20200101T000000.000Z");
        Files.write(other, new byte[] {1});
        for (int restart = 0; restart < 2; restart++) {
            Files.write(dir.resolve(name), new byte[0]);
            try (ConntrackState s = ConntrackState.open(dir, config)) {
                assertEquals(0, s.affinity().entries());
            }
        }
        List<String> kept = corruptCopies(name).stream().map(p -> p.getFileName().toString()).sorted().toList();
        assertEquals(MapFiles.KEEP_CORRUPT, kept.size(), "at most " + MapFiles.KEEP_CORRUPT + " copies are kept: " + kept);
        assertEquals(name + ".corrupt-20200105T000000.000Z", kept.get(0), "the oldest go first: " + kept);
        assertTrue(kept.get(2).compareTo(name + ".corrupt-2021") > 0, "both new copies are kept: " + kept);
        assertTrue(Files.exists(other), "another map's copies are not touched");
    }

    private void assertReopensEmptyWithFileAside(Path file) throws IOException {
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            assertEquals(0, s.flows().entries(), "a damaged table starts empty");
            s.flows().record(udp(1, 1), backend(3, 5353), t0);
            assertTrue(s.flows().lookup(udp(1, 1), t0, new Flow()), "and works");
        }
        List<Path> aside = corruptCopies(file.getFileName().toString());
        assertEquals(1, aside.size(), "the damaged file must be kept for inspection as *.corrupt-<ts>");
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            assertEquals(1, s.flows().entries(), "the replacement file is healthy on the next restart");
        }
        assertEquals(1, corruptCopies(file.getFileName().toString()).size(), "no new corrupt copy on a clean restart");
    }

    private List<Path> corruptCopies(String name) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith(name + ".corrupt-")).toList();
        }
    }

    @Test
    void readerReportsADamagedFileByNameInsteadOfCrashing() throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve(ConntrackState.FLOWS_FILE), new byte[100]);
        try (ConntrackReader r = ConntrackReader.open(dir)) {
            IOException e = assertThrows(IOException.class, r::flows);
            assertTrue(e.getMessage().contains(ConntrackState.FLOWS_FILE), e.getMessage());
        }
        assertTrue(Files.exists(dir.resolve(ConntrackState.FLOWS_FILE)), "a reader never moves or repairs files");
    }

    @Test
    void readerReportsATruncatedDataSectionByName() throws IOException {
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            s.flows().record(udp(1, 1), backend(3, 5353), t0);
        }
        try (RandomAccessFile raf = new RandomAccessFile(dir.resolve(ConntrackState.FLOWS_FILE).toFile(), "rw")) {
            raf.setLength(8192);
        }
        try (ConntrackReader r = ConntrackReader.open(dir)) {
            IOException e = assertThrows(IOException.class, r::flows);
            assertTrue(e.getMessage().contains(ConntrackState.FLOWS_FILE), e.getMessage());
        }
    }

    @Test
    void uncleanShutdownIsRecoveredWithEntriesKept() throws IOException {
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            s.flows().record(udp(1, 1), backend(3, 5353), t0);
        }
        // As if the daemon had been killed: no clean-shutdown marker.
        Files.delete(dir.resolve(ConntrackState.CLEAN_SHUTDOWN_MARKER));
        try (ConntrackState s = ConntrackState.open(dir, config)) {
            assertTrue(s.flows().lookup(udp(1, 1), t0, new Flow()), "recovery must keep intact entries");
        }
        assertEquals(0, corruptCopies(ConntrackState.FLOWS_FILE).size());
    }

    @Test
    void readerListsNothingForAFreshStateDirAndCreatesNoFiles() throws IOException {
        try (ConntrackReader r = ConntrackReader.open(dir)) {
            assertTrue(r.flows().isEmpty());
            assertTrue(r.affinities().isEmpty());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertFalse(files.findAny().isPresent(), "a reader must not create maps");
        }
    }
}
