package dev.ferry.conntrack;

import static dev.ferry.conntrack.Tables.backend;
import static dev.ferry.conntrack.Tables.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The conntrack state files are private and never written through a link planted in the state dir. */
@Tag("unit")
class StateFileSafetyTest {
    @TempDir
    Path dir;
    final ConntrackConfig config = ConntrackConfig.DEFAULTS.withMaxFlows(1000).withMaxAffinities(1000);
    final long t0 = 1_700_000_000_000L;

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aLinkPlantedAtTheCleanShutdownMarkerIsReplacedAndItsTargetLeftIntact() throws IOException {
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "precious");
        Path state = dir.resolve("state");
        ConntrackState s = ConntrackState.open(state, config);
        Path marker = state.resolve(ConntrackState.CLEAN_SHUTDOWN_MARKER);
        Files.createSymbolicLink(marker, victim);
        s.close();
        assertEquals("precious", Files.readString(victim), "closing must not truncate the target of a planted link");
        assertTrue(Files.isRegularFile(marker, LinkOption.NOFOLLOW_LINKS), "the marker is a regular file again");
        assertEquals("rw-------", mode(marker));
    }

    @Test
    void aLinkPlantedAtTheMarkerIsNoProofOfACleanShutdownAndIsRemovedAtOpen() throws IOException {
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "precious");
        Path state = dir.resolve("state");
        ConntrackState.open(state, config).close();
        Path marker = state.resolve(ConntrackState.CLEAN_SHUTDOWN_MARKER);
        Files.delete(marker);
        Files.createSymbolicLink(marker, victim);
        try (ConntrackState s = ConntrackState.open(state, config)) {
            s.flows().record(udp(1, 40000), backend(3, 5353), t0);
            assertTrue(Files.notExists(marker, LinkOption.NOFOLLOW_LINKS), "the link is unlinked while the daemon runs");
        }
        assertEquals("precious", Files.readString(victim));
    }

    @Test
    void aLinkPlantedAtAMapFileIsMovedAsideNotOpenedAndANewPrivateMapCreated() throws IOException {
        Path victim = dir.resolve("victim");
        Files.writeString(victim, "precious");
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Path flows = state.resolve(ConntrackState.FLOWS_FILE);
        Files.createSymbolicLink(flows, victim);
        try (ConntrackState s = ConntrackState.open(state, config)) {
            s.flows().record(udp(1, 40000), backend(3, 5353), t0);
        }
        assertEquals("precious", Files.readString(victim));
        assertTrue(Files.isRegularFile(flows, LinkOption.NOFOLLOW_LINKS));
        assertEquals("rw-------", mode(flows));
        try (Stream<Path> l = Files.list(state)) {
            List<Path> aside = l.filter(p -> p.getFileName().toString().startsWith(ConntrackState.FLOWS_FILE + ".corrupt-")).toList();
            assertEquals(1, aside.size(), "the link is kept aside for inspection");
            assertTrue(Files.isSymbolicLink(aside.get(0)));
        }
    }

    @Test
    void theStateDirIs0700AndEveryFileInIt0600() throws IOException {
        Path state = dir.resolve("new").resolve("state");
        ConntrackState.open(state, config).close();
        assertEquals("rwx------", mode(state));
        try (Stream<Path> l = Files.list(state)) {
            for (Path p : l.toList()) {
                assertEquals("rw-------", mode(p), p.toString());
            }
        }
    }
}
