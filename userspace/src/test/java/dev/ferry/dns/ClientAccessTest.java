package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.Protocol;
import dev.ferry.table.ServiceTable;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who the responder answers and how much: only clients inside the allowed CIDRs, and forwarded
 * answers never larger than the client's UDP payload size. The upstream is a second Ferry
 * responder on loopback with a headless service of 60 endpoints (an answer of ~1 KB).
 */
class ClientAccessTest {
    Path upstreamDir, dir;
    ServiceTable upstreamTable, table;
    DnsServer upstream, server;

    @BeforeEach
    void start() throws Exception {
        Dig.requireDig();
        upstreamDir = Files.createTempDirectory("ferry-dns-upstream");
        upstreamTable = ServiceTable.create(upstreamDir, 16L << 20, 2_000, System::currentTimeMillis);
        upstreamTable.put(TestZone.bigHeadless("far", "many", 60));
        upstreamTable.put(TestZone.clusterIp("far", "one", "", Protocol.TCP, 80, List.of("10.97.0.1"), List.of()));
        upstream = new DnsServer(upstreamTable.reader(),
                DnsOptions.of(new InetSocketAddress("127.0.0.1", 0)).withClusterDomain("upstream.test"));
        upstream.start();
        dir = Files.createTempDirectory("ferry-dns-clients");
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
        table.put(TestZone.clusterIp("default", "web", "", Protocol.TCP, 80, List.of("10.96.0.10"), List.of()));
        // 127.0.0.2 is a loopback source like 127.0.0.1, but outside the allowed prefix.
        server = new DnsServer(table.reader(), DnsOptions.of(new InetSocketAddress("127.0.0.1", 0))
                .withUpstreams(List.of(upstream.udpAddress())).withAllowedClients(List.of(Cidr.parse("127.0.0.1/32"))));
        server.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {server, upstream, table, upstreamTable}) {
            if (c != null) c.close();
        }
        for (Path d : new Path[] {dir, upstreamDir}) {
            if (d == null) continue;
            try (Stream<Path> s = Files.walk(d)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    Dig.Result dig(String name, String type, String... options) {
        return Dig.query(server.udpAddress().getPort(), name, type, options);
    }

    @Test
    void aClientOutsideTheAllowedCidrsIsRefusedForTheZoneAndForForwardedNamesAndTheUpstreamIsNotAsked() {
        long asked = upstream.counters().queries();
        Dig.Result zone = dig("web.default.svc.cluster.local", "A", "-b", "127.0.0.2");
        assertEquals("REFUSED", zone.status(), zone.raw());
        assertEquals(0, zone.answerCount(), zone.raw());
        Dig.Result forwarded = dig("one.far.svc.upstream.test", "A", "-b", "127.0.0.2");
        assertEquals("REFUSED", forwarded.status(), forwarded.raw());
        assertEquals(asked, upstream.counters().queries(), "nothing forwarded for a refused client");
        assertEquals(2, server.counters().refusedClients());
        Dig.Result allowed = dig("web.default.svc.cluster.local", "A", "-b", "127.0.0.1");
        assertEquals(List.of("10.96.0.10"), allowed.answers("A"), allowed.raw());
    }

    @Test
    void aClientOutsideTheAllowedCidrsCannotQueryOverTcpEither() {
        String out = Dig.output(List.of("dig", "@127.0.0.1", "-p", Integer.toString(server.tcpAddress().getPort()),
                "-b", "127.0.0.2", "web.default.svc.cluster.local", "A", "+tcp", "+tries=1", "+time=3", "+nostats"));
        assertFalse(out.contains("ANSWER SECTION") || out.contains("status: NOERROR"), out);
        assertTrue(server.counters().refusedClients() >= 1, "the connection was counted as refused\n" + out);
        Dig.Result allowed = dig("web.default.svc.cluster.local", "A", "+tcp");
        assertEquals(List.of("10.96.0.10"), allowed.answers("A"), allowed.raw());
    }

    @Test
    void aForwardedAnswerLargerThanAClientWithoutEdnsCanTakeIsTruncatedTo512Bytes() {
        Dig.Result full = dig("many.far.svc.upstream.test", "A");
        assertEquals(60, full.answerCount(), "EDNS0 client (1232 bytes): the whole answer\n" + full.raw());
        Dig.Result small = dig("many.far.svc.upstream.test", "A", "+noedns", "+ignore");
        assertTrue(small.hasFlag("tc"), small.raw());
        assertEquals(0, small.answerCount(), small.raw());
        Dig.Result bufsize = dig("many.far.svc.upstream.test", "A", "+bufsize=700", "+ignore");
        assertTrue(bufsize.hasFlag("tc"), "the client's advertised 700 bytes are its limit\n" + bufsize.raw());
    }

    @Test
    void aClientWithoutEdnsGetsNoOptRecordInAForwardedAnswer() {
        Dig.Result r = dig("one.far.svc.upstream.test", "A", "+noedns");
        assertEquals(List.of("10.97.0.1"), r.answers("A"), r.raw());
        assertFalse(r.raw().contains("OPT PSEUDOSECTION"), "RFC 6891: no OPT in reply to a query without one\n" + r.raw());
        Dig.Result cached = dig("one.far.svc.upstream.test", "A", "+noedns");
        assertFalse(cached.raw().contains("OPT PSEUDOSECTION"), "nor from the cache\n" + cached.raw());
        Dig.Result edns = dig("one.far.svc.upstream.test", "A");
        assertTrue(edns.raw().contains("OPT PSEUDOSECTION"), "an EDNS0 client keeps it\n" + edns.raw());
    }
}
