package dev.ferry.table;

import static dev.ferry.table.TestServices.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class ServiceTableTest {
    @TempDir
    Path dir;
    private ServiceTable table;
    private final AtomicLong now = new AtomicLong(1_000_000);

    private ServiceTable open() throws Exception {
        table = ServiceTable.create(dir, 64L << 20, 1_000, now::get);
        return table;
    }

    @AfterEach
    void close() throws Exception {
        if (table != null) table.close();
    }

    @Test
    void aServicePortRoundTripsThroughTheTableUnchanged() throws Exception {
        open();
        ServicePort lb = loadBalancer();
        assertEquals(ServiceTable.Change.ADDED, table.put(lb));
        ServicePortView v = new ServicePortView();
        assertTrue(table.reader().lookup("prod", "web", "https", Protocol.TCP, v));
        assertEquals(lb, v.toServicePort());
        assertTrue(v.isValid());
    }

    @Test
    void everyFrontendKindFindsItsServicePort() throws Exception {
        open();
        table.put(loadBalancer());
        ServiceTableReader r = table.reader();
        ServicePortView v = new ServicePortView();
        assertTrue(r.lookup(Protocol.TCP, ip("10.96.0.10"), 443, v), "IPv4 cluster IP");
        assertEquals("web", v.name());
        assertTrue(r.lookup(Protocol.TCP, ip("fd00:10:96::a"), 443, v), "IPv6 cluster IP");
        assertTrue(r.lookup(Protocol.TCP, ip("192.0.2.7"), 443, v), "external IP");
        assertTrue(r.lookup(Protocol.TCP, ip("203.0.113.9"), 443, v), "LB IP");
        assertEquals(dev.ferry.model.FrontendKind.LOAD_BALANCER, v.frontendKind(v.matchedFrontend()));
        assertTrue(r.lookupNodePort(Protocol.TCP.ordinal(), 30443, v), "node port");
        assertEquals(dev.ferry.model.FrontendKind.NODE_PORT, v.frontendKind(v.matchedFrontend()));
        assertTrue(r.lookupIpv4(Protocol.TCP.ordinal(), AddressBits.ipv4(ip("10.96.0.10").getAddress()), 443, v));
        assertFalse(r.lookup(Protocol.UDP, ip("10.96.0.10"), 443, v), "other protocol");
        assertFalse(r.lookup(Protocol.TCP, ip("10.96.0.10"), 444, v), "other port");
        assertFalse(r.lookup(Protocol.TCP, ip("10.96.0.11"), 443, v), "other address");
        assertFalse(r.lookupNodePort(Protocol.TCP.ordinal(), 30444, v), "other node port");
    }

    @Test
    void sourceRangesAreCheckedWithoutObjects() throws Exception {
        open();
        table.put(loadBalancer());
        ServicePortView v = new ServicePortView();
        assertTrue(table.reader().lookup(Protocol.TCP, ip("203.0.113.9"), 443, v));
        assertTrue(v.sourceAllowed(4, 0, AddressBits.lo(ip("198.51.100.77"))));
        assertFalse(v.sourceAllowed(4, 0, AddressBits.lo(ip("198.51.101.1"))));
        assertTrue(v.sourceAllowed(6, AddressBits.hi(ip("2001:db8:1::1")), AddressBits.lo(ip("2001:db8:1::1"))));
        assertFalse(v.sourceAllowed(6, AddressBits.hi(ip("2001:db9::1")), AddressBits.lo(ip("2001:db9::1"))));
    }

    @Test
    void anIdenticalPutRewritesNothing() throws Exception {
        open();
        table.put(clusterIp(1, 3, 8080));
        long generation = table.generation();
        long used = table.bytesInUse();
        assertEquals(ServiceTable.Change.UNCHANGED, table.put(clusterIp(1, 3, 8080)));
        assertEquals(generation, table.generation());
        assertEquals(used, table.bytesInUse());
    }

    @Test
    void anUpdateReplacesEndpointsAndMovedFrontends() throws Exception {
        open();
        table.put(clusterIp(1, 3, 8080));
        ServicePort moved = clusterIp(2, 5, 9090);
        ServicePort renamed = new ServicePort(clusterIp(1, 0, 0).name(), moved.type(), false, "", moved.clusterIPs(), 80,
                "9090", 0, List.of(), List.of(), null, 0, null, null, List.of(), 0, "", false, "", false, moved.endpoints());
        assertEquals(ServiceTable.Change.UPDATED, table.put(renamed));
        ServicePortView v = new ServicePortView();
        ServiceTableReader r = table.reader();
        assertFalse(r.lookup(Protocol.TCP, ip(clusterIpOf(1)), 80, v), "old cluster IP no longer served");
        assertTrue(r.lookup(Protocol.TCP, ip(clusterIpOf(2)), 80, v));
        assertEquals(5, v.endpointCount());
        assertEquals(9090, v.endpointPort(4));
        assertEquals(1, r.servicePortCount());
        assertEquals(5, r.endpointCount());
    }

    @Test
    void removeUnlinksEveryFrontendAndTheName() throws Exception {
        open();
        table.put(loadBalancer());
        assertTrue(table.remove(loadBalancer().name()));
        assertFalse(table.remove(loadBalancer().name()));
        ServicePortView v = new ServicePortView();
        ServiceTableReader r = table.reader();
        assertFalse(r.lookup("prod", "web", "https", Protocol.TCP, v));
        assertFalse(r.lookup(Protocol.TCP, ip("203.0.113.9"), 443, v));
        assertFalse(r.lookupNodePort(Protocol.TCP.ordinal(), 30443, v));
        assertEquals(0, r.servicePortCount());
        assertEquals(0, r.endpointCount());
    }

    @Test
    void aSecondServiceClaimingAFrontendIsRefusedAndTheOwnerStays() throws Exception {
        open();
        table.put(clusterIp(1, 1, 8080));
        ServicePort thief = new ServicePort(new ServicePortName("other", "thief", "", Protocol.TCP),
                clusterIp(1, 0, 0).type(), false, "", clusterIp(1, 0, 0).clusterIPs(), 80, "", 0, List.of(), List.of(),
                null, 0, null, null, List.of(), 0, "", false, "", false, List.of());
        FrontendConflictException e = assertThrows(FrontendConflictException.class, () -> table.put(thief));
        assertTrue(e.getMessage().contains("ns1/svc-1:http"), e.getMessage());
        ServicePortView v = new ServicePortView();
        assertTrue(table.reader().lookup(Protocol.TCP, ip(clusterIpOf(1)), 80, v));
        assertEquals("svc-1", v.name());
        ServiceTable.SyncResult result = table.replaceAll(List.of(clusterIp(1, 1, 8080), thief, clusterIp(2, 1, 8080)));
        assertEquals(1, result.errors().size(), result.toString());
        assertEquals(1, result.added());
    }

    @Test
    void replaceAllAddsUpdatesAndRemovesOnlyWhatChanged() throws Exception {
        open();
        List<ServicePort> first = new ArrayList<>();
        for (int i = 0; i < 50; i++) first.add(clusterIp(i, 2, 8080));
        ServiceTable.SyncResult r1 = table.replaceAll(first);
        assertEquals(50, r1.added());
        List<ServicePort> second = new ArrayList<>(first.subList(10, 50));
        second.set(0, clusterIp(10, 3, 8080));
        second.add(clusterIp(99, 1, 8080));
        long gen = table.generation();
        ServiceTable.SyncResult r2 = table.replaceAll(second);
        assertEquals(new ServiceTable.SyncResult(1, 1, 10, 39, List.of()), r2);
        assertEquals(gen + 1, table.generation(), "one batch publishes one generation");
        Set<String> names = new HashSet<>();
        table.reader().forEach(new ServicePortView(), v -> names.add(v.name()));
        assertEquals(41, names.size());
        assertFalse(names.contains("svc-0"));
        assertTrue(names.contains("svc-99"));
    }

    @Test
    void theIndexGrowsPastItsInitialSizeAndKeepsEveryEntry() throws Exception {
        open();
        for (int i = 0; i < 5_000; i++) table.put(clusterIp(i, 1, 8080));
        for (int i = 0; i < 5_000; i += 2) table.remove(clusterIp(i, 0, 0).name());
        ServicePortView v = new ServicePortView();
        ServiceTableReader r = table.reader();
        for (int i = 0; i < 5_000; i++) {
            assertEquals(i % 2 == 1, r.lookup(Protocol.TCP, ip(clusterIpOf(i)), 80, v), "service " + i);
            if (i % 2 == 1) assertEquals("svc-" + i, v.name());
        }
        assertEquals(2_500, r.servicePortCount());
    }

    @Test
    void freedBlocksAreReusedOnlyAfterTheGracePeriod() throws Exception {
        open();
        table.put(clusterIp(1, 4, 8080));
        long used = table.bytesInUse();
        table.put(clusterIp(1, 4, 8081)); // frees the first record into limbo
        table.put(clusterIp(1, 4, 8082)); // grace not over: needs fresh space
        assertTrue(table.bytesInUse() > used);
        long afterTwo = table.bytesInUse();
        now.addAndGet(1_001);
        table.put(clusterIp(1, 4, 8083)); // reuses a block from limbo
        assertEquals(afterTwo, table.bytesInUse());
    }

    @Test
    void aFullTableIsAClearErrorAndKeepsWhatItHas() throws Exception {
        table = ServiceTable.create(dir, 512 * 1024, 1_000, now::get);
        ServicePort big = clusterIp(1, 10_000, 8080);
        TableFullException e = assertThrows(TableFullException.class, () -> table.put(big));
        assertTrue(e.getMessage().contains("--table-size"), e.getMessage());
        table.put(clusterIp(2, 1, 8080));
        assertTrue(table.reader().lookup(Protocol.TCP, ip(clusterIpOf(2)), 80, new ServicePortView()));
    }

    @Test
    void aSecondWriterOnTheSameStateDirectoryIsRefused() throws Exception {
        open();
        var e = assertThrows(java.io.IOException.class, () -> ServiceTable.create(dir, 64L << 20, 1_000, now::get));
        assertTrue(e.getMessage().contains("owns the state directory"), e.getMessage());
        assertNotNull(table.reader().status());
    }

    @Test
    void aReaderInThisProcessSeesTheTableLiveAndAClosedTableStale() throws Exception {
        open();
        table.put(clusterIp(1, 1, 8080));
        try (ServiceTableReader r = ServiceTableReader.open(dir)) {
            assertTrue(r.status().live());
            assertEquals(1, r.status().servicePorts());
            table.close();
            TableStatus s = r.status();
            assertFalse(s.live());
            assertTrue(s.closedCleanly());
            assertTrue(s.describe(now.get()).startsWith("STALE"));
            table = null;
        }
    }

    @Test
    void aTruncatedOrForeignFileIsReportedNotMapped() throws Exception {
        Path f = dir.resolve("services.tbl");
        Files.write(f, new byte[100]);
        var e1 = assertThrows(TableFormatException.class, () -> ServiceTableReader.open(dir));
        assertTrue(e1.getMessage().contains("truncated"), e1.getMessage());
        Files.write(f, new byte[8192]);
        var e2 = assertThrows(TableFormatException.class, () -> ServiceTableReader.open(dir));
        assertTrue(e2.getMessage().contains("not a Ferry service table"), e2.getMessage());
        Files.delete(f);
        var e3 = assertThrows(TableFormatException.class, () -> ServiceTableReader.open(dir));
        assertTrue(e3.getMessage().contains("is a Ferry daemon running"), e3.getMessage());
    }

    @Test
    void aNameLookupWithNonAsciiCharactersDoesNotMatchAnAsciiName() throws Exception {
        open();
        table.put(clusterIp(1, 1, 8080));
        assertFalse(table.reader().lookup("ns1", "svc-é", "http", Protocol.TCP, new ServicePortView()));
        assertTrue(table.reader().lookup("ns1", new StringBuilder("svc-1"), "http", Protocol.TCP, new ServicePortView()));
        assertEquals(new ServicePortName("ns1", "svc-1", "http", Protocol.TCP), clusterIp(1, 0, 0).name());
    }
}
