package dev.ferry.daemon.plane;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The node's addresses never include the service interface's: those are Ferry's own service
 * addresses (a restart finds the previous run's still there). Reads this machine's interfaces only.
 */
@Tag("unit")
class NodeAddressesTest {
    @Test
    void loopbackIsANodeAddressUnlessItIsTheServiceInterface() throws Exception {
        List<Cidr> loopback = List.of(Cidr.parse("127.0.0.0/8"));
        assertEquals(List.of(IpAddresses.parse("127.0.0.1")), NodeAddresses.matching(loopback, null));
        assertEquals(List.of(IpAddresses.parse("127.0.0.1")), NodeAddresses.matching(loopback, "ferry0"));
        assertEquals(List.of(), NodeAddresses.matching(loopback, "lo"),
                "the addresses of the interface named as the service interface are not the node's");
    }

    @Test
    void withoutCidrsEveryAddressOfAnInterfaceThatIsUpCounts() throws Exception {
        List<java.net.InetAddress> all = NodeAddresses.matching(List.of(), null);
        assertTrue(all.contains(IpAddresses.parse("127.0.0.1")), all.toString());
        assertTrue(all.stream().noneMatch(a -> a instanceof java.net.Inet6Address v6 && v6.isLinkLocalAddress()), all.toString());
    }
}
