package dev.ferry.dns;

import static dev.ferry.dns.TestZone.endpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Protocol;
import dev.ferry.table.ServiceTable;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every record type and rule of the cluster zone, asked with the real dig over UDP and TCP. */
class DnsServerTest {
    static Path dir;
    static ServiceTable table;
    static DnsServer server;
    static int port;

    @BeforeAll
    static void start() throws Exception {
        Dig.requireDig();
        dir = Files.createTempDirectory("ferry-dns-test");
        table = ServiceTable.create(dir, 64L << 20, 2_000, System::currentTimeMillis);
        List<String> dual = List.of("10.96.0.10", "fd00::10");
        List<dev.ferry.model.Endpoint> webEps = List.of(endpoint("10.244.0.1", 8080, true, ""),
                endpoint("10.244.0.2", 8080, true, ""));
        table.put(TestZone.clusterIp("default", "web", "http", Protocol.TCP, 80, dual, webEps));
        table.put(TestZone.clusterIp("default", "web", "dns", Protocol.UDP, 53, dual, webEps));
        table.put(TestZone.clusterIp("default", "api", "", Protocol.TCP, 443, List.of("10.96.0.11"),
                List.of(endpoint("10.244.0.3", 8443, true, ""))));
        List<dev.ferry.model.Endpoint> dbEps = List.of(endpoint("10.244.1.1", 5432, true, "db-0"),
                endpoint("10.244.1.2", 5432, true, ""), endpoint("10.244.1.3", 5432, false, "db-2"),
                endpoint("fd00::1:1", 5432, true, "db-6"));
        table.put(TestZone.headless("default", "db", "pg", Protocol.TCP, 5432, false, dbEps));
        table.put(TestZone.headless("default", "pub", "", Protocol.TCP, 0, true,
                List.of(endpoint("10.244.2.1", 80, true, ""), endpoint("10.244.2.2", 80, false, ""))));
        table.put(TestZone.headless("default", "empty", "", Protocol.TCP, 0, false, List.of()));
        table.put(TestZone.externalName("default", "ext", "example.org"));
        table.put(TestZone.bigHeadless("other", "big", 1000));
        server = new DnsServer(table.reader(), DnsOptions.of(new InetSocketAddress("127.0.0.1", 0)));
        server.start();
        port = server.udpAddress().getPort();
        assertEquals(port, server.tcpAddress().getPort(), "UDP and TCP share the port");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (table != null) table.close();
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static Dig.Result dig(String name, String type, String... options) {
        return Dig.query(port, name, type, options);
    }

    @Test
    void clusterIpServiceAnswersAWithItsClusterIpAuthoritativelyWithTheConfiguredTtl() {
        Dig.Result r = dig("web.default.svc.cluster.local", "A");
        assertEquals("NOERROR", r.status(), r.raw());
        assertTrue(r.hasFlag("aa"), r.raw());
        assertEquals(List.of("10.96.0.10"), r.answers("A"), r.raw());
        assertEquals("5", r.answer().get(0)[1], "TTL 5 s by default\n" + r.raw());
    }

    @Test
    void dualStackServiceAnswersAaaaWithItsIpv6ClusterIp() {
        Dig.Result r = dig("web.default.svc.cluster.local", "AAAA");
        assertEquals(List.of("fd00::10"), r.answers("AAAA"), r.raw());
    }

    @Test
    void aaaaForAnIpv4OnlyServiceIsNodataWithTheSoa() {
        Dig.Result r = dig("api.default.svc.cluster.local", "AAAA");
        assertEquals("NOERROR", r.status(), r.raw());
        assertEquals(0, r.answerCount(), r.raw());
        assertEquals("SOA", r.authority().get(0)[3], r.raw());
        assertEquals("cluster.local.", r.authority().get(0)[0], r.raw());
    }

    @Test
    void unknownServiceIsNxdomainWithTheSoa() {
        Dig.Result r = dig("nope.default.svc.cluster.local", "A");
        assertEquals("NXDOMAIN", r.status(), r.raw());
        assertTrue(r.hasFlag("aa"), r.raw());
        assertEquals("SOA", r.authority().get(0)[3], r.raw());
    }

    @Test
    void namesAboveAServiceExistAsEmptyNonTerminals() {
        assertEquals("NOERROR", dig("default.svc.cluster.local", "A").status());
        assertEquals("NOERROR", dig("svc.cluster.local", "A").status());
        assertEquals("NXDOMAIN", dig("nosuchns.svc.cluster.local", "A").status());
        assertEquals("NXDOMAIN", dig("web.default.pod.cluster.local", "A").status());
        assertEquals("NXDOMAIN", dig("a.b.c.d.e.f.svc.cluster.local", "A").status());
    }

    @Test
    void namesMatchCaseInsensitively() {
        Dig.Result r = dig("WEB.Default.SVC.Cluster.Local", "A");
        assertEquals(List.of("10.96.0.10"), r.answers("A"), r.raw());
    }

    @Test
    void headlessServiceAnswersItsReadyEndpointsOnly() {
        Dig.Result r = dig("db.default.svc.cluster.local", "A");
        assertEquals(List.of("10.244.1.1", "10.244.1.2"), r.answers("A").stream().sorted().toList(), r.raw());
        assertEquals(List.of("fd00::1:1"), dig("db.default.svc.cluster.local", "AAAA").answers("AAAA"));
    }

    @Test
    void headlessServicePublishingNotReadyAddressesAnswersThemToo() {
        Dig.Result r = dig("pub.default.svc.cluster.local", "A");
        assertEquals(List.of("10.244.2.1", "10.244.2.2"), r.answers("A").stream().sorted().toList(), r.raw());
    }

    @Test
    void headlessServiceWithoutEndpointsIsNodata() {
        Dig.Result r = dig("empty.default.svc.cluster.local", "A");
        assertEquals("NOERROR", r.status(), r.raw());
        assertEquals(0, r.answerCount(), r.raw());
    }

    @Test
    void externalNameServiceIsACnameToItsExternalName() {
        Dig.Result r = dig("ext.default.svc.cluster.local", "A");
        assertEquals("NOERROR", r.status(), r.raw());
        assertEquals(List.of("example.org."), r.answers("CNAME"), r.raw());
        assertEquals(List.of("example.org."), dig("ext.default.svc.cluster.local", "CNAME").answers("CNAME"));
    }

    @Test
    void srvForANamedPortOfAClusterIpServicePointsAtTheServiceName() {
        Dig.Result r = dig("_http._tcp.web.default.svc.cluster.local", "SRV");
        assertEquals(List.of("0 100 80 web.default.svc.cluster.local."), r.answers("SRV"), r.raw());
        assertTrue(r.additional().stream().anyMatch(a -> a[4].equals("10.96.0.10")), r.raw());
        assertEquals(List.of("0 100 53 web.default.svc.cluster.local."),
                dig("_dns._udp.web.default.svc.cluster.local", "SRV").answers("SRV"));
    }

    @Test
    void srvForAHeadlessServiceHasOneRecordPerReadyEndpointNamedByHostnameOrAddress() {
        Dig.Result r = dig("_pg._tcp.db.default.svc.cluster.local", "SRV");
        assertEquals(List.of("0 33 5432 10-244-1-2.db.default.svc.cluster.local.",
                        "0 33 5432 db-0.db.default.svc.cluster.local.", "0 33 5432 db-6.db.default.svc.cluster.local."),
                r.answers("SRV").stream().sorted().toList(), r.raw());
    }

    @Test
    void srvForAnUnknownPortOrProtocolIsNxdomainAndTheProtocolLevelIsAnEmptyNonTerminal() {
        assertEquals("NXDOMAIN", dig("_nope._tcp.web.default.svc.cluster.local", "SRV").status());
        assertEquals("NXDOMAIN", dig("_http._udp.web.default.svc.cluster.local", "SRV").status());
        Dig.Result ent = dig("_tcp.web.default.svc.cluster.local", "SRV");
        assertEquals("NOERROR", ent.status(), ent.raw());
        assertEquals(0, ent.answerCount());
        Dig.Result nodata = dig("_http._tcp.web.default.svc.cluster.local", "A");
        assertEquals("NOERROR", nodata.status(), nodata.raw());
        assertEquals(0, nodata.answerCount());
    }

    @Test
    void endpointHostnamesAndAddressNamesOfAHeadlessServiceResolve() {
        assertEquals(List.of("10.244.1.1"), dig("db-0.db.default.svc.cluster.local", "A").answers("A"));
        assertEquals(List.of("10.244.1.2"), dig("10-244-1-2.db.default.svc.cluster.local", "A").answers("A"));
        Dig.Result v6 = dig("db-6.db.default.svc.cluster.local", "A");
        assertEquals("NOERROR", v6.status(), "an IPv6-only endpoint name exists: NODATA for A\n" + v6.raw());
        assertEquals(0, v6.answerCount());
        assertEquals("NXDOMAIN", dig("db-2.db.default.svc.cluster.local", "A").status(), "not ready: not published");
        assertEquals("NXDOMAIN", dig("db-9.db.default.svc.cluster.local", "A").status());
    }

    @Test
    void ptrAnswersForClusterIpsAndHeadlessEndpoints() {
        assertEquals(List.of("web.default.svc.cluster.local."), dig("-x", "10.96.0.10").answers("PTR"));
        assertEquals(List.of("web.default.svc.cluster.local."), dig("-x", "fd00::10").answers("PTR"));
        assertEquals(List.of("db-0.db.default.svc.cluster.local."), dig("-x", "10.244.1.1").answers("PTR"));
        assertEquals(List.of("10-244-1-2.db.default.svc.cluster.local."), dig("-x", "10.244.1.2").answers("PTR"));
        Dig.Result unknown = dig("-x", "192.0.2.1");
        assertEquals("REFUSED", unknown.status(), "an address the table does not know is out of zone\n" + unknown.raw());
    }

    @Test
    void ptrNamesOnlyPublishedHeadlessEndpointsAndEveryServiceSharingAnAddress() {
        assertEquals("REFUSED", dig("-x", "10.244.1.3").status(), "db-2 is not ready and db does not publish it");
        assertEquals(List.of("10-244-2-2.pub.default.svc.cluster.local."), dig("-x", "10.244.2.2").answers("PTR"),
                "pub publishes not-ready addresses");
        assertEquals(List.of("db-6.db.default.svc.cluster.local."), dig("-x", "fd00::1:1").answers("PTR"));
        assertEquals(List.of("10-100-3-231.big.other.svc.cluster.local."), dig("-x", "10.100.3.231").answers("PTR"),
                "endpoint 999 of the 1000-endpoint headless service");
    }

    @Test
    void ptrFollowsTableChangesOnTheNextQuery() {
        dev.ferry.model.ServicePortName late = new dev.ferry.model.ServicePortName("default", "ptr-late", "", Protocol.TCP);
        assertEquals("REFUSED", dig("-x", "10.96.0.77").status());
        table.put(TestZone.clusterIp("default", "ptr-late", "", Protocol.TCP, 80, List.of("10.96.0.77"), List.of()));
        assertEquals(List.of("ptr-late.default.svc.cluster.local."), dig("-x", "10.96.0.77").answers("PTR"));
        table.put(TestZone.clusterIp("default", "ptr-late", "", Protocol.TCP, 80, List.of("10.96.0.78"), List.of()));
        assertEquals("REFUSED", dig("-x", "10.96.0.77").status(), "the old ClusterIP no longer names the service");
        assertEquals(List.of("ptr-late.default.svc.cluster.local."), dig("-x", "10.96.0.78").answers("PTR"));
        table.remove(late);
        assertEquals("REFUSED", dig("-x", "10.96.0.78").status());
    }

    @Test
    void dnsVersionTxtRecordNamesTheSpecificationVersion() {
        Dig.Result r = dig("dns-version.cluster.local", "TXT");
        assertEquals(List.of("\"1.1.0\""), r.answers("TXT"), r.raw());
    }

    @Test
    void zoneApexAnswersItsSoa() {
        Dig.Result r = dig("cluster.local", "SOA");
        assertEquals(1, r.answerCount(), r.raw());
        assertEquals("ns.dns.cluster.local.", r.answer().get(0)[4], r.raw());
    }

    @Test
    void namesOutsideTheZoneAreRefusedWithoutUpstreams() {
        Dig.Result r = dig("example.org", "A");
        assertEquals("REFUSED", r.status(), r.raw());
        assertFalse(r.hasFlag("ra"), r.raw());
    }

    @Test
    void aWrongClassIsFormerr() {
        assertEquals("FORMERR", dig("web.default.svc.cluster.local", "A", "-c", "CH").status());
    }

    @Test
    void theSameAnswersComeOverTcp() {
        Dig.Result r = dig("web.default.svc.cluster.local", "A", "+tcp");
        assertEquals(List.of("10.96.0.10"), r.answers("A"), r.raw());
    }

    @Test
    void aThousandEndpointHeadlessServiceTruncatesOverUdpAndAnswersInFullOverTcp() {
        Dig.Result udp = dig("big.other.svc.cluster.local", "A", "+notcp", "+ignore", "+noedns");
        assertTrue(udp.hasFlag("tc"), "TC over UDP at 512 bytes\n" + udp.raw());
        assertEquals(0, udp.answerCount());
        Dig.Result edns = dig("big.other.svc.cluster.local", "A", "+notcp", "+ignore", "+bufsize=4096");
        assertTrue(edns.hasFlag("tc"), "TC over UDP at an EDNS0 size of 4096\n" + edns.raw());
        Dig.Result tcp = dig("big.other.svc.cluster.local", "A", "+tcp");
        assertFalse(tcp.hasFlag("tc"), tcp.raw());
        assertEquals(1000, tcp.answerCount(), "every endpoint over TCP");
        assertEquals(1000, tcp.answers("A").stream().distinct().count());
        Dig.Result retried = dig("big.other.svc.cluster.local", "A");
        assertEquals(1000, retried.answerCount(), "dig retries over TCP on TC by itself");
    }

    @Test
    void aSmallAnswerFitsInAnEdnsResponseWithAnOptRecord() {
        Dig.Result r = dig("db.default.svc.cluster.local", "A", "+bufsize=1232");
        assertTrue(r.raw().contains("EDNS: version: 0"), r.raw());
        assertFalse(r.hasFlag("tc"));
    }

    @Test
    void aTableChangeIsVisibleInDnsOnTheNextQuery() {
        assertEquals("NXDOMAIN", dig("late.default.svc.cluster.local", "A").status());
        table.put(TestZone.clusterIp("default", "late", "", Protocol.TCP, 80, List.of("10.96.0.99"), List.of()));
        assertEquals(List.of("10.96.0.99"), dig("late.default.svc.cluster.local", "A").answers("A"));
        table.put(TestZone.clusterIp("default", "late", "", Protocol.TCP, 80, List.of("10.96.0.98"), List.of()));
        assertEquals(List.of("10.96.0.98"), dig("late.default.svc.cluster.local", "A").answers("A"));
        table.remove(new dev.ferry.model.ServicePortName("default", "late", "", Protocol.TCP));
        assertEquals("NXDOMAIN", dig("late.default.svc.cluster.local", "A").status());
    }
}
