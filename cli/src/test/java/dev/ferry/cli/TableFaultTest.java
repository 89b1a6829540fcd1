package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.testkit.KernelTest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `ferry run` as a process when its state dir's filesystem is full or its live table file is cut
 * under it: a clear start-up error (never SIGBUS), a damage logged once, reported by /healthz with
 * its reason while it cannot be repaired, the table rebuilt and written again when it can, and
 * SIGTERM still ending the process within 10 s. The full-filesystem cases mount a tiny tmpfs in a
 * private mount namespace (unshare -m) that exists only as long as the daemon: root only.
 */
class TableFaultTest {
    @TempDir
    Path dir;

    private Path source() throws IOException {
        Path src = dir.resolve("cluster.yaml");
        Files.writeString(src, RunDaemonTest.service("alpha", "10.96.0.1") + "---\n" + RunDaemonTest.service("beta", "10.96.0.2"));
        return src;
    }

    private static boolean dumpShows(Path state, String... needles) {
        Cli r = Cli.run("dump", "services", "--state-dir", state.toString());
        if (r.exit() != 0 || r.err().contains("STALE")) return false;
        for (String n : needles) if (!r.out().contains(n)) return false;
        return true;
    }

    private static HttpResponse<String> healthz(int port) {
        try {
            return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    /** SIGTERM; asserts the process is gone within 10 s and returns its exit code. */
    private static int terminateWithin10s(DaemonProcess d) throws InterruptedException {
        long start = System.nanoTime();
        d.process.destroy();
        boolean gone = d.process.waitFor(10, TimeUnit.SECONDS);
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(gone, "ferry still running 10 s after SIGTERM:\n" + d.output());
        assertTrue(ms < 10_000, "ferry took " + ms + " ms to exit");
        return d.process.exitValue();
    }

    private static long count(String text, String needle) {
        return text.lines().filter(l -> l.contains(needle)).count();
    }

    /** unshare -m with a tmpfs of {@code size} on {@code mountPoint}, then exec the JVM. */
    private static List<String> onTinyTmpfs(Path mountPoint, String size) {
        return List.of("unshare", "-m", "--propagation", "private", "sh", "-c",
                "mount -t tmpfs -o size=" + size + ",mode=0700 ferry-test-tmpfs \"$0\" && exec \"$@\"", mountPoint.toString());
    }

    private void assertNoJvmCrash(DaemonProcess d) throws IOException {
        assertFalse(d.output().contains("SIGBUS") || d.output().contains("A fatal error has been detected"), d.output());
        try (Stream<Path> l = Files.list(dir)) {
            assertTrue(l.noneMatch(p -> p.getFileName().toString().startsWith("hs_err")), "the JVM crashed:\n" + d.output());
        }
    }

    @Test
    void aTruncatedLiveTableIsLoggedOnceRebuiltAndServedAgainAndSigtermStillExits() throws Exception {
        Path state = dir.resolve("state");
        int hz = StateDirSecurityTest.freePort();
        try (DaemonProcess d = DaemonProcess.start(dir.resolve("ferry.log"), "run", "--source", source().toString(),
                "--mode", "table-only", "--state-dir", state.toString(), "--healthz-bind-address", "127.0.0.1:" + hz,
                "--metrics-bind-address", "127.0.0.1:" + StateDirSecurityTest.freePort())) {
            d.await("alpha and beta in the table", 60_000, () -> dumpShows(state, "alpha", "beta"));
            truncate(state.resolve("services.tbl"), 0);
            d.await("the truncation to be logged", 10_000, () -> d.output().contains("was truncated to 0 of"));
            d.await("the table to be written back", 10_000, () -> d.output().contains("is whole again"));
            assertTrue(dumpShows(state, "alpha", "beta"), "a reader sees the services again, live");
            d.await("/healthz 200", 10_000, () -> {
                HttpResponse<String> r = healthz(hz);
                return r != null && r.statusCode() == 200;
            });
            assertEquals(1, count(d.output(), "was truncated to 0 of"), "one damage, one log line:\n" + d.output());
            assertEquals(0, terminateWithin10s(d), d.output());
            assertNoJvmCrash(d);
        }
    }

    @KernelTest("mounting a tiny tmpfs in a private mount namespace")
    @Test
    void aFullFilesystemUnderTheStateDirIsAClearStartUpErrorNotSigbus() throws Exception {
        Path mnt = dir.resolve("mnt");
        Files.createDirectory(mnt);
        Path state = mnt.resolve("state");
        try (DaemonProcess d = DaemonProcess.start(onTinyTmpfs(mnt, "16k"), dir.resolve("ferry.log"), "run",
                "--source", source().toString(), "--mode", "table-only", "--state-dir", state.toString(),
                "--healthz-bind-address", "127.0.0.1:" + StateDirSecurityTest.freePort(),
                "--metrics-bind-address", "127.0.0.1:" + StateDirSecurityTest.freePort())) {
            assertTrue(d.process.waitFor(60, TimeUnit.SECONDS), "ferry should have refused to start:\n" + d.output());
            assertEquals(1, d.process.exitValue(), d.output());
            assertTrue(d.output().contains("no space in state directory " + state + " for the service table: it needs"),
                    d.output());
            assertNoJvmCrash(d);
        }
    }

    /** A daemon on a 1600 KiB tmpfs in its own mount namespace, with its state dir as seen from here. */
    private record TinyDaemon(DaemonProcess d, Path state, int healthzPort) {}

    private TinyDaemon startOnTinyTmpfs() throws Exception {
        Path mnt = dir.resolve("mnt");
        Files.createDirectory(mnt);
        int hz = StateDirSecurityTest.freePort();
        DaemonProcess d = DaemonProcess.start(onTinyTmpfs(mnt, "1600k"), dir.resolve("ferry.log"), "run",
                "--source", source().toString(), "--mode", "table-only", "--state-dir", mnt.resolve("state").toString(),
                "--table-size", "64M", "--healthz-bind-address", "127.0.0.1:" + hz,
                "--metrics-bind-address", "127.0.0.1:" + StateDirSecurityTest.freePort());
        // The daemon's tmpfs, seen from outside its mount namespace.
        Path state = Path.of("/proc/" + d.process.pid() + "/root").resolve(mnt.resolve("state").toString().substring(1));
        d.await("alpha and beta in the table", 60_000, () -> dumpShows(state, "alpha", "beta"));
        return new TinyDaemon(d, state, hz);
    }

    /**
     * Cuts the live table and takes the blocks that frees, so it cannot be rebuilt; returns the
     * 503 /healthz answer that follows (bounded wait). If the daemon's once-a-second check happened
     * to run between the cut and the refill (it then rebuilt the table), tries again.
     */
    private static HttpResponse<String> damageBeyondRepair(TinyDaemon t) throws Exception {
        DaemonProcess d = t.d();
        Path filler = t.state().resolve("filler");
        for (int attempt = 0; attempt < 3; attempt++) {
            fill(filler);
            truncate(t.state().resolve("services.tbl"), 0);
            fill(filler); // the blocks the truncation freed: now the table cannot get them back
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            long rebuiltBefore = count(d.output(), "rebuilt in place");
            while (System.nanoTime() < deadline) {
                HttpResponse<String> r = healthz(t.healthzPort());
                if (r != null && r.statusCode() == 503) {
                    return r;
                }
                if (count(d.output(), "rebuilt in place") > rebuiltBefore) {
                    break;
                }
                Thread.sleep(100);
            }
        }
        throw new AssertionError("/healthz never said 503 with the table truncated and no space to rebuild it:\n" + d.output());
    }

    @KernelTest("mounting a tiny tmpfs in a private mount namespace")
    @Test
    void aTruncatedTableThatCannotBeRebuiltMakesHealthz503WithTheReasonUntilItCanBe() throws Exception {
        TinyDaemon t = startOnTinyTmpfs();
        try (DaemonProcess d = t.d()) {
            HttpResponse<String> unhealthy = damageBeyondRepair(t);
            assertTrue(unhealthy.body().contains("table: service table") && unhealthy.body().contains("was truncated to 0 of")
                    && unhealthy.body().contains("rebuilding it failed"), unhealthy.body());
            assertEquals(1, count(d.output(), "rebuilding it failed, retrying"), "logged once, not every second:\n" + d.output());

            Files.delete(t.state().resolve("filler"));
            d.await("/healthz 200 again once the space is back", 10_000, () -> {
                HttpResponse<String> r = healthz(t.healthzPort());
                return r != null && r.statusCode() == 200;
            });
            assertTrue(dumpShows(t.state(), "alpha", "beta"), "the rebuilt table holds the services again");
            assertEquals(0, terminateWithin10s(d), d.output());
            assertNoJvmCrash(d);
        }
    }

    @KernelTest("mounting a tiny tmpfs in a private mount namespace")
    @Test
    void sigtermExitsWithin10sWhileTheTableIsTruncatedBeyondRepair() throws Exception {
        TinyDaemon t = startOnTinyTmpfs();
        try (DaemonProcess d = t.d()) {
            damageBeyondRepair(t);
            assertEquals(0, terminateWithin10s(d), d.output());
            assertNoJvmCrash(d);
            assertFalse(d.output().contains("shutdown did not finish"), "the orderly shutdown finished:\n" + d.output());
        }
    }

    /** Writes to {@code filler} until the filesystem is full. */
    private static void fill(Path filler) throws IOException {
        byte[] chunk = new byte[4096];
        try (OutputStream out = Files.newOutputStream(filler, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            for (int i = 0; i < 100_000; i++) {
                out.write(chunk);
                out.flush();
            }
            fail("the tmpfs never filled up");
        } catch (IOException full) {
            if (!String.valueOf(full.getMessage()).contains("No space left")) {
                throw full;
            }
        }
    }
}
