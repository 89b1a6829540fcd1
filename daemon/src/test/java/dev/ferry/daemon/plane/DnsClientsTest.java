package dev.ferry.daemon.plane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.dns.DnsOptions;
import dev.ferry.model.Cidr;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Who the DNS responder answers by default and with --dns-allow-cidr. */
@Tag("unit")
class DnsClientsTest {

    @Test
    void theFlagReplacesTheDefaultButLoopbackStaysAllowed() throws Exception {
        List<Cidr> flag = List.of(Cidr.parse("10.0.0.0/8"));
        List<Cidr> expected = new ArrayList<>(DnsOptions.LOOPBACK);
        expected.addAll(flag);
        assertEquals(expected, DnsClients.allowed(flag, List.of(Cidr.parse("10.244.0.0/16")), null));
    }

    @Test
    void theDefaultIsLoopbackTheClusterCidrsAndTheNodesOwnAddresses() throws Exception {
        Cidr pods = Cidr.parse("10.244.0.0/16");
        List<Cidr> allowed = DnsClients.allowed(List.of(), List.of(pods), null);
        assertTrue(allowed.containsAll(DnsOptions.LOOPBACK), allowed.toString());
        assertTrue(allowed.contains(pods), allowed.toString());
        for (Cidr c : allowed) {
            if (c.equals(pods) || DnsOptions.LOOPBACK.contains(c)) continue;
            assertEquals(c.isIpv6() ? 128 : 32, c.prefixLength(), "a node address is a host prefix: " + c);
        }
    }
}
