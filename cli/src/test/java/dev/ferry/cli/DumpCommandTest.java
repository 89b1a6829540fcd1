package dev.ferry.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.daemon.SamplePorts;
import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import dev.ferry.table.ServiceTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

@Tag("unit")
class DumpCommandTest {
    @TempDir
    Path dir;
    ServiceTable table;

    static ServicePort web() {
        return SamplePorts.web();
    }

    static ServicePort dns() {
        return SamplePorts.dns();
    }

    @BeforeEach
    void fill() throws Exception {
        table = ServiceTable.create(dir, 16L << 20, 1000, System::currentTimeMillis);
        table.put(web());
        table.put(dns());
    }

    @AfterEach
    void close() throws Exception {
        table.close();
    }

    @Test
    void servicesPrintsOneAlignedRowPerServicePortSortedByName() {
        Cli r = Cli.run("dump", "services", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        String[] lines = r.out().split("\n");
        assertEquals(3, lines.length, r.out());
        assertTrue(lines[0].startsWith("NAMESPACE") && lines[0].contains("ENDPOINTS"), r.out());
        assertTrue(lines[1].startsWith("kube-system"), r.out());
        assertTrue(lines[2].contains("LoadBalancer") && lines[2].contains("10.96.0.10,fd00::a")
                && lines[2].contains("203.0.113.9") && lines[2].contains("443:30443/TCP")
                && lines[2].contains("ClientIP/600s") && lines[2].contains("Local/Cluster")
                && lines[2].contains("1/2 ready"), r.out());
        assertEquals(lines[0].indexOf("TYPE"), lines[2].indexOf("LoadBalancer"), "columns are aligned");
        assertTrue(lines[1].contains("<none>") && lines[1].contains("0/0 ready"), r.out());
        assertEquals("", r.err(), "a live table gets no warning");
    }

    @Test
    void endpointsShowsEachEndpointWithItsState() {
        Cli r = Cli.run("dump", "endpoints", "prod/web", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        String[] lines = r.out().split("\n");
        assertEquals(3, lines.length, r.out());
        assertTrue(lines[1].contains("prod/web:https") && lines[1].contains("10.244.1.5:8443") && lines[1].contains("Ready")
                && lines[1].contains("node-a") && lines[1].contains("web-0"), r.out());
        assertTrue(lines[2].contains("Terminating(serving)"), r.out());
    }

    @Test
    void aNamespaceFilterSelectsOnlyThatNamespace() {
        Cli r = Cli.run("dump", "services", "kube-system/", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        assertEquals(2, r.out().split("\n").length, r.out());
    }

    @Test
    void jsonAndYamlCarryTheSameFields() throws Exception {
        Cli j = Cli.run("dump", "services", "prod/web", "-o", "json", "--state-dir", dir.toString());
        assertEquals(0, j.exit(), j.toString());
        List<?> parsed = JsonMapper.builder().build().readValue(j.out(), List.class);
        Map<?, ?> svc = (Map<?, ?>) parsed.get(0);
        assertEquals("web", svc.get("name"));
        assertEquals(30443, svc.get("nodePort"));
        assertEquals(List.of("198.51.100.0/24"), svc.get("loadBalancerSourceRanges"));
        Cli y = Cli.run("dump", "services", "prod/web", "-o", "yaml", "--state-dir", dir.toString());
        assertEquals(parsed, new YAMLMapper().readValue(y.out(), List.class));
        Cli e = Cli.run("dump", "endpoints", "-o", "json", "--state-dir", dir.toString());
        List<?> eps = JsonMapper.builder().build().readValue(e.out(), List.class);
        assertEquals(2, eps.size());
    }

    @Test
    void aStoppedDaemonsTableIsShownWithAStaleWarning() throws Exception {
        table.close();
        Cli r = Cli.run("dump", "services", "--state-dir", dir.toString());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("STALE") && r.err().contains("the daemon stopped"), r.toString());
        assertEquals(3, r.out().split("\n").length, r.out());
    }

    @Test
    void noTableIsAClearRuntimeFailure(@TempDir Path empty) {
        Cli r = Cli.run("dump", "services", "--state-dir", empty.toString());
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("no service table at") && r.err().contains("is a Ferry daemon running"), r.toString());
    }
}
