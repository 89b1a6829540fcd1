package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Names outside the cluster zone go to the upstream, here a second Ferry responder on 127.0.0.1
 * authoritative for "upstream.test", started by the test.
 */
class ForwardingTest {
    Path upstreamDir, dir;
    ServiceTable upstreamTable, table;
    DnsServer upstream, server;

    @BeforeEach
    void start() throws Exception {
        Dig.requireDig();
        upstreamDir = Files.createTempDirectory("ferry-dns-upstream");
        upstreamTable = ServiceTable.create(upstreamDir, 16L << 20, 2_000, System::currentTimeMillis);
        for (int i = 0; i < 4; i++) {
            upstreamTable.put(TestZone.clusterIp("far", "svc" + i, "", Protocol.TCP, 80, List.of("10.97.0." + (i + 1)),
                    List.of()));
        }
        upstream = new DnsServer(upstreamTable.reader(),
                DnsOptions.of(new InetSocketAddress("127.0.0.1", 0)).withClusterDomain("upstream.test"));
        upstream.start();
        dir = Files.createTempDirectory("ferry-dns-forward");
        table = ServiceTable.create(dir, 16L << 20, 2_000, System::currentTimeMillis);
        table.put(TestZone.clusterIp("default", "web", "", Protocol.TCP, 80, List.of("10.96.0.10"), List.of()));
        server = new DnsServer(table.reader(), DnsOptions.of(new InetSocketAddress("127.0.0.1", 0))
                .withUpstreams(List.of(upstream.udpAddress())).withCache(2, 300).withUpstreamTimeoutMillis(300));
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
    void aNameOutsideTheZoneIsAnsweredByTheUpstreamWithRecursionAvailable() {
        Dig.Result r = dig("svc0.far.svc.upstream.test", "A");
        assertEquals("NOERROR", r.status(), r.raw());
        assertEquals(List.of("10.97.0.1"), r.answers("A"), r.raw());
        assertTrue(r.hasFlag("ra"), r.raw());
        assertEquals(List.of("10.96.0.10"), dig("web.default.svc.cluster.local", "A").answers("A"),
                "the cluster zone is still answered locally");
    }

    @Test
    void anUpstreamNxdomainIsRelayedWithItsSoa() {
        Dig.Result r = dig("nope.far.svc.upstream.test", "A");
        assertEquals("NXDOMAIN", r.status(), r.raw());
        assertEquals("upstream.test.", r.authority().get(0)[0], r.raw());
    }

    @Test
    void aRepeatedQuestionIsAnsweredFromTheCacheWithoutAskingTheUpstreamAgain() {
        dig("svc1.far.svc.upstream.test", "A");
        long asked = upstream.counters().queries();
        Dig.Result again = dig("SVC1.far.svc.upstream.test", "A");
        assertEquals(List.of("10.97.0.2"), again.answers("A"), again.raw());
        assertEquals(asked, upstream.counters().queries(), "cache hit: the upstream was not asked again");
    }

    @Test
    void theCacheIsBoundedToItsConfiguredEntries() {
        for (int i = 0; i < 4; i++) {
            assertEquals(1, dig("svc" + i + ".far.svc.upstream.test", "A").answerCount());
        }
        assertEquals(2, server.cachedAnswers(), "LRU bound of 2 entries");
    }

    @Test
    void aDeadUpstreamGivesServfailAfterTheTimeoutWhileCachedAnswersStillServe() {
        dig("svc3.far.svc.upstream.test", "A");
        upstream.close();
        assertEquals(List.of("10.97.0.4"), dig("svc3.far.svc.upstream.test", "A").answers("A"));
        Dig.Result dead = dig("svc0.far.svc.upstream.test", "A");
        assertEquals("SERVFAIL", dead.status(), dead.raw());
    }

    @Test
    void forwardingWorksOverTcpToo() {
        Dig.Result r = dig("svc2.far.svc.upstream.test", "A", "+tcp");
        assertEquals(List.of("10.97.0.3"), r.answers("A"), r.raw());
    }
}
