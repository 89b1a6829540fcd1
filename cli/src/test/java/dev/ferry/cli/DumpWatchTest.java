package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.table.ServiceTable;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `ferry dump --watch` redraws and highlights exactly what changed between frames. */
@Tag("unit")
class DumpWatchTest {
    @TempDir
    Path dir;

    @Test
    void aServiceAddedBetweenFramesIsHighlightedAndUnchangedRowsAreNot() throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis)) {
            table.put(DumpCommandTest.dns());
            StringWriter out = new StringWriter();
            CommandLine cl = FerryCommand.commandLine();
            cl.setOut(new PrintWriter(out, true));
            CommandLine dump = cl.getSubcommands().get("dump");
            ((DumpCommand) dump.getCommand()).betweenFrames = () -> table.put(DumpCommandTest.web());
            int exit = cl.execute("dump", "services", "--watch", "--interval", "0.1", "--watch-frames", "2",
                    "--state-dir", dir.toString());
            assertEquals(0, exit, out.toString());
            String[] frames = out.toString().split(java.util.regex.Pattern.quote(DumpWatch.CLEAR));
            assertEquals(3, frames.length, out.toString()); // "" before the first clear, then two frames
            assertFalse(frames[1].contains(DumpWatch.HIGHLIGHT), "nothing is highlighted in the first frame");
            String second = frames[2];
            assertTrue(second.contains("Every 0.1s: ferry dump services"), second);
            String webLine = second.lines().filter(l -> l.contains("web")).findFirst().orElseThrow();
            assertTrue(webLine.startsWith(DumpWatch.HIGHLIGHT), "the new service is highlighted: " + second);
            String dnsLine = second.lines().filter(l -> l.contains("kube-dns")).findFirst().orElseThrow();
            assertFalse(dnsLine.contains(DumpWatch.HIGHLIGHT), "an unchanged row is not: " + second);
        }
    }

    @Test
    void anAbsurdIntervalIsBadUsage() {
        Cli r = Cli.run("dump", "services", "--watch", "--interval", "0", "--state-dir", dir.toString());
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--interval"), r.toString());
    }
}
