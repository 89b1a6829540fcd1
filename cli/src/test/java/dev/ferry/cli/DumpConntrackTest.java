package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.conntrack.AffinityKey;
import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.conntrack.Endpoint;
import dev.ferry.conntrack.FlowKey;
import dev.ferry.model.IpAddresses;
import dev.ferry.table.ServiceTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/** `ferry dump conntrack` lists the flow, affinity and connection tables and names each flow's service. */
@Tag("unit")
class DumpConntrackTest {
    @TempDir
    Path dir;

    @Test
    void flowsAreListedWithTheirServiceAndAffinitiesWithTheirExpiry() throws Exception {
        long now = System.currentTimeMillis();
        try (ConntrackState s = ConntrackState.open(dir, ConntrackConfig.DEFAULTS)) {
            FlowKey k = new FlowKey().protocol(FlowKey.PROTO_UDP).clientIp(IpAddresses.parse("10.1.2.3")).clientPort(40000)
                    .frontendIp(IpAddresses.parse("10.96.0.53")).frontendPort(53);
            s.flows().record(k, new Endpoint().ip(IpAddresses.parse("10.244.9.9")).port(1053), now);
            AffinityKey a = new AffinityKey().clientIp(IpAddresses.parse("10.1.2.4"))
                    .servicePortId(AffinityKey.frontendId(IpAddresses.parse("10.96.0.10"), 443, 6));
            s.affinity().record(a, new Endpoint().ip(IpAddresses.parse("10.244.1.5")).port(8443), now, 600_000);
        }
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis)) {
            table.put(DumpCommandTest.dns());
            Cli r = Cli.run("dump", "conntrack", "--state-dir", dir.toString());
            assertEquals(0, r.exit(), r.toString());
            String[] lines = r.out().split("\n");
            assertTrue(lines[0].startsWith("KIND"), r.out());
            String flow = java.util.Arrays.stream(lines).filter(l -> l.startsWith("flow")).findFirst().orElseThrow();
            assertTrue(flow.contains("10.1.2.3:40000") && flow.contains("10.96.0.53:53")
                    && flow.contains("kube-system/kube-dns:dns") && flow.contains("10.244.9.9:1053"), r.out());
            String aff = java.util.Arrays.stream(lines).filter(l -> l.startsWith("affinity")).findFirst().orElseThrow();
            assertTrue(aff.contains("10.1.2.4") && aff.contains("10.244.1.5:8443") && aff.contains("expires in 5"), r.out());

            Cli only = Cli.run("dump", "conntrack", "kube-system/kube-dns", "-o", "json", "--state-dir", dir.toString());
            assertEquals(0, only.exit(), only.toString());
            List<?> rows = JsonMapper.builder().build().readValue(only.out(), List.class);
            assertEquals(1, rows.size(), only.out());
            assertEquals("UDP", ((Map<?, ?>) rows.get(0)).get("protocol"));
        }
    }

    @Test
    void aStateDirectoryWithoutConntrackFilesListsNothing() {
        Cli r = Cli.run("dump", "conntrack", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        assertEquals(1, r.out().split("\n").length, "only the header: " + r.out());
    }
}
