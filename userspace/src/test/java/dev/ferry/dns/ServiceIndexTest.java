package dev.ferry.dns;

import static dev.ferry.dns.TestZone.endpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Endpoint;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.ServiceTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The DNS name index follows the table incrementally and always equals one built from scratch. */
@Tag("unit")
class ServiceIndexTest {
    Path dir;
    ServiceTable table;

    @BeforeEach
    void open() throws Exception {
        dir = Files.createTempDirectory("ferry-index-test");
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
    }

    @AfterEach
    void close() throws Exception {
        table.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aChangeDecodesOnlyTheRewrittenRecord() {
        for (int i = 0; i < 200; i++) {
            table.put(TestZone.clusterIp("ns-" + i % 5, "svc-" + i, "http", Protocol.TCP, 80,
                    List.of("10.96.1." + (i + 1)), List.of()));
        }
        ServiceIndex index = new ServiceIndex(table.reader());
        assertEquals(200, index.current().services().size());
        assertEquals(200, index.decodedRecords());

        table.put(TestZone.clusterIp("ns-3", "svc-3", "http", Protocol.TCP, 80, List.of("10.96.2.3"), List.of()));
        assertNull(index.current().reverse(4, 0, 0x0A600104L), "the old ClusterIP 10.96.1.4 no longer names svc-3");
        assertArrayEquals(new String[] {"svc-3.ns-3"}, index.reverse(4, 0, 0x0A600203L));
        assertEquals(201, index.decodedRecords(), "one rewritten record, one decode");

        table.remove(new ServicePortName("ns-4", "svc-4", "http", Protocol.TCP));
        assertNull(index.current().service("svc-4.ns-4"));
        assertEquals(201, index.decodedRecords(), "a removal decodes nothing");
        assertEquals(199, index.services().size());
    }

    @Test
    void aNamespaceExistsWhileOneOfItsServicesDoes() {
        ServicePortName a = new ServicePortName("team", "a", "", Protocol.TCP);
        ServicePortName b = new ServicePortName("team", "b", "", Protocol.UDP);
        table.put(TestZone.clusterIp("team", "a", "", Protocol.TCP, 80, List.of("10.96.0.1"), List.of()));
        table.put(TestZone.clusterIp("team", "b", "", Protocol.UDP, 53, List.of("10.96.0.2"), List.of()));
        ServiceIndex index = new ServiceIndex(table.reader());
        assertTrue(index.current().hasNamespace("team"));
        table.remove(a);
        assertTrue(index.current().hasNamespace("team"));
        table.remove(b);
        assertEquals(false, index.current().hasNamespace("team"));
    }

    @Test
    void afterRandomChangesTheIndexEqualsOneBuiltFromScratch() {
        Random random = new Random(7);
        ServiceIndex incremental = new ServiceIndex(table.reader());
        List<ServicePortName> live = new ArrayList<>();
        for (int step = 0; step < 400; step++) {
            int op = random.nextInt(10);
            if (op < 2 && !live.isEmpty()) {
                table.remove(live.remove(random.nextInt(live.size())));
            } else {
                int s = random.nextInt(30);
                String ns = "ns-" + s % 3;
                String name = "svc-" + s;
                String portName = random.nextBoolean() ? "http" : "grpc";
                Protocol protocol = random.nextInt(4) == 0 ? Protocol.UDP : Protocol.TCP;
                if (s % 3 == 0) {
                    // headless, endpoints from a pool shared by every headless service: one address, several names
                    List<Endpoint> eps = new ArrayList<>();
                    for (int e = 0; e < 6; e++) {
                        if (random.nextInt(3) == 0) {
                            eps.add(endpoint("10.244.0." + (e + 1), 8080, random.nextInt(4) != 0,
                                    random.nextBoolean() ? "" : "host-" + e));
                        }
                    }
                    table.put(TestZone.headless(ns, name, portName, protocol, 8080, random.nextBoolean(), eps));
                } else {
                    String ip = "10.96." + s + "." + (1 + random.nextInt(2));
                    int port = portName.equals("http") ? 80 : 81; // one frontend per port of a service
                    table.put(TestZone.clusterIp(ns, name, portName, protocol, port,
                            random.nextBoolean() ? List.of(ip) : List.of(ip, "fd00::" + s), List.of()));
                }
                ServicePortName n = new ServicePortName(ns, name, portName, protocol);
                if (!live.contains(n)) live.add(n);
            }
            if (random.nextInt(3) == 0) {
                ServiceIndex fresh = new ServiceIndex(table.reader()).current();
                assertEquals(describe(fresh), describe(incremental.current()), "after step " + step);
            }
        }
        assertEquals(describe(new ServiceIndex(table.reader()).current()), describe(incremental.current()));
    }

    /** Order-free text of an index: services with their port keys, namespaces, PTR names by address. */
    private static String describe(ServiceIndex index) {
        Map<String, String> out = new TreeMap<>();
        index.services().forEach((key, s) -> {
            TreeSet<String> ports = new TreeSet<>();
            for (int i = 0; i < s.portNames().length; i++) ports.add(s.portNames()[i] + "/" + s.protocols()[i]);
            out.put("svc " + key, s.namespace() + "/" + s.name() + " " + ports);
        });
        out.put("namespaces", new TreeSet<>(index.namespaces()).toString());
        index.reverseNames().forEach((a, names) ->
                out.put("ptr " + a, new TreeSet<>(Arrays.asList(names)).toString()));
        return out.toString().replace(", ", ",\n");
    }
}
