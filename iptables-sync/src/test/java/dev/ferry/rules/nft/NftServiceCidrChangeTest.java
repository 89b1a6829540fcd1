package dev.ferry.rules.nft;

import static dev.ferry.rules.nft.Services.svc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.SyncReport;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Service ranges offered at run time (the cluster's ServiceCIDR objects) reach the drop of
 * unallocated ClusterIPs at the next sync, which is full even when asked for a partial one. No
 * kernel: the tool swallows the payload and succeeds.
 */
@Tag("unit")
class NftServiceCidrChangeTest {
    private static final KernelTool ACCEPT_ALL = new KernelTool(List.of("sh", "-c", "cat >/dev/null", "sh"), Duration.ofSeconds(30));

    private static final List<ServicePort> PORTS = List.of(svc("default", "web", "10.96.0.10", 80).ep("10.244.1.1", 8080).build());

    private static String dropRules(NftPayload p) {
        StringBuilder sb = new StringBuilder();
        for (String line : p.text().split("\n")) {
            if (line.contains("cluster-ips-check") && line.contains(" drop")) {
                sb.append(line.strip()).append('\n');
            }
        }
        return sb.toString();
    }

    @Test
    void offeredRangesAreRenderedByTheNextSyncAsAFullOne() throws Exception {
        NftSyncer s = new NftSyncer(NftRendererGoldenTest.options().withServiceCidrs(List.of(Cidr.parse("10.96.0.0/16"))),
                ACCEPT_ALL);
        s.sync(PORTS, true);
        assertEquals("add rule ip ferry cluster-ips-check ip daddr 10.96.0.0/16 drop comment \"drop traffic to unallocated ClusterIPs\"\n",
                dropRules(s.lastPayload()));

        s.serviceCidrs(List.of(Cidr.parse("10.96.0.0/16"), Cidr.parse("10.100.0.0/24"), Cidr.parse("fd00:10:96::/112")));
        SyncReport r = s.sync(PORTS, false);
        assertTrue(r.full(), "the drop lives in the base chains: a full payload");
        assertEquals("add rule ip ferry cluster-ips-check ip daddr { 10.96.0.0/16, 10.100.0.0/24 } drop comment \"drop traffic to unallocated ClusterIPs\"\n"
                + "add rule ip6 ferry cluster-ips-check ip6 daddr fd00:10:96::/112 drop comment \"drop traffic to unallocated ClusterIPs\"\n",
                dropRules(s.lastPayload()));

        s.serviceCidrs(List.of());
        // a full payload rewrites cluster-ips-check (flushing it where the kernel lists it), now without the drop
        assertTrue(s.sync(PORTS, false).full());
        assertEquals("", dropRules(s.lastPayload()), "no ranges, no drop");
        assertTrue(s.lastPayload().text().contains("add rule ip ferry cluster-ips-check ip daddr @cluster-ips reject"),
                s.lastPayload().text());

        s.serviceCidrs(List.of());
        assertFalse(s.sync(PORTS, false).full(), "the same ranges again change nothing");
    }
}
