package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Options and command-line addresses: good ones parse, bad ones fail naming the option. */
@Tag("unit")
class DnsOptionsTest {

    @Test
    void defaultsFollowTheIssue() {
        DnsOptions o = DnsOptions.of(new InetSocketAddress("127.0.0.1", 53));
        assertEquals("cluster.local", o.clusterDomain());
        assertEquals(5, o.ttlSeconds());
        assertTrue(o.upstreams().isEmpty(), "no upstreams: out-of-zone names are refused");
        assertEquals(DnsOptions.LOOPBACK, o.allowedClients(), "clients on loopback only unless told otherwise");
        assertEquals(2_000, o.clientQueriesPerSecond());
        assertEquals(512, o.maxPendingForwards(), "one socket per forwarded question: bounded");
    }

    @Test
    void aNegativeClientRateIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DnsOptions.of(new InetSocketAddress("127.0.0.1", 53)).withClientQueriesPerSecond(-1));
        assertTrue(e.getMessage().contains("dns client rate"), e.getMessage());
    }

    @Test
    void ipv4AndBracketedIpv6AddressesParse() {
        assertEquals(new InetSocketAddress("169.254.20.10", 53), DnsOptions.parseAddress("--dns-bind", "169.254.20.10:53"));
        assertEquals(new InetSocketAddress("::1", 5353), DnsOptions.parseAddress("--dns-bind", "[::1]:5353"));
    }

    @Test
    void badAddressesFailNamingTheOptionAndTheValue() {
        for (String bad : List.of("", "53", "localhost:53", "1.2.3.4:", "1.2.3.4:99999", "::1:53", "1.2.3.4:x",
                "999.1.1.1:53")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DnsOptions.parseAddress("--dns-upstream", bad), bad);
            assertTrue(e.getMessage().startsWith("--dns-upstream: "), e.getMessage());
        }
    }

    @Test
    void aClusterDomainThatIsNotADnsNameIsRejected() {
        DnsOptions o = DnsOptions.of(new InetSocketAddress("127.0.0.1", 53));
        assertEquals("example.com", o.withClusterDomain("Example.COM.").clusterDomain());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> o.withClusterDomain("a..b"));
        assertTrue(e.getMessage().contains("cluster domain"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> o.withClusterDomain("under_score.local"));
    }

    @Test
    void anUpstreamThatIsTheBindAddressIsALoopAndRejected() {
        InetSocketAddress self = new InetSocketAddress("127.0.0.1", 5353);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DnsOptions.of(self).withUpstreams(List.of(self)));
        assertTrue(e.getMessage().contains("loop"), e.getMessage());
    }

    @Test
    void aNegativeTtlIsRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> DnsOptions.of(new InetSocketAddress("127.0.0.1", 53)).withTtlSeconds(-1));
    }
}
