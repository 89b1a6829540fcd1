package dev.ferry.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.rules.ServicePortValidator;
import dev.ferry.table.FrontendConflictException;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTable;
import dev.ferry.testkit.ServicePorts;
import dev.ferry.watch.TableUpdate;
import dev.ferry.watch.TableWriterSink;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's table and the rule path ({@link ServicePortValidator}, which {@code ferry sync
 * --dry-run} and the rule syncers run) must give a contested frontend to the same service port,
 * whatever order the ports come in.
 */
class FrontendClaimsAgreementTest {
    @TempDir
    Path dir;
    private final AtomicLong now = new AtomicLong(1_000);

    /** A ClusterIP service port on 80/TCP with these external IPs and one endpoint. */
    private static ServicePort port(String namespace, String name, String clusterIp, String... externalIps) {
        ServicePorts.Spec spec = ServicePorts.svc(name).ns(namespace).clusterIP(clusterIp).ep("10.244.0.1", 8080);
        for (String ip : externalIps) {
            spec.externalIP(ip);
        }
        return spec.build();
    }

    /** c and b share an external IP, b and a share another: a wins over b, so c keeps its frontend. */
    private static List<ServicePort> contested() {
        return List.of(
                port("default", "a", "10.96.0.1", "192.0.2.1"),
                port("default", "b", "10.96.0.2", "192.0.2.1", "192.0.2.2"),
                port("default", "c", "10.96.0.3", "192.0.2.2"),
                port("zz", "z", "10.96.0.4", "192.0.2.3"),
                port("aa", "y", "10.96.0.5", "192.0.2.3"),
                port("default", "d", "10.96.0.6"));
    }

    private static Set<ServicePortName> dryRunWinners(List<ServicePort> ports) {
        Set<ServicePortName> out = new TreeSet<>();
        ServicePortValidator.validate(ports).accepted().forEach(sp -> out.add(sp.name()));
        return out;
    }

    private static Set<ServicePortName> tableContents(ServiceTable table) {
        Set<ServicePortName> out = new TreeSet<>();
        table.reader().forEach(new ServicePortView(), v -> out.add(v.servicePortName()));
        return out;
    }

    @Test
    void tableWritesAndDryRunPickTheSameWinnersInEveryInputOrder() throws Exception {
        Set<ServicePortName> expected = dryRunWinners(contested());
        assertEquals(Set.of("default/a", "default/c", "aa/y", "default/d"),
                expected.stream().map(ServicePortName::toString).collect(java.util.stream.Collectors.toSet()));
        Random random = new Random(17);
        for (int round = 0; round < 40; round++) {
            List<ServicePort> order = new ArrayList<>(contested());
            Collections.shuffle(order, random);
            assertEquals(expected, dryRunWinners(order), "dry run, order " + order);
            try (ServiceTable table = ServiceTable.create(dir.resolve("full-" + round), 16L << 20, 1_000, now::get)) {
                ServiceTable.SyncResult r = table.replaceAll(order);
                assertEquals(expected, tableContents(table), "replaceAll, order " + names(order));
                assertEquals(2, r.errors().size(), r.toString());
            }
            // The API path: one port per partial update, in the shuffled order.
            try (ServiceTable table = ServiceTable.create(dir.resolve("one-by-one-" + round), 16L << 20, 1_000, now::get)) {
                TableWriterSink sink = new TableWriterSink(table);
                for (ServicePort sp : order) {
                    sink.apply(new TableUpdate(false, List.of(sp), List.of(), List.of(), null));
                }
                assertEquals(expected, tableContents(table), "one by one, order " + names(order));
            }
        }
    }

    @Test
    void loserComesBackWhenTheWinnerIsDeleted() throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1_000, now::get)) {
            TableWriterSink sink = new TableWriterSink(table);
            ServicePort b = port("default", "b", "10.96.0.2", "192.0.2.1");
            ServicePort a = port("default", "a", "10.96.0.1", "192.0.2.1");
            sink.apply(new TableUpdate(false, List.of(b), List.of(), List.of(), null));
            ServiceTable.SyncResult r = sink.apply(new TableUpdate(false, List.of(a), List.of(), List.of(), null));
            assertEquals(1, r.errors().size(), r.toString());
            assertTrue(r.errors().get(0).startsWith("default/b: frontend 192.0.2.1:80/TCP already used by default/a"),
                    r.errors().toString());
            assertEquals(Set.of(a.name()), tableContents(table));
            assertEquals(1, table.displacedCount());

            sink.apply(new TableUpdate(false, List.of(), List.of(a.name()), List.of(), null));
            assertEquals(Set.of(b.name()), tableContents(table));
            assertEquals(0, table.displacedCount());
        }
    }

    @Test
    void laterNameIsRefusedAndTheHolderStays() throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1_000, now::get)) {
            ServicePort a = port("default", "a", "10.96.0.1", "192.0.2.1");
            ServicePort b = port("default", "b", "10.96.0.2", "192.0.2.1");
            table.put(a);
            var e = org.junit.jupiter.api.Assertions.assertThrows(FrontendConflictException.class, () -> table.put(b));
            String dryRun = ServicePortValidator.validate(List.of(a, b)).rejected().get(0).toString();
            assertTrue(dryRun.contains(e.getMessage()), "same reason both ways: " + e.getMessage() + " / " + dryRun);
            assertEquals(Set.of(a.name()), tableContents(table));
        }
    }

    @Test
    void fullSyncForgetsALoserThatIsNoLongerWanted() throws Exception {
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1_000, now::get)) {
            TableWriterSink sink = new TableWriterSink(table);
            ServicePort a = port("default", "a", "10.96.0.1", "192.0.2.1");
            ServicePort b = port("default", "b", "10.96.0.2", "192.0.2.1");
            sink.apply(new TableUpdate(true, List.of(a, b), List.of(), List.of(), null));
            assertEquals(1, table.displacedCount());
            sink.apply(new TableUpdate(true, List.of(), List.of(), List.of(), null));
            assertEquals(Set.of(), tableContents(table));
            assertEquals(0, table.displacedCount());
        }
    }

    private static List<String> names(List<ServicePort> ports) {
        return ports.stream().map(sp -> sp.name().toString()).toList();
    }
}
