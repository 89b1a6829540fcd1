package dev.ferry.table;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Protocol;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A second JVM maps the live table file and sees what this process wrote, and its liveness. */
class CrossProcessReadTest {
    @TempDir
    Path dir;

    /** Runs in the child JVM: prints "live count endpoints name-of-frontend". */
    public static void main(String[] args) throws IOException {
        try (ServiceTableReader r = ServiceTableReader.open(Path.of(args[0]))) {
            ServicePortView v = new ServicePortView();
            boolean found = r.lookup(Protocol.TCP, TestServices.ip(TestServices.clusterIpOf(7)), 80, v);
            System.out.println(r.status().live() + " " + r.servicePortCount() + " " + r.endpointCount() + " "
                    + (found ? v.namespace() + "/" + v.name() : "-"));
        }
    }

    static String runChild(Path dir) throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String flags = System.getenv("FERRY_JVM_FLAGS");
        if (flags != null) cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
        cmd.addAll(List.of("-cp", cp, CrossProcessReadTest.class.getName(), dir.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        String[] lines = out.split("\n");
        return lines[lines.length - 1].trim();
    }

    @Test
    void anotherProcessReadsTheLiveTableAndThenSeesItStale() throws Exception {
        ServiceTable table = ServiceTable.create(dir);
        for (int i = 0; i < 20; i++) table.put(TestServices.clusterIp(i, 3, 8080));
        assertEquals("true 20 60 ns0/svc-7", runChild(dir));
        table.close();
        assertEquals("false 20 60 ns0/svc-7", runChild(dir), "a stopped daemon's table is stale, not live");
    }
}
