package dev.ferry.cli;

import dev.ferry.daemon.StateDirs;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The state directory is Ferry's own: created 0700 with 0600 files whatever the umask, and a
 * directory someone else owns or may write is refused (exit 1, naming it and why), defaults
 * included, so nobody can pre-create it and feed the daemon services.
 */
class StateDirSecurityTest {
    @TempDir
    Path dir;

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Cli runOn(Path state) throws IOException {
        Path src = dir.resolve("cluster.yaml");
        Files.writeString(src, RunDaemonTest.service("alpha", "10.96.0.1"));
        return Cli.run("run", "--source", src.toString(), "--mode", "table-only", "--state-dir", state.toString(),
                "--healthz-bind-address", "127.0.0.1:" + freePort(), "--metrics-bind-address", "127.0.0.1:" + freePort(),
                "--exit-after", "1");
    }

    @Test
    void aStateDirWritableByGroupAndOthersIsRefusedNamingIt() throws Exception {
        Path state = dir.resolve("shared");
        Files.createDirectory(state);
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxrwxrwx"));
        Cli r = runOn(state);
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("state directory " + state) && r.err().contains("writable by group and others (mode 0777)"),
                r.toString());
        assertFalse(Files.exists(state.resolve("services.tbl")), "nothing is written into a refused directory");
    }

    @KernelTest("chown to another uid")
    @Test
    void aStateDirOwnedByAnotherUserIsRefusedNamingIt() throws Exception {
        Path state = dir.resolve("theirs");
        Files.createDirectory(state, dev.ferry.state.PrivateFiles.dirMode());
        KernelTests.run(null, "chown", "65534", state.toString());
        Cli r = runOn(state);
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("state directory " + state) && r.err().contains("owned by uid 65534"), r.toString());
    }

    @KernelTest("chown to another uid")
    @Test
    void aDefaultDirPreCreatedByAnotherUserIsRefusedNotAdopted() throws Exception {
        Path planted = dir.resolve("ferry-someone");
        Files.createDirectory(planted, dev.ferry.state.PrivateFiles.dirMode());
        KernelTests.run(null, "chown", "65534", planted.toString());
        IOException e = assertThrows(IOException.class, () -> StateDirs.prepare(planted, true));
        assertTrue(e.getMessage().contains(planted.toString()) && e.getMessage().contains("owned by uid 65534"), e.getMessage());
    }

    @Test
    void aDefaultDirThatIsALinkIsRefusedEvenToAPrivateDirectory() throws Exception {
        Path mine = dir.resolve("mine");
        Files.createDirectory(mine, dev.ferry.state.PrivateFiles.dirMode());
        Path link = dir.resolve("ferry-me");
        Files.createSymbolicLink(link, mine);
        IOException e = assertThrows(IOException.class, () -> StateDirs.prepare(link, true));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        StateDirs.prepare(link, false); // an operator's --state-dir may be a link to a private directory
    }

    @Test
    void aMissingDefaultDirIsCreatedPrivate() throws Exception {
        Path fresh = dir.resolve("ferry-new");
        StateDirs.prepare(fresh, true);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
    }

    @Test
    void withoutRootThePrivateRuntimeDirIsUsedWhenItIsPrivateElseAPerUserTempDir() throws Exception {
        Path xdg = dir.resolve("xdg");
        Files.createDirectory(xdg, dev.ferry.state.PrivateFiles.dirMode());
        Map<String, String> env = Map.of("XDG_RUNTIME_DIR", xdg.toString());
        assertEquals(new StateDirs.Choice(xdg.resolve("ferry"), true), StateDirs.resolve(null, env::get, false));
        Files.setPosixFilePermissions(xdg, PosixFilePermissions.fromString("rwxrwxrwx"));
        StateDirs.Choice c = StateDirs.resolve(null, env::get, false);
        assertEquals(Path.of(System.getProperty("java.io.tmpdir"), "ferry-" + System.getProperty("user.name")), c.dir(),
                "a shared XDG_RUNTIME_DIR is not private");
        assertEquals(StateDirs.SYSTEM, StateDirs.resolve(null, env::get, true).dir(), "root: /run/ferry, as the DaemonSet");
        assertEquals(dir, StateDirs.resolve(dir, env::get, true).dir(), "--state-dir wins");
    }

    @Test
    void underUmask000TheDirIs0700AndEveryFile0600() throws Exception {
        Path state = dir.resolve("state");
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "umask 000 && exec \"$@\"", "sh"));
        cmd.addAll(DaemonProcess.javaCommand());
        cmd.set(cmd.size() - 1, StateFilesMain.class.getName()); // the JVM runs StateFilesMain, not the CLI
        cmd.add(state.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "StateFilesMain hung: " + out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("done"), out);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
        List<String> seen = new ArrayList<>();
        try (Stream<Path> l = Files.list(state)) {
            for (Path f : l.toList()) {
                seen.add(f.getFileName().toString());
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS)),
                        f + " under umask 000");
            }
        }
        assertTrue(seen.containsAll(List.of("services.tbl", "services.lock", "flows.v2.cmap", "affinity.v2.cmap",
                "connections.v2.cmap", "conntrack.closed", "demo-cluster.yaml")), seen.toString());
    }
}
